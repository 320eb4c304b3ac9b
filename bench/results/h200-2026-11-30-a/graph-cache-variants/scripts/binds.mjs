// Runs the three kernel-test bench bindings that now share time_launches_us (small samples).
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const a = require(process.argv[2]);
const pa = a.prefillAttentionBench(4096, 32, 32, 128, 0, 10);
console.log("prefillAttentionBench 4096x32x128:", JSON.stringify(pa));
const ps = a.prefillScoreBench({ T: 4096, H: 32, KVH: 32, D: 128, window: 0, iters: 5 });
console.log("prefillScoreBench:", JSON.stringify(ps));
const eb = a.evictBench({ L: 32, H: 32, D: 128, C: 4160, len: 4160, budget: 819, sinks: 4, recent: 50, iters: 10, KVH: 32, B: 8 });
console.log("evictBench B8:", JSON.stringify(eb));
