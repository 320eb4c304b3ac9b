#!/usr/bin/env node
// Bundles what a GPU host without Node.js needs to run kvwalk's GPU checks and benchmarks:
// a portable node binary, the named packages (compiled JS, built addons) with their workspace and
// third-party runtime dependencies, and run.sh, which runs the device probe, the GPU checks (under
// compute-sanitizer when asked) and the benchmarks, writing JSON results into $OUT (or ./out).
//
//   node tools/gpu-bundle.mjs [--out .gpu-bundle] [--sanitize] [--skip-dep NAME]... [--with-data RELPATH]... graph-cache walker-cuda ...
//   (--skip-dep leaves a third-party dependency out, e.g. onnxruntime-node (288 MB) for the engine, which
//    reads checkpoints through @kvwalk/model/checkpoint and never loads it;
//    --with-data copies a file or folder of the shared folder ($KVWALK_SHARED, else ../shared) into
//    <out>/shared/RELPATH, files of 256 KiB or more xz-compressed as NAME.xz: unpack them on the host
//    with `xz -dk` and point KVWALK_SHARED at <out>/shared, as tools/eval-device-run.sh does;
//    native addons travel stripped and xz-compressed as NAME.node.xz unless --no-compress: the bundle's
//    unpack.sh restores node, the addons and the shared files, and run.sh calls it first; a custom
//    device command should start with `bash .gpu-bundle/unpack.sh` too)
//   then, on the GPU host:  bash .gpu-bundle/run.sh            (device tool: carry .gpu-bundle)
//   back here:              node tools/gpu-collect.mjs <returned folder>  (unpacks gpu-results.tar.gz)
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
let out = ".gpu-bundle";
let sanitize = false;
let compress = true;
const wanted = [];
const skipDeps = new Set();
const withData = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out") out = args[++i];
  else if (args[i] === "--sanitize") sanitize = true;
  else if (args[i] === "--no-compress") compress = false;
  else if (args[i] === "--skip-dep") skipDeps.add(args[++i]);
  else if (args[i] === "--with-data") withData.push(args[++i]);
  else wanted.push(args[i]);
}
if (wanted.length === 0) {
  console.error("usage: gpu-bundle.mjs [--out DIR] [--sanitize] <package dir name>...");
  process.exit(2);
}
const outDir = resolve(root, out);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(join(outDir, "node_modules", "@kvwalk"), { recursive: true });

const readJson = (p) => JSON.parse(readFileSync(p, "utf8"));
const workspace = new Map(); // @kvwalk/name -> dir
for (const d of ["core", "model", "graph-cache", "walker-cuda", "runtime", "oracle", "eval"]) {
  const p = join(root, "packages", d, "package.json");
  if (existsSync(p)) workspace.set(readJson(p).name, join(root, "packages", d));
}

const seenPkgs = new Set();
const thirdParty = new Map(); // name -> real dir
function addThirdParty(name, fromDir) {
  if (thirdParty.has(name) || skipDeps.has(name)) return;
  const req = createRequire(join(fromDir, "package.json"));
  let pj;
  try {
    pj = req.resolve(`${name}/package.json`);
  } catch {
    // packages whose exports hide package.json: walk up from the entry point
    let d = dirname(req.resolve(name));
    while (!existsSync(join(d, "package.json")) || readJson(join(d, "package.json")).name !== name) d = dirname(d);
    pj = join(d, "package.json");
  }
  const dir = realpathSync(dirname(pj));
  thirdParty.set(name, dir);
  for (const dep of Object.keys(readJson(pj).dependencies ?? {})) addThirdParty(dep, dir);
}
function addPackage(name) {
  if (seenPkgs.has(name)) return;
  seenPkgs.add(name);
  const dir = workspace.get(name);
  if (!dir) throw new Error(`unknown workspace package ${name}`);
  const pj = readJson(join(dir, "package.json"));
  const dest = join(outDir, "packages", relative(join(root, "packages"), dir));
  mkdirSync(dest, { recursive: true });
  cpSync(join(dir, "package.json"), join(dest, "package.json"));
  if (!existsSync(join(dir, "dist"))) throw new Error(`${name} is not built (no dist/): run pnpm turbo run build first`);
  cpSync(join(dir, "dist"), join(dest, "dist"), { recursive: true, filter: (s) => !s.endsWith(".map") });
  if (existsSync(join(dir, "build", "Release"))) {
    mkdirSync(join(dest, "build", "Release"), { recursive: true });
    for (const f of execFileSync("ls", [join(dir, "build", "Release")]).toString().split("\n").filter((f) => f.endsWith(".node"))) {
      const to = join(dest, "build", "Release", f);
      cpSync(join(dir, "build", "Release", f), to);
      if (compress) {
        // ~3x smaller: the device call carries at most 64 MiB; unpack.sh restores the .node
        try {
          execFileSync("strip", ["--strip-unneeded", to]);
        } catch {
          // no strip here: compress as is
        }
        execFileSync("xz", ["-T2", "-6", "-f", to]);
      }
    }
  }
  symlinkSync(relative(join(outDir, "node_modules", "@kvwalk"), dest), join(outDir, "node_modules", "@kvwalk", name.split("/")[1]));
  for (const dep of Object.keys(pj.dependencies ?? {})) {
    if (workspace.has(dep)) addPackage(dep);
    else addThirdParty(dep, dir);
  }
}
for (const w of wanted) addPackage(w.startsWith("@kvwalk/") ? w : `@kvwalk/${w}`);
addThirdParty("tinybench", root);
for (const [name, dir] of thirdParty) cpSync(dir, join(outDir, "node_modules", name), { recursive: true, dereference: true });

// Shared data (models, datasets) the bundle's runs read: big files travel xz-compressed.
const sharedRoot = process.env.KVWALK_SHARED ? resolve(process.env.KVWALK_SHARED) : join(root, "..", "shared");
for (const rel of withData) {
  if (!rel || rel.startsWith("/") || rel.split("/").includes("..")) throw new Error(`--with-data takes a path inside the shared folder, got ${JSON.stringify(rel)}`);
  const src = join(sharedRoot, rel);
  if (!existsSync(src)) throw new Error(`--with-data ${rel}: ${src} does not exist`);
  const files = statSync(src).isDirectory() ? readdirSync(src, { recursive: true }).map(String).filter((f) => statSync(join(src, f)).isFile()).map((f) => join(rel, f)) : [rel];
  for (const f of files) {
    const dest = join(outDir, "shared", f);
    mkdirSync(dirname(dest), { recursive: true });
    if (statSync(join(sharedRoot, f)).size >= 256 * 1024) writeFileSync(`${dest}.xz`, execFileSync("xz", ["-T2", "-6", "-c", join(sharedRoot, f)], { maxBuffer: 1 << 30 }));
    else cpSync(join(sharedRoot, f), dest);
  }
}

const unpack = execFileSync("bash", [join(root, "..", "shared", "tools", "portable-node.sh"), relative(root, outDir)], { cwd: root })
  .toString()
  .trim();
const pkgDirs = [...seenPkgs].map((n) => relative(outDir, join(outDir, "packages", relative(join(root, "packages"), workspace.get(n)))));
const native = pkgDirs.filter((d) => existsSync(join(outDir, d, "build", "Release")));
const commit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: root }).toString().trim();
  } catch {
    return "unknown";
  }
})();
writeFileSync(join(outDir, "COMMIT"), `${commit}\n`);
writeFileSync(
  join(outDir, "unpack.sh"),
  `#!/usr/bin/env bash
# Generated by tools/gpu-bundle.mjs: restores what travels compressed (node, native addons, shared files).
# Run from the repository root of the device copy: bash ${relative(root, outDir)}/unpack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
B=${relative(root, outDir)}
${unpack}
find "$B/packages" -name '*.node.xz' -exec xz -dkf {} \\;
if [ -d "$B/shared" ]; then find "$B/shared" -name '*.xz' | while read -r f; do [ -f "\${f%.xz}" ] || xz -dk "$f"; done; fi
`,
  { mode: 0o755 },
);
writeFileSync(
  join(outDir, "run.sh"),
  `#!/usr/bin/env bash
# Generated by tools/gpu-bundle.mjs at commit ${commit}. Runs from the repository root of the device copy.
set -uo pipefail
cd "$(dirname "$0")/.."
bash ${relative(root, outDir)}/unpack.sh
export PATH=$PWD/${relative(root, outDir)}/bin:$PATH
export KVWALK_COMMIT=${commit}
FINAL=\${OUT:-$PWD/out}; mkdir -p "$FINAL"
OUT=$(mktemp -d)  # results gather here, then travel back as one archive (the device tool returns at most 8 files)
trap 'cp "$OUT/device-probe.json" "$FINAL/" 2>/dev/null; tar czf "$FINAL/gpu-results.tar.gz" -C "$OUT" .' EXIT
B=${relative(root, outDir)}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$OUT/nvidia-smi.csv" 2>&1 || true
node "$B/probe.mjs" ${native.map((d) => `"$B/${d}"`).join(" ")} > "$OUT/device-probe.json"; cat "$OUT/device-probe.json"
status=0
for d in ${native.map((d) => `"$B/${d}"`).join(" ")}; do
  name=$(basename "$d")
  if [ -f "$d/dist/gpu/check.js" ]; then
    ${sanitize ? `for tool in memcheck racecheck; do
      echo "== compute-sanitizer --tool $tool $name"
      compute-sanitizer --tool $tool --error-exitcode 9 node "$d/dist/gpu/check.js" "$OUT/$name-sanitize-$tool.json" --quick > "$OUT/$name-sanitize-$tool.log" 2>&1; rc=$?
      tail -5 "$OUT/$name-sanitize-$tool.log"; echo "rc=$rc"; [ $rc -eq 0 ] || status=1
    done` : "true"}
    echo "== gpu check $name"; node "$d/dist/gpu/check.js" "$OUT/$name-gpu-check.json" || status=1
  fi
  if [ -f "$d/dist/bench/index.js" ]; then
    echo "== bench $name"; (cd "$d" && KVWALK_BENCH_OUT="$OUT" node dist/bench/index.js) || status=1
  fi
done
exit $status
`,
  { mode: 0o755 },
);
writeFileSync(
  join(outDir, "probe.mjs"),
  `// Loads each native package through its own loader and prints backendStatus() with run metadata.
import { execSync } from "node:child_process";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
const out = { date: new Date().toISOString(), commit: process.env.KVWALK_COMMIT ?? "unknown", packages: {} };
try { out.nvidiaSmi = execSync("nvidia-smi --query-gpu=name,driver_version --format=csv,noheader").toString().trim(); } catch { out.nvidiaSmi = "unavailable"; }
for (const dir of process.argv.slice(2)) {
  const mod = await import(pathToFileURL(join(resolve(dir), "dist", "index.js")).href);
  out.packages[dir.split("/").pop()] = typeof mod.backendStatus === "function" ? mod.backendStatus() : { error: "package exports no backendStatus()" };
}
process.stdout.write(JSON.stringify(out, null, 2) + "\\n");
`,
);
const size = execFileSync("du", ["-sh", outDir]).toString().split("\t")[0];
console.error(`bundle ${relative(root, outDir)}: ${[...seenPkgs].join(", ")} + ${[...thirdParty.keys()].join(", ")}${withData.length ? ` + shared/${withData.join(", shared/")}` : ""} (${size})`);
console.error(`device: carry ["${relative(root, outDir)}"], command: bash ${relative(root, outDir)}/run.sh`);
