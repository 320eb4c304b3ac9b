#!/usr/bin/env node
// Static SASS inspection of CUDA kernels on a machine without a GPU or cuobjdump (this repo's build host
// has nvcc 13 but no cuobjdump / nvdisasm).
//
//   node tools/sass.mjs <file.cu> <kernel-regex> [-- nvcc args...]
//
// Compiles <file.cu> for sm_90 to a cubin (nvcc -O3 -std=c++17 plus the given args, e.g. -I paths), then
// for every kernel whose mangled name matches <kernel-regex> prints its instruction count and, for the
// innermost loop that contains a 128-bit global load, the loop's length, the offset of its first load,
// and its branches, global stores, shuffles and constant-bank loads. $KVWALK_SASS_DUMP=1 also prints the
// loop's instructions.
//
// cuobjdump: Debian trixie's nvidia-cuda-toolkit (12.4, non-free) reads CUDA 13's sm_90 cubins
// (bookworm's 11.8 does not). The .deb is fetched once with `apt-get download` through a private sources
// list (nothing is installed) and unpacked under $KVWALK_SASS_TOOLS (default /tmp/kvwalk-sass-tools).
// Used in session 10 to find that the grouped decode kernel's logit-storing variant rematerializes its
// K/V tile addresses inside the loop (graph-cache PERFORMANCE-HISTORY.md).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [file, pattern, ...rest] = process.argv.slice(2);
if (!file || !pattern) {
  process.stderr.write("usage: node tools/sass.mjs <file.cu> <kernel-regex> [-- nvcc args...]\n");
  process.exit(2);
}
const nvccArgs = rest[0] === "--" ? rest.slice(1) : rest;
const tools = process.env.KVWALK_SASS_TOOLS ?? "/tmp/kvwalk-sass-tools";
const cuobjdump = join(tools, "usr/bin/cuobjdump");

function fetchCuobjdump() {
  const apt = join(tools, "apt");
  mkdirSync(join(apt, "lists/partial"), { recursive: true });
  mkdirSync(join(apt, "cache/archives/partial"), { recursive: true });
  const list = join(apt, "sources.list");
  writeFileSync(list, "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie non-free\n");
  const opts = ["-o", `Dir::Etc::SourceList=${list}`, "-o", "Dir::Etc::SourceParts=/dev/null", "-o", `Dir::State::Lists=${join(apt, "lists")}`, "-o", `Dir::Cache=${join(apt, "cache")}`];
  process.stderr.write(`fetching nvidia-cuda-toolkit (Debian trixie, ~90 MB) for cuobjdump into ${tools}\n`);
  execFileSync("apt-get", [...opts, "update"], { stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("apt-get", [...opts, "download", "nvidia-cuda-toolkit"], { cwd: apt, stdio: ["ignore", "ignore", "ignore"] });
  const deb = readdirSync(apt).find((f) => f.startsWith("nvidia-cuda-toolkit_") && f.endsWith(".deb"));
  if (!deb) throw new Error(`apt-get download left no nvidia-cuda-toolkit .deb in ${apt}`);
  execFileSync("dpkg-deb", ["-x", join(apt, deb), tools]);
  if (!existsSync(cuobjdump)) throw new Error(`${deb} holds no usr/bin/cuobjdump`);
}

if (!existsSync(cuobjdump)) fetchCuobjdump();
const cubin = join(tools, "out.cubin");
execFileSync("nvcc", ["-std=c++17", "-arch=sm_90", "-O3", "-cubin", ...nvccArgs, file, "-o", cubin], { stdio: ["ignore", "ignore", "inherit"] });
const all = execFileSync(cuobjdump, ["-sass", cubin], { maxBuffer: 1 << 30 }).toString();
const re = new RegExp(pattern);
const say = (s) => process.stdout.write(`${s}\n`);

for (const chunk of all.split(/\n\s*Function : /).slice(1)) {
  const name = chunk.slice(0, chunk.indexOf("\n")).trim();
  if (!re.test(name)) continue;
  const ins = [];
  for (const line of chunk.split("\n")) {
    const m = line.match(/\/\*([0-9a-f]{4,})\*\/\s+(.*?);/);
    if (m) ins.push({ at: parseInt(m[1], 16), text: m[2].trim() });
  }
  const loads = ins.filter((i) => i.text.includes("LDG.E.128")).map((i) => i.at);
  let loop;
  for (const i of ins) {
    const m = i.text.match(/\bBRA (?:\S+ )?0x([0-9a-f]+)/);
    if (!m) continue;
    const to = parseInt(m[1], 16);
    if (to < i.at && loads.some((a) => a >= to && a <= i.at) && (!loop || i.at - to < loop.end - loop.start)) loop = { start: to, end: i.at };
  }
  say(`${name}: ${ins.length} instructions`);
  if (!loop) {
    say("  no loop with a 128-bit global load");
    continue;
  }
  const body = ins.filter((i) => i.at >= loop.start && i.at <= loop.end);
  const count = (s) => body.filter((i) => i.text.includes(s)).length;
  const firstLoad = Math.min(...loads.filter((a) => a >= loop.start && a <= loop.end));
  say(
    `  loop: ${body.length} instructions, first 128-bit load at +${(firstLoad - loop.start) / 16}, ` +
      `BRA ${count("BRA")}, STG ${count("STG")}, STS ${count("STS")}, SHFL ${count("SHFL")}, LDC ${count("LDC")}`,
  );
  if (process.env.KVWALK_SASS_DUMP === "1") for (const i of body) say(`    ${i.at.toString(16).padStart(5, "0")}  ${i.text}`);
}
