// The whole course, as a learner runs it: every notebook executes on the built-in
// data, and every page of the exported site draws all of its plots offline.
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

  it.runIf(CHROMIUM)("draws every figure of every page in headless Chromium, offline, and typesets its TeX", async () => {
    const pages = NOTEBOOKS.map((f) => join(out, f.replace(/\.ipynb$/, ".html")));
    const reports = await inspectPages(pages);
    for (const [i, r] of reports.entries()) {
      expect(pageProblems(r, figureCount(join(out, NOTEBOOKS[i])))).toEqual([]);
    }
  }, 600_000);
});
