/**
 * The dataset registry (kvpress's layout): each dataset lives in `src/benchmarks/<name>/` with a
 * README (source, license, protocol), a loader and a metric. The harness refers to datasets by
 * these names; results carry them in `dataset`.
 */
export interface DatasetInfo {
  name: "wikitext2" | "longbench-context" | "longbench-answer" | "longbench-gen" | "needle";
  folder: string;
  description: string;
  metric: string;
  /** Files under the shared folder that the dataset reads. */
  data: string[];
}

export const DATASETS: readonly DatasetInfo[] = [
  {
    name: "wikitext2",
    folder: "benchmarks/wikitext2",
    description: "WikiText-2 raw test (or valid) split: BOS + the whole text as one string, non-overlapping windows",
    metric: "perplexity over all predicted tokens and over those predicted after the cache first filled; bootstrap CI over windows",
    data: ["data/wikitext-2-raw/wiki.test.raw", "data/wikitext-2-raw/wiki.valid.raw"],
  },
  {
    name: "longbench-context",
    folder: "benchmarks/longbench",
    description: "LongBench v1 task contexts: BOS + the first window of each context long enough to fill it",
    metric: "perplexity, as for wikitext2",
    data: ["data/longbench/<task>.jsonl"],
  },
  {
    name: "longbench-answer",
    folder: "benchmarks/longbench",
    description: "LongBench v1 prompts (official template, middle truncation) followed by the reference answer, teacher-forced",
    metric: "answer perplexity (the generated answers' metrics are dataset longbench-gen)",
    data: ["data/longbench/<task>.jsonl"],
  },
  {
    name: "longbench-gen",
    folder: "benchmarks/longbench",
    description:
      "LongBench v1 prompts (official template, middle truncation to the context minus the task's generation length; rows whose prompt fills it), teacher-forced under the policy, then greedy generation to EOS or the task's maximum (gpu backend only)",
    metric: "the task's metric (qa_f1, rouge_l, classification, retrieval, count, code_sim) of the answer, best over references; bootstrap CI over samples and paired difference to the full cache",
    data: ["data/longbench/<task>.jsonl"],
  },
  {
    name: "needle",
    folder: "benchmarks/needle",
    description: "passkey, multi-key and variable-tracking needles (the fixture model's training templates) in WikiText-2 valid filler",
    metric: "teacher-forced greedy exact match of every answer token; Wilson 95% intervals; paired sign tests between policies",
    data: ["data/wikitext-2-raw/wiki.valid.raw"],
  },
];
