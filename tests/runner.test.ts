// The notebook runner must fail loudly: every way a tslab cell can go wrong stops
// the notebook, exits non-zero and prints the notebook, the cell and the real text.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CourseRun, runCourse, tempDir, writeNotebook } from "./helpers/notebooks";

describe("npm run course on broken notebooks", () => {
  const dir = tempDir("broken-nb-");
  const out = tempDir("broken-site-");
  let run: CourseRun;
  let summary: { notebook: string; ok: boolean; error: string | null; seconds: number }[];

  beforeAll(async () => {
    writeNotebook(join(dir, "01-fine.ipynb"), ["# Fine", "const a: number = 20;", "a + 22"]);
    writeNotebook(join(dir, "02-sync-throw.ipynb"), ["1", 'throw new Error("sync boom")', "console.log('never printed')"]);
    writeNotebook(join(dir, "03-async-rejection.ipynb"), ["1", 'Promise.reject(new Error("async boom")); 2', "3"]);
    writeNotebook(join(dir, "04-type-error.ipynb"), ["1", 'const s: string = 42;', "3"]);
    writeNotebook(join(dir, "05-late-exception.ipynb"), ['setTimeout(() => { throw new Error("late boom"); }, 50); 1']);
    writeNotebook(join(dir, "06-kernel-dies.ipynb"), ["1", "process.exit(3)", "2"]);
    run = await runCourse(["--notebooks", dir, "--out", out], 300_000);
    summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
  }, 300_000);

  it("exits non-zero", () => {
    expect(run.status).toBe(1);
  });
  it("runs the good notebook and reports it ok", () => {
    expect(summary.find((r) => r.notebook === "01-fine")).toMatchObject({ ok: true, error: null });
  });
  it("reports a thrown error with its message, notebook and cell", () => {
    expect(summary.find((r) => r.notebook === "02-sync-throw")?.error).toMatch(/Error: sync boom/);
    expect(run.stderr).toMatch(/02-sync-throw\.ipynb, cell 2[\s\S]*sync boom/);
  });
  it("reports an unhandled promise rejection that tslab only prints", () => {
    expect(summary.find((r) => r.notebook === "03-async-rejection")?.error).toMatch(/UnhandledPromiseRejection: Error: async boom/);
    expect(run.stderr).toMatch(/03-async-rejection\.ipynb, cell 2/);
  });
  it("reports a type error with tslab's diagnostic text", () => {
    expect(summary.find((r) => r.notebook === "04-type-error")?.error).toMatch(/Type 'number' is not assignable to type 'string'/);
    expect(run.stderr).toMatch(/04-type-error\.ipynb, cell 2/);
  });
  it("catches an exception thrown by a callback after the last cell finished", () => {
    expect(summary.find((r) => r.notebook === "05-late-exception")?.error).toMatch(/UncaughtException: Error: late boom/);
  });
  it("reports a kernel that died instead of waiting for it", () => {
    const r = summary.find((x) => x.notebook === "06-kernel-dies");
    expect(r?.error).toMatch(/kernel process died/);
    expect(r!.seconds).toBeLessThan(120);
    expect(run.stderr).toMatch(/06-kernel-dies\.ipynb, cell 2/);
  });
  it("stops a failed notebook at the failing cell", () => {
    const nb = JSON.parse(readFileSync(join(out, "02-sync-throw.ipynb"), "utf8"));
    const third = nb.cells[2];
    expect(third.execution_count).toBeNull();
    expect(third.outputs).toEqual([]);
  });
  it("still writes the failed notebook's page, with the error in it", () => {
    const html = readFileSync(join(out, "02-sync-throw.html"), "utf8");
    expect(html).toMatch(/sync boom/);
  });
  it("leaves the source notebooks untouched", () => {
    const src = JSON.parse(readFileSync(join(dir, "02-sync-throw.ipynb"), "utf8"));
    expect(src.cells.every((c: { outputs?: unknown[] }) => !c.outputs || c.outputs.length === 0)).toBe(true);
  });
});

describe("a cell that floods the output", () => {
  // tslab sends one message per console.log without waiting; zeromq ≥ 6 makes every
  // 513th send asynchronous and fails the next with EBUSY, and a publisher drops what
  // is past its high-water mark. scripts/tslab-preload queues the sends.
  it("keeps every line and the kernel alive", async () => {
    const dir = tempDir("flood-nb-");
    const out = tempDir("flood-site-");
    writeNotebook(join(dir, "01-flood.ipynb"), ["for (let i = 0; i < 3000; i++) console.log(i);", "'after'"]);
    const r = await runCourse(["--notebooks", dir, "--out", out, "--cell-timeout", "60"], 180_000);
    expect(r.status).toBe(0);
    const nb = JSON.parse(readFileSync(join(out, "01-flood.ipynb"), "utf8"));
    const text = nb.cells[0].outputs.map((o: { text: string | string[] }) => [o.text].flat().join("")).join("");
    const lines = text.trim().split("\n").map(Number);
    expect(lines).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  }, 180_000);
});

describe("npm run course arguments", () => {
  it("runs a subset by name prefix", async () => {
    const dir = tempDir("subset-nb-");
    const out = tempDir("subset-site-");
    writeNotebook(join(dir, "01-a.ipynb"), ["1"]);
    writeNotebook(join(dir, "02-b.ipynb"), ["2"]);
    const r = await runCourse(["--notebooks", dir, "--out", out, "02"], 120_000);
    expect(r.status).toBe(0);
    expect(existsSync(join(out, "02-b.html"))).toBe(true);
    expect(existsSync(join(out, "01-a.html"))).toBe(false);
  }, 120_000);
  it("exits 2 and lists the notebooks when a prefix matches none", async () => {
    const dir = tempDir("none-nb-");
    writeNotebook(join(dir, "01-a.ipynb"), ["1"]);
    const r = await runCourse(["--notebooks", dir, "--out", tempDir("none-site-"), "09"], 60_000);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no notebook .* matches 09; there are: 01-a/);
  });
});
