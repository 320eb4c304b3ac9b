// Profiles one skinny-GEMM configuration under Nsight Compute (device runs only):
//   ncu ... node tools/ncu-gemm.mjs M N K splitK copy warps stages
// Runs gemmBench once (warm-up launches included) so ncu sees the kernel; prints nothing itself.
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const addon = require(process.env.KVWALK_ENGINE_ADDON);
const [M, N, K, splitK, copy, warps, stages] = process.argv.slice(2).map(Number);
addon.gemmBench(M, N, K, "builtin", 1, { path: "skinny", splitK, accumulate: splitK > 1, pdl: true, skinnyCopy: copy, skinnyWarps: warps, skinnyStages: stages });
