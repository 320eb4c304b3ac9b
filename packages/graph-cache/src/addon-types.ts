import type { BaseAddon } from "@kvwalk/core";

/** The contract of build/Release/graph_cache.node (see native/binding/addon.cc). */
export interface GraphCacheAddon extends BaseAddon {}
