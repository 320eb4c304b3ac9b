/**
 * Writes the CPU path's greedy generations that the GPU engine must reproduce (GPU check case
 * "greedy vs CPU"): for each prompt, 256 greedy tokens from @kvwalk/model's onnxruntime forward (f32
 * math over the bf16 checkpoint) with the margin between the two best logits at every step, so a
 * GPU divergence can be attributed to a near-tie.
 *   node dist/engine/tools/cpu-greedy.js [MODEL_DIR] [OUT.json]
 */
import { resolve } from "node:path";
import { Progress, requireShared, runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { loadModel } from "@kvwalk/model";

export const GREEDY_PROMPTS = [
  "The history of the city begins in the early",
  " = Valkyria Chronicles III = \n",
  "The passkey is 48213. Remember it. The grass is green. The sky is blue. What is the passkey? The passkey is",
  "In 1998 , the band released their second album ,",
];
export const GREEDY_TOKENS = 256;

async function main(): Promise<void> {
  const dir = process.argv[2] ?? requireShared("models/fixture-lm", "the fixture model");
  const out = resolve(process.argv[3] ?? "src/engine/gpu/fixture-greedy.json");
  const model = await loadModel(dir);
  const V = model.config.vocabSize;
  const cases = [];
  const progress = new Progress("cpu greedy", GREEDY_PROMPTS.length * GREEDY_TOKENS);
  for (const prompt of GREEDY_PROMPTS) {
    const ids = Array.from(model.tokenizer.encode(prompt, { addBos: true }));
    const tokens: number[] = [];
    const margins: number[] = [];
    for (let i = 0; i < GREEDY_TOKENS; i++) {
      const seq = Int32Array.from([...ids, ...tokens]);
      const { logits } = await model.forward(seq, { positions: [seq.length - 1] });
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
      let second = -Infinity;
      for (let v = 0; v < V; v++) if (v !== best && logits[v] > second) second = logits[v];
      tokens.push(best);
      margins.push(logits[best] - second);
      progress.tick();
    }
    cases.push({ prompt, promptIds: ids, tokens, margins: margins.map((m) => Number(m.toFixed(5))) });
  }
  await model.dispose();
  writeJsonAtomic(out, { ...runMetadata(), model: dir, note: "greedy, no EOS stop, CPU path of @kvwalk/model", cases });
  process.stdout.write(`wrote ${out}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
