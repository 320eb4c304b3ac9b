export const PACKAGE = "@kvwalk/runtime";
