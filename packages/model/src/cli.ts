#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { InvalidArgumentError, KvwalkError, Progress, runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { allocatorTuned, reexecWithTunedAllocator } from "./alloc-tuning.js";
import { Checkpoint } from "./checkpoint/checkpoint.js";
import { configParameterCount, loadConfig } from "./config.js";
import { poolKvHeads } from "./pool-kv-heads.js";
import { loadTokenizer } from "./tokenizer.js";

const USAGE = `Usage:
  kvwalk-model info DIR
  kvwalk-model ppl DIR TEXTFILE [--window 4096] [--max-windows N] [--threads N] [--json OUT.json]
  kvwalk-model pool-kv-heads IN OUT --kv-heads N

info           architecture, parameters, dtypes and context of a Hugging Face Llama/Mistral directory
ppl            perplexity of BOS + TEXTFILE (one string) over non-overlapping windows of --window tokens
pool-kv-heads  a grouped-query copy of IN in OUT (absent or empty): each group of consecutive KV heads
               replaced by the mean of its k_proj / v_proj rows (no uptraining); N divides IN's KV heads
`;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function info(dir: string): void {
  const c = loadConfig(dir);
  const ckpt = new Checkpoint(dir);
  try {
    const tok = loadTokenizer(dir, c.vocabSize, c.bosTokenId);
    const shards = new Set(ckpt.weightMap.values()).size;
    out(`model         ${resolve(dir)}`);
    out(`architecture  ${c.modelType}: ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads x ${c.headDim}, ${c.numKvHeads} KV heads${c.numKvHeads < c.numHeads ? " (GQA)" : ""}, SwiGLU ${c.intermediateSize}`);
    out(`parameters    ${ckpt.parameterCount().toLocaleString("en-US")} stored (${configParameterCount(c).toLocaleString("en-US")} implied by config)`);
    out(`dtype         ${ckpt.dtypes().join(", ")} in ${shards} file${shards > 1 ? "s" : ""} (computed in f32)`);
    out(`context       ${c.maxPositions} tokens${c.slidingWindow !== null ? `, sliding window ${c.slidingWindow}` : ""}`);
    out(`rope          theta ${c.ropeTheta}; RMSNorm eps ${c.rmsNormEps}; embeddings ${c.tieWordEmbeddings ? "tied" : "untied"}`);
    out(`vocabulary    ${c.vocabSize} (tokenizer ${tok.vocabSize}); BOS ${tok.bosId ?? "none"}; EOS ${c.eosTokenId ?? "none"}`);
  } finally {
    ckpt.close();
  }
}

async function ppl(dir: string, textFile: string, opts: { window: number; maxWindows?: number; threads?: number; json?: string }): Promise<void> {
  // Loaded here, not at the top: the other commands run where onnxruntime-node is absent (GPU bundles).
  const { loadModel } = await import("./model.js");
  const { perplexity } = await import("./perplexity.js");
  const model = await loadModel(dir, { threads: opts.threads });
  try {
    const text = readFileSync(textFile, "utf8");
    const t0 = performance.now();
    const tokens = model.tokenizer.encode(text, { addBos: true });
    const tokSecs = (performance.now() - t0) / 1000;
    process.stderr.write(`tokenized ${textFile}: ${tokens.length} tokens (BOS included) in ${tokSecs.toFixed(1)} s\n`);
    const windows = Math.min(Math.ceil(tokens.length / opts.window), opts.maxWindows ?? Infinity);
    const bar = new Progress("ppl", windows, "win");
    const r = await perplexity(model, tokens, {
      window: opts.window,
      maxWindows: opts.maxWindows,
      onWindow: (_done, _total, nllSum, count) => bar.tick(1, count > 0 ? `ppl ${Math.exp(nllSum / count).toFixed(2)}` : ""),
    });
    out(`perplexity ${r.perplexity.toFixed(3)} over ${r.predictedTokens} predicted tokens (${r.totalTokens} tokens, ${r.windows} windows of ${r.windowSize})`);
    out(`speed      ${r.tokensPerSecond.toFixed(0)} tokens/s (${r.seconds.toFixed(1)} s, ${(r.seconds / r.windows).toFixed(2)} s/window)`);
    if (opts.json) {
      writeJsonAtomic(opts.json, {
        ...runMetadata({ allocatorTuned: allocatorTuned(), threads: opts.threads ?? "all cores", loadAverageAtEnd: loadavg() }),
        model: resolve(dir),
        text: resolve(textFile),
        convention:
          "BOS + the whole file as one token sequence; non-overlapping windows of `windowSize` tokens, each from an empty cache; NLL of tokens 1..len-1 of each window (its first token is only context); perplexity = exp(total NLL / predicted tokens)",
        ...r,
        tokenizeSeconds: tokSecs,
      });
      process.stderr.write(`wrote ${opts.json}\n`);
    }
  } finally {
    await model.dispose();
  }
}

function pool(inDir: string, outDir: string, kvHeads: number): void {
  const from = loadConfig(inDir).numKvHeads;
  let bar: Progress | undefined;
  let r: ReturnType<typeof poolKvHeads>;
  try {
    r = poolKvHeads(inDir, outDir, kvHeads, {
      onTensor: (_done, total) => {
        bar ??= new Progress("pool-kv-heads", total, "tensors");
        bar.tick();
      },
    });
  } catch (err) {
    // Name the command line's argument rather than the function's parameter.
    const flag = { numKvHeads: "--kv-heads", outDir: "OUT", inDir: "IN" }[err instanceof InvalidArgumentError ? err.parameter : ""];
    if (flag) throw new KvwalkError("KVWALK_INVALID_ARGUMENT", (err as Error).message.replace(/ for \w+ but received /, ` for ${flag} but received `), { cause: err });
    throw err;
  }
  out(`wrote ${r.outDir}: ${r.config.numHeads} query heads, ${from} -> ${r.config.numKvHeads} KV heads (each the mean of ${r.pooled})`);
  out(`tensors ${r.pooledTensors.length} pooled (k_proj, v_proj of ${r.config.numLayers} layers), ${r.copiedTensors} copied byte for byte`);
  out(`files   copied ${r.copiedFiles.join(", ") || "none"}; left out ${r.skippedFiles.join(", ") || "none"}`);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      window: { type: "string", default: "4096" },
      "max-windows": { type: "string" },
      threads: { type: "string" },
      json: { type: "string" },
      "kv-heads": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [cmd, ...rest] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new KvwalkError("KVWALK_INVALID_ARGUMENT", `Expected a positive integer for --${name} but received ${JSON.stringify(v)}`);
    return n;
  };
  if (cmd === "info" && rest.length === 1) {
    info(rest[0]);
    return 0;
  }
  if (cmd === "ppl" && rest.length === 2) {
    await ppl(rest[0], rest[1], {
      window: int("window", values.window)!,
      maxWindows: int("max-windows", values["max-windows"]),
      threads: int("threads", values.threads),
      json: values.json,
    });
    return 0;
  }
  if (cmd === "pool-kv-heads" && rest.length === 2) {
    const n = int("kv-heads", values["kv-heads"]);
    if (n === undefined) throw new KvwalkError("KVWALK_INVALID_ARGUMENT", "Expected --kv-heads N (the KV heads of the output) for pool-kv-heads but received none");
    pool(rest[0], rest[1], n);
    return 0;
  }
  process.stderr.write(USAGE);
  return 2;
}

reexecWithTunedAllocator();
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`kvwalk-model: ${err instanceof KvwalkError ? err.message : (err?.stack ?? err)}\n`);
    process.exit(1);
  },
);
