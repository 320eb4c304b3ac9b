/**
 * Live-eviction kernel benchmark (evict_tests.cc evictBench) at the 7B shape: L = 32 layers, H = 32
 * query heads, KVH = 32 (Llama-2-7B) or 8 (Mistral-7B), D = 128, capacity C = 4160 slots full
 * (len = 4160) compacted to a 20% budget (819 slots; 4 sinks, 50 recent).
 *
 * select_compact: one region's compaction (all L * KVH rows in one launch). Bound: the K/V bytes that
 * actually move (moved slots * D * 2 B * 2 (K, V) * 2 (read + write)) at the device-to-device copy
 * bandwidth measured in the same run (cudaMemcpy of the whole KV, read + write counted). The selection
 * (radix select over the scores) is extra work the bound ignores, so the fraction is conservative.
 * attention_mass: one layer's H2O update for batch B; bound: reading the layer's K (B * KVH * len * D *
 * 2 B) at the copy bandwidth; the decode attention of the same layer reads K and V, twice the bytes, so
 * `vsDecodeAttentionBytes` is the mass kernel's time over the time the decode attention's bytes take at
 * that bandwidth.
 */
import type { EvictTestAddon } from "../gpu/evict-addon-types.js";

export interface EvictBenchRow {
  L: number;
  H: number;
  KVH: number;
  D: number;
  C: number;
  len: number;
  budget: number;
  B: number;
  selectCompact: {
    medianUs: number;
    minUs: number;
    kept: number;
    movedSlots: number;
    bytesMoved: number;
    /** bytesMoved / copy bandwidth, microseconds */
    boundUs: number;
    /** boundUs / medianUs */
    fractionOfCopyBandwidth: number;
  };
  attentionMass: {
    medianUs: number;
    minUs: number;
    bytesK: number;
    boundUs: number;
    fractionOfCopyBandwidth: number;
    /** median time / (K + V bytes of the decode attention at the copy bandwidth) */
    vsDecodeAttentionBytes: number;
  };
  copyGBPerS: number;
}

/** Runs the 7B shapes; `deviceInfo` is recorded as given (name, compute capability, ...). */
export async function evictBench(addon: EvictTestAddon, deviceInfo: Record<string, unknown>): Promise<Record<string, unknown>> {
  const common = { L: 32, H: 32, D: 128, C: 4160, len: 4160, budget: 819, sinks: 4, recent: 50, iters: 20 };
  const shapes = [
    { ...common, KVH: 32, B: 1 },
    { ...common, KVH: 32, B: 8 },
    { ...common, KVH: 8, B: 1 },
    { ...common, KVH: 8, B: 32 },
  ];
  const rows: EvictBenchRow[] = [];
  for (const s of shapes) {
    const r = addon.evictBench(s);
    const bw = r.copy.bytes / (r.copy.medianUs * 1e-6); // bytes per second (read + write)
    const selBound = (r.selectCompact.bytesMoved / bw) * 1e6;
    const massBound = (r.attentionMass.bytesK / bw) * 1e6;
    rows.push({
      L: s.L,
      H: s.H,
      KVH: s.KVH,
      D: s.D,
      C: s.C,
      len: s.len,
      budget: s.budget,
      B: s.B,
      selectCompact: {
        medianUs: r.selectCompact.medianUs,
        minUs: r.selectCompact.minUs,
        kept: r.selectCompact.kept,
        movedSlots: r.selectCompact.movedSlots,
        bytesMoved: r.selectCompact.bytesMoved,
        boundUs: selBound,
        fractionOfCopyBandwidth: selBound / r.selectCompact.medianUs,
      },
      attentionMass: {
        medianUs: r.attentionMass.medianUs,
        minUs: r.attentionMass.minUs,
        bytesK: r.attentionMass.bytesK,
        boundUs: massBound,
        fractionOfCopyBandwidth: massBound / r.attentionMass.medianUs,
        vsDecodeAttentionBytes: r.attentionMass.medianUs / (2 * massBound),
      },
      copyGBPerS: r.copy.gbPerS,
    });
  }
  return {
    device: deviceInfo,
    bound: "bytes / device-to-device copy bandwidth measured in the same run (read + write counted)",
    note: "select_compact: one region, all layers and KV heads in one launch, KV/scores restored before each timed launch; attention_mass: one layer, H2O mode",
    rows,
  };
}
