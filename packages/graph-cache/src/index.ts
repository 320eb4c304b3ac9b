export type { GraphCacheAddon } from "./addon-types.js";
export { backendStatus } from "./loader.js";
