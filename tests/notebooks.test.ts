// The whole course, as a learner runs it: every notebook executes on the built-in
// data, and every page of the exported site draws all of its plots offline.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { KERNEL_NAME } from "../scripts/jupyter";
import { CHROMIUM, CourseRun, ROOT, plotsIn, renderedDom, runCourse, tempDir } from "./helpers/notebooks";

const NOTEBOOKS = readdirSync(join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();

describe("committed notebooks", () => {
  it.each(NOTEBOOKS)("%s carries no outputs and runs on the course's tslab kernel", (file) => {
    const nb = JSON.parse(readFileSync(join(ROOT, "notebooks", file), "utf8"));
    expect(nb.metadata.kernelspec.name).toBe(KERNEL_NAME); // the rest of the metadata: setup.test.ts
    for (const cell of nb.cells) {
      if (cell.cell_type !== "code") continue;
      expect(cell.outputs).toEqual([]);
      expect(cell.execution_count).toBeNull();
    }
  });
});

describe("npm run course", () => {
  const out = tempDir("course-site-");
  let run: CourseRun;
  let summary: { notebook: string; seconds: number; ok: boolean; error: string | null }[];

  beforeAll(async () => {
    run = await runCourse(["--out", out]);
    summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
  }, 1_800_000);

  it("runs every notebook without an error", () => {
    expect(summary.map((r) => r.notebook)).toEqual(NOTEBOOKS.map((f) => f.replace(/\.ipynb$/, "")));
    for (const r of summary) expect({ notebook: r.notebook, error: r.error }).toEqual({ notebook: r.notebook, error: null });
    expect(run.status).toBe(0);
  });

  it("writes an index linking every page in order", () => {
    const index = readFileSync(join(out, "index.html"), "utf8");
    const links = [...index.matchAll(/href="([^"]+\.html)"/g)].map((m) => m[1]);
    expect(links).toEqual(NOTEBOOKS.map((f) => f.replace(/\.ipynb$/, ".html")));
  });

  it("makes pages that load nothing from the network or from system paths", () => {
    for (const f of NOTEBOOKS) {
      const html = readFileSync(join(out, f.replace(/\.ipynb$/, ".html")), "utf8");
      const srcs = [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
      for (const s of srcs) expect(s, `${f} loads ${s}`).not.toMatch(/^(https?:|file:|\/\/)/);
    }
  });

  it.runIf(CHROMIUM)("draws every plot of every page in headless Chromium, offline", async () => {
    for (const f of NOTEBOOKS) {
      const dom = await renderedDom(join(out, f.replace(/\.ipynb$/, ".html")));
      const { total, drawn } = plotsIn(dom);
      expect({ page: f, drawn }).toEqual({ page: f, drawn: total });
      if (f.startsWith("01")) expect(total).toBeGreaterThanOrEqual(5);
      if (/\$\$|\\\(/.test(readFileSync(join(ROOT, "notebooks", f), "utf8"))) expect(dom, `${f}: MathJax did not typeset`).toMatch(/MathJax_CHTML|mjx-chtml/);
    }
  }, 600_000);
});
