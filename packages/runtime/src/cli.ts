#!/usr/bin/env node
/**
 * kvwalk generate --model DIR [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S] [--gemm auto|builtin|cublas] "prompt"
 * kvwalk generate --preset llama2-7b|mistral-7b --prompt-tokens N ...   (random weights: token ids only)
 * kvwalk status
 * Streams the generated text to stdout; prints tokens/s and cache statistics to stderr.
 */
import { parseArgs } from "node:util";
import { KvwalkError } from "@kvwalk/core";
import { createEngine, type EnginePolicy, engineStatus } from "./engine/index.js";

const USAGE = `usage:
  kvwalk generate --model DIR [options] "prompt"
  kvwalk generate --preset llama2-7b|mistral-7b --prompt-tokens N [options]
  kvwalk status
options: --max-new-tokens N (128)  --temperature T (0 = greedy)  --top-p P (1)  --seed S (0)
         --capacity N  --gemm auto|builtin|cublas  --no-eos
         --policy full|streaming|h2o|tova|walker|pagerank-top4  --budget F (fraction of capacity kept at a compaction, or slots)
         --refresh N (walker refresh period in steps; pagerank-top4: tokens between rankings; 32)
         --graph-heads kv|query (walker graphs per KV head, the default, or per query head; the same on MHA models)
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: "string" },
      preset: { type: "string" },
      "prompt-tokens": { type: "string" },
      "max-new-tokens": { type: "string", default: "128" },
      temperature: { type: "string", default: "0" },
      "top-p": { type: "string", default: "1" },
      seed: { type: "string", default: "0" },
      capacity: { type: "string" },
      gemm: { type: "string", default: "auto" },
      "no-eos": { type: "boolean", default: false },
      policy: { type: "string", default: "full" },
      budget: { type: "string", default: "0.2" },
      refresh: { type: "string", default: "32" },
      "graph-heads": { type: "string", default: "kv" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [cmd, ...rest] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(USAGE);
    return cmd || values.help ? 0 : 2;
  }
  if (cmd === "status") {
    process.stdout.write(`${JSON.stringify(engineStatus(), null, 2)}\n`);
    return 0;
  }
  if (cmd !== "generate") {
    process.stderr.write(`unknown command "${cmd}"\n${USAGE}`);
    return 2;
  }
  if (!values.model && !values.preset) {
    process.stderr.write(`generate needs --model DIR or --preset NAME\n${USAGE}`);
    return 2;
  }
  const engine = await createEngine({
    model: values.model ?? { preset: values.preset as "llama2-7b" | "mistral-7b" },
    capacity: values.capacity ? Number(values.capacity) : undefined,
    gemm: values.gemm as "auto" | "builtin" | "cublas",
    graphHeads: values["graph-heads"] as "kv" | "query",
    eviction:
      values.policy === "full"
        ? undefined
        : { policy: values.policy as Exclude<EnginePolicy, "full">, budget: Number(values.budget), refresh: Number(values.refresh) },
  });
  try {
    let prompt: string | Int32Array;
    if (values.model) {
      prompt = rest.join(" ");
      if (!prompt) throw new KvwalkError("KVWALK_INVALID_ARGUMENT", "generate --model needs a prompt");
    } else {
      const n = Number(values["prompt-tokens"] ?? "16");
      prompt = Int32Array.from({ length: n }, (_, i) => (i * 7919 + 1) % engine.shape.vocab);
    }
    const t0 = performance.now();
    let count = 0;
    for await (const tok of engine.generate(prompt, {
      maxNewTokens: Number(values["max-new-tokens"]),
      temperature: Number(values.temperature),
      topP: Number(values["top-p"]),
      seed: Number(values.seed),
      stopAtEos: !values["no-eos"],
    })) {
      process.stdout.write(engine.tokenizer ? tok.text : `${tok.id} `);
      count++;
    }
    const s = engine.stats();
    const wall = (performance.now() - t0) / 1000;
    process.stdout.write("\n");
    process.stderr.write(
      `${count} tokens in ${wall.toFixed(2)} s; decode ${s.decodeTokensPerSecond.toFixed(1)} tokens/s, prefill ${s.prefillTokensPerSecond.toFixed(0)} tokens/s (${s.prefillTokens} prompt tokens); GEMM: ${s.gemm}\n`,
    );
    if (s.eviction) {
      const v = s.eviction;
      process.stderr.write(
        `cache: policy ${v.policy}, budget ${v.budget} of ${engine.options.capacity} slots; ${v.compactions} compactions, ${v.evictedSlots} slots evicted (per layer and head), compaction ${v.compactionMs.toFixed(2)} ms; ${v.policy === "pagerank-top4" ? "exact PageRank" : "walker"} ${v.walkerLaunches} ${v.policy === "pagerank-top4" ? "rankings" : "launches"}, ${v.walkerMs.toFixed(2)} ms\n`,
      );
    }
  } finally {
    await engine.dispose();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`kvwalk: ${err.message}\n`);
    process.exit(1);
  },
);
