import { parentPort } from "node:worker_threads";
import { createPolicy, simulateHead } from "@kvwalk/runtime";
import type { SimTask } from "./sim-pool.js";

// Worker side of SimPool: one causal simulation of one (layer, KV head) per message.
const port = parentPort;
if (!port) throw new Error("sim-worker.js must run as a worker thread");
port.on("message", (task: SimTask) => {
  try {
    const logits = task.logits.map((h) => ({ bounds: h.bounds, blocks: h.blocks.map((b) => new Float32Array(b)) }));
    const r = simulateHead(createPolicy(task.policy, task.options), logits, task.T, task.streamId);
    port.postMessage({ id: task.id, ok: true, result: r }, [r.evict.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ id: task.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
