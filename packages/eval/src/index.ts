export const PACKAGE = "@kvwalk/eval";
