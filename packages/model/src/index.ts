export const PACKAGE = "@kvwalk/model";
