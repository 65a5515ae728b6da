import { expect, test } from "bun:test";
import { assetRoutes } from "./assets.ts";

test("noVNC is served without a top-level await that can keep every module from running", async () => {
  const assets = assetRoutes();
  const served = await (await assets.request("/novnc/core/util/browser.js")).text();
  expect(served).toContain("export let supportsWebCodecsH264Decode");
  expect(served).toContain("supportsWebCodecsH264Decode = false;");
  // Top-level statements start in the first column; none of them awaits.
  expect(served).not.toMatch(/^\S.*\bawait\b/m);
});
