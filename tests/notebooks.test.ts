// The whole course, as a learner runs it: every notebook executes on the built-in
// data, and the exported site is a book whose every page draws all of its plots offline.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { KERNEL_NAME } from "../scripts/jupyter";
import { CHROMIUM, CourseRun, ROOT, figureCount, inspectPages, pageProblems, runCourse, tempDir } from "./helpers/notebooks";

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

  it.runIf(CHROMIUM)("makes a book whose pages draw every figure offline, typeset their TeX and load plotly once from assets/", async () => {
    const names = NOTEBOOKS.map((f) => f.replace(/\.ipynb$/, ".html"));
    const [index, ...pages] = await inspectPages([join(out, "index.html"), ...names.map((n) => join(out, n))]);
    expect(index.navLinks).toEqual(names);
    for (const [i, r] of pages.entries()) {
      expect(pageProblems(r, figureCount(join(out, NOTEBOOKS[i])))).toEqual([]);
      expect(r.title).toBe(titleOf(join(ROOT, "notebooks", NOTEBOOKS[i])));
      expect(r.navLinks).toEqual(names);
      expect([r.prev, r.next]).toEqual([names[i - 1] ?? null, names[i + 1] ?? null]);
      const plotlyLoads = r.requests.filter((u) => u.endsWith("/assets/plotly.min.js")).length;
      expect({ page: names[i], plotlyLoads, inline: r.inlinePlotly }).toEqual({ page: names[i], plotlyLoads: r.plots.total > 0 ? 1 : 0, inline: 0 });
    }
  }, 900_000);
});

/** A notebook's first "# " heading. */
function titleOf(path: string): string {
  const nb = JSON.parse(readFileSync(path, "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
  for (const c of nb.cells) {
    const src = Array.isArray(c.source) ? c.source.join("") : c.source;
    const m = c.cell_type === "markdown" ? /^#\s+(.+)$/m.exec(src) : null;
    if (m) return m[1].trim();
  }
  return "";
}
