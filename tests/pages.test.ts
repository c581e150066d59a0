// The checks on exported pages hold for both exporters the course meets: Debian's
// nbconvert 6.5 (writes `<div id=… class=…>`) and pip's nbconvert 7 (writes
// `<div class=… id=…>`). The pages are read as a DOM in Chromium, not as text.
import { copyFileSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { PLOTLY_MARK } from "../lib/plot";
import { copyAssets } from "../scripts/course";
import { findJupyterPython } from "../scripts/jupyter";
import { CHROMIUM, CourseRun, PageReport, ROOT, figureCount, glyphCheck, inspectPages, pageProblems, run as runCmd, runCourse, tempDir, writeNotebook } from "./helpers/notebooks";

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

  describe("this machine's nbconvert, on two small notebooks (a figure, TeX, a Chinese heading)", () => {
    const nbDir = tempDir("pages-nb-");
    const out = tempDir("pages-site-");
    const dataDir = tempDir("jupyter-data-"); // where the runner signs (the user's Jupyter data dir)
    const env = { ...process.env, JUPYTER_DATA_DIR: dataDir };
    let run: CourseRun;
    let pages: PageReport[];
    let index: PageReport;
    beforeAll(async () => {
      const plot = join(ROOT, "dist", "lib", "plot");
      writeNotebook(join(nbDir, "01-tiny.ipynb"), [
        "# A tiny page · 梯度下降\n\nThe line $$y = b + w x_1$$ and \\(L = \\frac{1}{N}\\sum_n |e_n|\\).",
        `import { show, line } from ${JSON.stringify(plot)};`,
        "show({ data: [line([1, 2, 3], [2, 4, 6])] })",
        "show({ data: [line([1, 2, 3], [3, 2, 1])] })",
      ]);
      writeNotebook(join(nbDir, "02-second.ipynb"), ["# The second page", `import { show, line } from ${JSON.stringify(plot)};`, "show({ data: [line([1, 2], [2, 1])] })"]);
      writeNotebook(join(nbDir, "03-no-figure.ipynb"), ["# The third page", "1 + 1"]);
      run = await runCourse(["--notebooks", nbDir, "--out", out], 300_000, env);
      expect(run.status, run.stdout + run.stderr).toBe(0);
      [index, ...pages] = await inspectPages([join(out, "index.html"), ...["01-tiny", "02-second", "03-no-figure"].map((n) => join(out, `${n}.html`))]);
    }, 300_000);

    it("draws every figure each notebook showed and typesets its TeX, offline", () => {
      expect(figureCount(join(out, "01-tiny.ipynb"))).toBe(2);
      for (const r of pages) expect(pageProblems(r, figureCount(r.file.replace(/\.html$/, ".ipynb")))).toEqual([]);
      expect(pages[0].hasMath).toBe(true);
    });

    it("loads plotly.js once, from assets/, and only on pages with figures", () => {
      for (const r of pages) {
        const loads = r.requests.filter((u) => u.endsWith("/assets/plotly.min.js"));
        expect({ page: r.file, loads: loads.length, inline: r.inlinePlotly }).toEqual({ page: r.file, loads: r.plots.total > 0 ? 1 : 0, inline: 0 });
      }
      expect(readdirSync(join(out, "assets"))).toEqual(expect.arrayContaining(["plotly.min.js", "require.min.js", "mathjax"]));
    });

    it("shares nbconvert's stylesheet between pages instead of inlining it in each", () => {
      const css = pages.map((r) => r.resources.filter((u) => /^assets\/nbconvert-[0-9a-f]+\.css$/.test(u)));
      expect(css[0].length).toBeGreaterThan(0);
      for (const c of css) expect(c).toEqual(css[0]);
      for (const r of pages) expect(statSync(r.file).size).toBeLessThan(200_000);
    });

    it("makes a book: titles, contents on every page, previous/next, the index with the run's facts", () => {
      const names = ["01-tiny.html", "02-second.html", "03-no-figure.html"];
      expect(pages.map((r) => r.title)).toEqual(["A tiny page · 梯度下降", "The second page", "The third page"]);
      for (const r of [index, ...pages]) expect(r.navLinks).toEqual(names);
      expect(pages.map((r) => [r.prev, r.next])).toEqual([[null, names[1]], [names[0], names[2]], [names[1], null]]);
      const html = readFileSync(join(out, "index.html"), "utf8");
      expect(html).toMatch(/<dt>date<\/dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d/);
      expect(html).toMatch(/<dt>data<\/dt><dd>built-in/);
      expect(html).toMatch(/<dt>backend<\/dt><dd>(wasm|tensorflow|COURSE_BACKEND)/);
      expect(html).toMatch(/ran in \d+\.\d s/);
    });

    it("keeps the executed notebooks self-contained and signs them, so Jupyter opens them trusted", async () => {
      const nb = readFileSync(join(out, "01-tiny.ipynb"), "utf8");
      expect(nb).toContain(PLOTLY_MARK);
      const py = findJupyterPython();
      const check = await runCmd(
        py as string,
        ["-c", "import sys, nbformat; from nbformat.sign import NotebookNotary as N; n = N(data_dir=sys.argv[1]); print([n.check_signature(nbformat.read(p, 4)) for p in sys.argv[2:]])", dataDir, join(out, "01-tiny.ipynb"), join(out, "02-second.ipynb"), join(nbDir, "01-tiny.ipynb")],
        60_000,
      );
      expect(check.stdout.trim(), check.stderr).toBe("[True, True, False]");
    });

    it.runIf(CHROMIUM)("renders the Chinese heading with real glyphs (a CJK font is installed)", async () => {
      const r = await glyphCheck(join(out, "01-tiny.html"), "h1", "梯度下降");
      expect(r.distinct, `glyphs of 梯度下降 in ${r.font} look like missing-glyph boxes`).toBe(true);
      expect(r.width).not.toBeCloseTo(r.boxesWidth, 0);
    }, 180_000);
  });
});
