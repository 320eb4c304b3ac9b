export const PACKAGE = "@kvwalk/walker-cuda";
