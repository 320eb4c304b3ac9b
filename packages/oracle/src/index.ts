export const PACKAGE = "@kvwalk/oracle";
