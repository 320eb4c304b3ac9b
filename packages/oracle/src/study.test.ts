import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { POLICY_NAMES } from "@kvwalk/runtime";
import { afterAll, describe, expect, it } from "vitest";
import type { StudyWindow } from "./data.js";
import { createFakeModel } from "./fake-model.js";
import { causalPass } from "./passes.js";
import { ResultStore } from "./results.js";
import { runStudy, type StudyOptions } from "./study.js";

const T = 40;
const model = createFakeModel({ numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 4, vocabSize: 32, seed: 3 });
const windows: StudyWindow[] = [0, 1, 2].map((w) => ({
  id: `fake:${w}`,
  tokens: Int32Array.from({ length: T }, (_, i) => (i === 0 ? 1 : 3 + ((i * 7 + w * 13 + ((i * i) % 5)) % 29))),
}));
const shared = { sinks: 2, window: 4, refreshEvery: 4, walkers: 64, steps: 5, startWindow: 6, seed: 0, decay: 0.5 };
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "kvwalk-oracle-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function options(out: string, extra: Partial<StudyOptions> = {}): StudyOptions {
  return {
    model,
    modelDir: "fake",
    dataset: "fake",
    windows,
    windowsRequested: windows.length,
    policies: [...POLICY_NAMES],
    budgets: [0.3, 0.6],
    mode: "causal",
    out,
    shared,
    concurrency: 2,
    resamples: 200,
    command: "test",
    log: () => {},
    progress: false,
    ...extra,
  };
}

describe("causal pass", () => {
  it("streaming equals attending with its closed-form eviction times", async () => {
    const B = Math.floor(0.3 * T);
    const r = await causalPass(model, windows[0].tokens, "streaming", 0.3, shared);
    const st = await model.stepper(windows[0].tokens);
    const ev = new Int32Array(2 * T);
    for (let h = 0; h < 2; h++) for (let j = 0; j < T; j++) ev[h * T + j] = j < 2 ? T : Math.min(T, j + B - 2);
    for (let l = 0; l < 2; l++) await st.attend(ev);
    const { nll } = await st.finish();
    expect(Array.from(r.nll)).toEqual(Array.from(nll));
    expect(r.timing.evictions).toBe(2 * 2 * (T - B));
  });

  it("every policy with the whole window as budget reproduces full exactly", async () => {
    const full = await causalPass(model, windows[1].tokens, "full", 1, shared);
    for (const p of POLICY_NAMES) {
      const r = await causalPass(model, windows[1].tokens, p, 1, shared);
      expect(Array.from(r.nll), p).toEqual(Array.from(full.nll));
    }
  });

  it("eviction changes the loss", async () => {
    const full = await causalPass(model, windows[1].tokens, "full", 1, shared);
    const h2o = await causalPass(model, windows[1].tokens, "h2o", 0.3, shared);
    expect(Array.from(h2o.nll)).not.toEqual(Array.from(full.nll));
  });
});

describe("runStudy", () => {
  it("writes one record per (window, policy, budget), a report and plots; resumes without redoing work", async () => {
    const out = tmp();
    const r = await runStudy(options(out));
    expect(r.records.length).toBe(windows.length * POLICY_NAMES.length * 2);
    for (const f of Object.values(r.files)) expect(existsSync(f), f).toBe(true);
    const report = readFileSync(r.files.report, "utf8");
    expect(report).toContain("PPL(pagerank-dense) < PPL(h2o) at 20%");
    expect(readFileSync(r.files.plot, "utf8")).toContain("<svg");
    expect(readFileSync(r.files.plotFilled, "utf8")).toContain("<svg");
    for (const png of [r.files.plotPng, r.files.plotFilledPng]) expect([...readFileSync(png).subarray(0, 8)], png).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(report).toContain("](ppl-vs-budget.png)");
    expect(report).toContain("](ppl-vs-budget.svg)");
    // Every policy on the same windows and tokens.
    const cells = r.summary.cells.filter((c) => c.budget === 0.3);
    expect(new Set(cells.map((c) => c.tokens)).size).toBe(1);
    expect(cells.length).toBe(POLICY_NAMES.length);
    const fullCell = cells.find((c) => c.policy === "full")!;
    const fullNll = await Promise.all(windows.map((w) => model.forward(w.tokens)));
    const mean = fullNll.reduce((s, x) => s + x.nll.reduce((a, b) => a + b, 0), 0) / (windows.length * (T - 1));
    expect(fullCell.ppl.value).toBeCloseTo(Math.exp(mean), 4);
    expect(fullCell.ppl.lo).toBeLessThanOrEqual(fullCell.ppl.value);
    expect(fullCell.ppl.hi).toBeGreaterThanOrEqual(fullCell.ppl.value);

    // Resume: nothing left to do.
    const lines: string[] = [];
    await runStudy(options(out, { log: (l) => lines.push(l) }));
    expect(lines.join("\n")).toContain(" 0 model passes to run");

    // A torn last line (interrupted append) is dropped and only that run is redone.
    appendFileSync(r.files.results, '{"mode":"causal","dataset":"fake","window":2,"pol');
    const store = new ResultStore(r.files.results);
    expect(store.records.length).toBe(r.records.length);
    const h2oKey = store.records.find((x) => x.policy === "h2o" && x.window === 2 && x.budget === 0.6)!;
    const kept = readFileSync(r.files.results, "utf8")
      .split("\n")
      .filter((l) => l && !(l.includes('"policy":"h2o"') && l.includes('"window":2,') && l.includes('"budget":0.6')));
    rmSync(r.files.results);
    appendFileSync(r.files.results, `${kept.join("\n")}\n`);
    const lines2: string[] = [];
    const again = await runStudy(options(out, { log: (l) => lines2.push(l) }));
    expect(lines2.join("\n")).toContain(" 1 model passes to run");
    const redone = again.records.find((x) => x.policy === "h2o" && x.window === 2 && x.budget === 0.6)!;
    expect(redone.nllSum).toBe(h2oKey.nllSum);
  });

  it("refuses a results folder of different settings", async () => {
    const out = tmp();
    await runStudy(options(out, { policies: ["full", "h2o"], budgets: [0.6], windows: windows.slice(0, 1) }));
    await expect(runStudy(options(out, { policies: ["full", "h2o"], budgets: [0.6], shared: { ...shared, window: 5 } }))).rejects.toThrow(/--out/);
  });

  it("retrospective mode: static keep-sets from full attention, labelled as an oracle", async () => {
    const out = tmp();
    const r = await runStudy(options(out, { mode: "retrospective", policies: ["full", "h2o", "pagerank-dense", "pagerank-undirected"], windows: windows.slice(0, 2) }));
    expect(r.records.length).toBe(2 * 4 * 2);
    expect(readFileSync(r.files.report, "utf8")).toContain("uses future information");
    const h2o = r.records.find((x) => x.policy === "h2o")!;
    expect(h2o.evictions).toBeGreaterThan(0);
  });

  it("rejects bad options naming the parameter", async () => {
    await expect(runStudy(options(tmp(), { budgets: [1.5] }))).rejects.toThrow(/budgets/);
    await expect(runStudy(options(tmp(), { policies: ["nope"] }))).rejects.toThrow(/policy/);
    // 10% of 40 tokens cannot hold sinks + window + 1.
    await expect(runStudy(options(tmp(), { budgets: [0.1] }))).rejects.toThrow(/budget/);
  });
});
