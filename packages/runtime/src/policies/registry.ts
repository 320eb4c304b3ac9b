import { expectOneOf } from "@kvwalk/core";
import { FullPolicy } from "./full.js";
import { H2OPolicy } from "./h2o.js";
import { H2OPaperPolicy } from "./h2o-paper.js";
import { PageRankDensePolicy } from "./pagerank-dense.js";
import { PageRankTop4Policy } from "./pagerank-top4.js";
import { PageRankUndirectedPolicy } from "./pagerank-undirected.js";
import { PageRankWalkerPolicy } from "./pagerank-walker.js";
import { PageRankWalkerH2OPolicy, PageRankWalkerH2ORankPolicy } from "./pagerank-walker-h2o.js";
import { type EvictionPolicy, type PolicyOptions, validateOptions } from "./policy.js";
import { RandomPolicy } from "./random.js";
import { StreamingPolicy } from "./streaming.js";
import { TovaPolicy } from "./tova.js";

/** Every registered policy name, in report order. */
export const POLICY_NAMES = [
  "full",
  "streaming",
  "random",
  "h2o",
  "h2o-paper",
  "tova",
  "pagerank-dense",
  "pagerank-top4",
  "pagerank-walker",
  "pagerank-undirected",
] as const;

/**
 * Policies that createPolicy builds but the study's default list leaves out: experiments whose
 * results are reported where they were run (both: packages/eval/report-hybrid-cpu/).
 */
export const EXPERIMENTAL_POLICY_NAMES = ["pagerank-walker-h2o", "pagerank-walker-h2o-rank"] as const;

export type PolicyName = (typeof POLICY_NAMES)[number] | (typeof EXPERIMENTAL_POLICY_NAMES)[number];

const FACTORIES: Record<PolicyName, (o: PolicyOptions) => EvictionPolicy> = {
  full: () => new FullPolicy(),
  streaming: (o) => new StreamingPolicy(o),
  random: (o) => new RandomPolicy(o),
  h2o: (o) => new H2OPolicy(o),
  "h2o-paper": (o) => new H2OPaperPolicy(o),
  tova: (o) => new TovaPolicy(o),
  "pagerank-dense": (o) => new PageRankDensePolicy(o),
  "pagerank-top4": (o) => new PageRankTop4Policy(o),
  "pagerank-walker": (o) => new PageRankWalkerPolicy(o),
  "pagerank-undirected": (o) => new PageRankUndirectedPolicy(o),
  "pagerank-walker-h2o": (o) => new PageRankWalkerH2OPolicy(o),
  "pagerank-walker-h2o-rank": (o) => new PageRankWalkerH2ORankPolicy(o),
};

/** True for the PageRank family (policies that refresh every `refreshEvery` steps). */
export function isPageRankPolicy(name: string): boolean {
  return name.startsWith("pagerank-");
}

/**
 * A new policy instance by name. Options are shared by all policies (each reads what it needs);
 * `budget` is required (fraction of the sequence in (0, 1] or slots). One instance simulates one
 * (layer, KV head) at a time; `begin` resets it for the next.
 */
export function createPolicy(name: string, options: PolicyOptions): EvictionPolicy {
  const n = expectOneOf("policy", name, [...POLICY_NAMES, ...EXPERIMENTAL_POLICY_NAMES]);
  validateOptions(options);
  return FACTORIES[n](options);
}
