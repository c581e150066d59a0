// The checks on exported pages hold for both exporters the course meets: Debian's
// nbconvert 6.5 (writes `<div id=… class=…>`) and pip's nbconvert 7 (writes
// `<div class=… id=…>`). The pages are read as a DOM in Chromium, not as text.
import { copyFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { copyAssets } from "../scripts/course";
import { CHROMIUM, PageReport, ROOT, figureCount, inspectPages, pageProblems, runCourse, tempDir, writeNotebook } from "./helpers/notebooks";

const FIXTURE = join(ROOT, "tests", "fixtures", "nbconvert7", "01-function-and-loss.html");

describe.runIf(CHROMIUM)("page checks on both nbconvert versions", () => {
  it("pass on notebook 01 as pip's nbconvert 7.17 exported it", async () => {
    const dir = tempDir("nbconvert7-");
    copyFileSync(FIXTURE, join(dir, "01-function-and-loss.html"));
    copyAssets(dir); // the page loads require.js and MathJax from assets/
    const [r] = await inspectPages([join(dir, "01-function-and-loss.html")]);
    expect(pageProblems(r)).toEqual([]);
    expect(r.plots.total).toBeGreaterThan(0);
    expect(r.hasMath).toBe(true);
  }, 120_000);

  describe("this machine's nbconvert, on a small notebook with a figure and TeX", () => {
    const nbDir = tempDir("pages-nb-");
    const out = tempDir("pages-site-");
    let r: PageReport;
    beforeAll(async () => {
      const plot = join(ROOT, "dist", "lib", "plot");
      writeNotebook(join(nbDir, "01-tiny.ipynb"), [
        "# A tiny page\n\nThe line $$y = b + w x_1$$ and \\(L = \\frac{1}{N}\\sum_n |e_n|\\).",
        `import { show, line } from ${JSON.stringify(plot)};`,
        "show({ data: [line([1, 2, 3], [2, 4, 6])] })",
        "show({ data: [line([1, 2, 3], [3, 2, 1])] })",
      ]);
      const run = await runCourse(["--notebooks", nbDir, "--out", out], 300_000);
      expect(run.status, run.stdout + run.stderr).toBe(0);
      [r] = await inspectPages([join(out, "01-tiny.html")]);
    }, 300_000);

    it("draws every figure the notebook showed and typesets its TeX, offline", () => {
      expect(figureCount(join(out, "01-tiny.ipynb"))).toBe(2);
      expect(pageProblems(r, figureCount(join(out, "01-tiny.ipynb")))).toEqual([]);
      expect(r.hasMath).toBe(true);
    });
    it("writes the site's files next to the page", () => {
      expect(readdirSync(out)).toEqual(expect.arrayContaining(["01-tiny.html", "01-tiny.ipynb", "index.html", "assets"]));
    });
  });
});
