import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { createPolicy, type LogitBlocks, type PolicyOptions, type SimulationResult, simulateHead } from "@kvwalk/runtime";

/** One simulation request: logits of the group's query heads (LogitBlocks, float32 blocks in SharedArrayBuffers). */
export interface SimTask {
  id: number;
  policy: string;
  options: PolicyOptions;
  logits: { bounds: Int32Array; blocks: SharedArrayBuffer[] }[];
  T: number;
  streamId: number;
}

/** A dense [T, T] matrix per head as one block each. */
function asBlocks(logits: Float32Array[] | LogitBlocks[], T: number): LogitBlocks[] {
  return logits.map((l) => (l instanceof Float32Array ? { bounds: Int32Array.of(0, T), blocks: [l] } : l));
}

interface Pending {
  resolve: (r: SimulationResult) => void;
  reject: (e: Error) => void;
}

/**
 * Runs per-(layer, KV head) policy simulations on worker threads, so they use every core while the
 * main thread keeps the model busy. Logits are copied into SharedArrayBuffers (one copy, ~15 ms per
 * 64 MiB head at T = 4096); the eviction vector comes back transferred.
 */
export class SimPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { task: SimTask; pending: Pending }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  private constructor(size: number, url: URL) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(url);
      w.on("message", (m: { id: number; ok: boolean; result?: SimulationResult; error?: string }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        this.idle.push(w);
        this.pump();
        if (!p) return;
        if (m.ok && m.result) p.resolve(m.result);
        else p.reject(new Error(`simulation worker: ${m.error}`));
      });
      w.on("error", (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /**
   * A pool of `size` workers, or null when size is 0 or the compiled worker script is absent
   * (running from TypeScript sources, e.g. under vitest): callers then simulate in-process.
   */
  static create(size: number): SimPool | null {
    if (size <= 0) return null;
    const url = new URL("./sim-worker.js", import.meta.url);
    if (url.protocol !== "file:" || !existsSync(fileURLToPath(url))) return null;
    return new SimPool(size, url);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Simulates `policy` on one (layer, KV head) from its group's logits ([T, T] each). */
  run(policy: string, options: PolicyOptions, logits: Float32Array[] | LogitBlocks[], T: number, streamId: number): Promise<SimulationResult> {
    if (this.closed) return Promise.reject(new Error("SimPool is closed"));
    const shared = asBlocks(logits, T).map((h) => ({
      bounds: h.bounds,
      blocks: h.blocks.map((l) => {
        const sab = new SharedArrayBuffer(l.byteLength);
        new Float32Array(sab).set(l);
        return sab;
      }),
    }));
    const task: SimTask = { id: this.nextId++, policy, options, logits: shared, T, streamId };
    return new Promise((resolve, reject) => {
      this.queue.push({ task, pending: { resolve, reject } });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const { task, pending } = this.queue.shift()!;
      this.pending.set(task.id, pending);
      w.postMessage(task);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** In-process fallback with the same signature (used when no pool is available). */
export function simulateInProcess(policy: string, options: PolicyOptions, logits: Float32Array[] | LogitBlocks[], T: number, streamId: number): SimulationResult {
  return simulateHead(createPolicy(policy, options), asBlocks(logits, T), T, streamId);
}
