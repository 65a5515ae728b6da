// Checks of a page as a person sees it, at one window width, in Chromium: nothing wider than the
// window (a wide table may scroll inside its own box, the page never sideways), and no token —
// an IPv4 address or block, a protocol/port, an ISO 8601 time — broken across two lines. Each
// check also saves a screenshot, so a person can look at what the test saw.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";

/** The three widths every page must hold at: a laptop, a tablet, a phone. */
export const WIDTHS = [1280, 768, 390] as const;

/** Where the screenshots go (MEETPOINT_SCREENSHOTS, else a directory in the system's temp). */
export function screenshotDir(product: string): string {
  const dir = join(process.env.MEETPOINT_SCREENSHOTS ?? "/tmp/meetpoint-screenshots", product);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Elements that stick out of the window (and are not inside a box that scrolls or clips them
 * while fitting itself), and a page that scrolls sideways; as readable descriptions.
 */
export function overflowProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const problems: string[] = [];
    const name = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.classList.length ? `.${Array.from(el.classList).join(".")}` : ""} "${(el.textContent ?? "").trim().slice(0, 40)}"`;
    if (document.documentElement.scrollWidth > width + 1)
      problems.push(
        `the page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`,
      );
    for (const el of Array.from(document.body.querySelectorAll("*"))) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      if (box.right <= width + 1 && box.left >= -1) continue;
      let held = false;
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        const overflow = getComputedStyle(up).overflowX;
        if (overflow === "auto" || overflow === "scroll" || overflow === "hidden") {
          const outer = up.getBoundingClientRect();
          held = outer.right <= width + 1 && outer.left >= -1;
          break;
        }
      }
      if (!held)
        problems.push(`${name(el)} spans ${Math.round(box.left)}–${Math.round(box.right)} px`);
    }
    return problems;
  });
}

/**
 * Tokens broken across lines: every IPv4 address (or block), protocol/port and ISO 8601 time in
 * the page's text must sit on one line, wherever it is (class or not).
 */
export function brokenTokens(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const pattern =
      /\b\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?\b|\b(?:tcp|udp)\/\d{1,5}\b|\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/g;
    const broken: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent ?? "";
      for (const match of text.matchAll(pattern)) {
        const range = document.createRange();
        range.setStart(node, match.index ?? 0);
        range.setEnd(node, (match.index ?? 0) + match[0].length);
        const tops = new Set(
          Array.from(range.getClientRects())
            .filter((r) => r.width > 0)
            .map((r) => Math.round(r.top)),
        );
        if (tops.size > 1) broken.push(`"${match[0]}" breaks over ${tops.size} lines`);
      }
    }
    return broken;
  });
}

/**
 * Checks the page at its current width and saves a screenshot named `label`; returns what is
 * wrong (empty when nothing is). `fullPage` screenshots show everything below the fold too.
 */
export async function layoutProblems(page: Page, dir: string, label: string): Promise<string[]> {
  const width = page.viewportSize()?.width ?? 0;
  // caret "initial": hiding the caret injects a style element, which the pages' CSP refuses.
  await page.screenshot({
    path: join(dir, `${label}-${width}.png`),
    fullPage: true,
    caret: "initial",
  });
  const problems = [...(await overflowProblems(page)), ...(await brokenTokens(page))];
  return problems.map((p) => `${label} at ${width} px: ${p}`);
}
