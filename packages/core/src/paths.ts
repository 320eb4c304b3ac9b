import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { DataNotFoundError } from "./errors.js";

/**
 * The one configurable location of shared data and models: `$KVWALK_SHARED`, else the first
 * `shared/` folder found beside the current directory or one of its parents (a checkout's `../shared`).
 * Returns undefined when none exists; `requireShared` throws instead.
 */
export function findSharedDir(start: string = process.cwd()): string | undefined {
  const env = process.env.KVWALK_SHARED;
  if (env) return existsSync(env) ? resolve(env) : undefined;
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, "shared");
    if (existsSync(join(candidate, "data")) || existsSync(join(candidate, "models"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Path of `rel` inside the shared folder; throws DataNotFoundError naming where it looked. */
export function requireShared(rel: string, what = rel): string {
  const root = findSharedDir();
  const looked = process.env.KVWALK_SHARED ? [`$KVWALK_SHARED=${process.env.KVWALK_SHARED}`] : [`shared/ above ${process.cwd()}`];
  if (!root) throw new DataNotFoundError(what, looked);
  const p = join(root, rel);
  if (!existsSync(p)) throw new DataNotFoundError(what, [p]);
  return p;
}

/** Like requireShared, but returns undefined instead of throwing (for tests that skip with a reason). */
export function optionalShared(rel: string): string | undefined {
  const root = findSharedDir();
  if (!root) return undefined;
  const p = join(root, rel);
  return existsSync(p) ? p : undefined;
}
