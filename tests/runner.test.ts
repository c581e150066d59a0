// The notebook runner must fail loudly: every way a tslab cell can go wrong stops
// the notebook, exits non-zero and prints the notebook, the cell and the real text.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { findJupyterPython } from "../scripts/jupyter";
import { CourseRun, ROOT, run as runCommand, runCourse, tempDir, writeNotebook } from "./helpers/notebooks";

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
    writeNotebook(join(dir, "07-exit-zero.ipynb"), ["1", "process.exit(0)", "2"]);
    // A rejection that fires after the last cell has finished (issue 11: once reported green).
    writeNotebook(join(dir, "08-late-1s.ipynb"), ["1", 'setTimeout(() => Promise.reject(new Error("late after 1 s")), 1000)']);
    writeNotebook(join(dir, "09-late-5s.ipynb"), ['setTimeout(() => Promise.reject(new Error("late after 5 s")), 5000); 1']);
    writeNotebook(join(dir, "10-late-fine.ipynb"), ['let done = false; setTimeout(() => { done = true; console.log("late but fine"); }, 1500); 1']);
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
    expect(r?.error).toMatch(/kernel process exited with code 3 during cell 2: a cell called process\.exit\(3\)/);
    expect(r!.seconds).toBeLessThan(120);
    expect(run.stderr).toMatch(/06-kernel-dies\.ipynb, cell 2/);
  });
  it("says a cell called process.exit(0) rather than blaming memory", () => {
    const r = summary.find((x) => x.notebook === "07-exit-zero");
    expect(r?.error).toMatch(/kernel process exited with code 0 during cell 2: did a cell call process\.exit\(\)\?/);
    expect(r?.error).not.toMatch(/memory/);
    expect(run.stderr).toMatch(/07-exit-zero\.ipynb, cell 2/);
  });
  it("fails on a rejection 1 s after the last cell, naming it, the notebook and the cell", () => {
    const r = summary.find((x) => x.notebook === "08-late-1s");
    expect(r?.ok).toBe(false);
    expect(r?.error).toMatch(/^after the last cell \(cell 2\) had finished, within \d+\.\d s: UnhandledPromiseRejection: Error: late after 1 s/);
    expect(run.stderr).toMatch(/08-late-1s\.ipynb, cell 2[^\n]*\n[^\n]*UnhandledPromiseRejection: Error: late after 1 s/);
  });
  it("fails on a rejection 5 s after the last cell", () => {
    const r = summary.find((x) => x.notebook === "09-late-5s");
    expect(r?.ok).toBe(false);
    expect(r?.error).toMatch(/^after the last cell \(cell 1\) had finished, within \d+\.\d s: UnhandledPromiseRejection: Error: late after 5 s/);
    expect(Number(/within (\d+\.\d) s/.exec(r?.error ?? "")?.[1])).toBeGreaterThanOrEqual(4.5);
    expect(run.stderr).toMatch(/09-late-5s\.ipynb, cell 1[^\n]*\n[^\n]*UnhandledPromiseRejection: Error: late after 5 s/);
  });
  it("waits for a late callback that succeeds, shows its output in the last cell, and passes", () => {
    expect(summary.find((x) => x.notebook === "10-late-fine")).toMatchObject({ ok: true, error: null });
    const nb = JSON.parse(readFileSync(join(out, "10-late-fine.ipynb"), "utf8"));
    const text = nb.cells[0].outputs.map((o: { text?: string | string[] }) => [o.text ?? ""].flat().join("")).join("");
    expect(text).toContain("late but fine");
  });
  it("puts the late error on the page too, in the last cell", () => {
    const nb = JSON.parse(readFileSync(join(out, "08-late-1s.ipynb"), "utf8"));
    const text = nb.cells[1].outputs.map((o: { text?: string | string[] }) => [o.text ?? ""].flat().join("")).join("");
    expect(text).toContain("UnhandledPromiseRejection: Error: late after 1 s");
    expect(readFileSync(join(out, "08-late-1s.html"), "utf8")).toContain("late after 1 s");
  });
  it("numbers the executed cells from 1 (the runner's own probes are not counted)", () => {
    const nb = JSON.parse(readFileSync(join(out, "01-fine.ipynb"), "utf8"));
    expect(nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code").map((c: { execution_count: number }) => c.execution_count)).toEqual([1, 2]);
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

describe("a notebook that never goes idle", () => {
  // A never-ending setInterval: the runner cannot vouch for errors it would raise later,
  // so the run fails, at the --idle-timeout bound, saying what is still pending.
  it("ends at the bound with a clear message, as a failure", async () => {
    const dir = tempDir("interval-nb-");
    const out = tempDir("interval-site-");
    writeNotebook(join(dir, "01-interval.ipynb"), ['setInterval(() => console.log("tick"), 500); 1']);
    const t0 = Date.now();
    const r = await runCourse(["--notebooks", dir, "--out", out, "--idle-timeout", "3"], 150_000);
    const seconds = (Date.now() - t0) / 1000;
    expect(r.status).toBe(1);
    const [res] = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { ok: boolean; error: string }[];
    expect(res.ok).toBe(false);
    expect(res.error).toMatch(/still busy at the --idle-timeout bound of 3 s, with Timeout pending/);
    expect(res.error).toMatch(/setInterval without clearInterval/);
    expect(r.stderr).toMatch(/01-interval\.ipynb, cell 1[^\n]*\n[^\n]*--idle-timeout bound of 3 s/);
    expect(seconds).toBeLessThan(140); // it ended, at the bound (plus the kernel's start), instead of hanging
    const nb = JSON.parse(readFileSync(join(out, "01-interval.ipynb"), "utf8"));
    expect([nb.cells[0].outputs].flat().map((o: { text?: string[] }) => (o.text ?? []).join("")).join("")).toMatch(/tick/);
  }, 150_000);
});

describe("a notebook the runner cannot even read", () => {
  it("fails it without claiming a page was written, and removes the earlier run's page", async () => {
    const dir = tempDir("unreadable-nb-");
    const out = tempDir("unreadable-site-");
    writeFileSync(join(dir, "01-broken.ipynb"), "{ this is not JSON");
    writeFileSync(join(out, "01-broken.html"), "<p>a page from an earlier run</p>");
    const r = await runCourse(["--notebooks", dir, "--out", out], 120_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/✗ 01-broken\.ipynb:\nthe notebook runner \(scripts\/nbexec\.py\) ended without a result \(exit code 1\):[\s\S]*JSON/);
    expect(r.stderr).toMatch(/\(no page was written for it\)/);
    expect(r.stderr).not.toMatch(/its page/);
    expect(r.stdout).toMatch(/0 of 1 notebook\(s\) ran; no page written; index: /);
    expect(existsSync(join(out, "01-broken.html"))).toBe(false);
  }, 120_000);
});

describe("a huge output on the runner's side", () => {
  // 200,000 stream messages of 40 characters into one output (8 MB). Appending each to a
  // str copied the text so far every time: terabytes here, hours. Chunks joined once: seconds.
  it("keeps every chunk, in order, in one output", async () => {
    const python = findJupyterPython();
    expect(python, "Jupyter's Python (npm run setup)").toBeTruthy();
    const script = `
import importlib.util, sys
import nbformat
spec = importlib.util.spec_from_file_location("nbexec", sys.argv[1])
nbexec = importlib.util.module_from_spec(spec); spec.loader.exec_module(nbexec)
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("loop")])
outputs = nbexec.Outputs(nb); outputs.cell_of["m"] = 0
line = "x" * 32
for i in range(200000):
    outputs.add({"parent_header": {"msg_id": "m"}, "msg_type": "stream", "content": {"name": "stdout", "text": f"{i:06d} {line}\\n"}})
    if i == 100000:
        outputs.add({"parent_header": {"msg_id": "m"}, "msg_type": "stream", "content": {"name": "stderr", "text": "UnhandledPromiseRejection: mid\\n"}})
        assert "mid" in outputs.stderr_of(nb.cells[0])
outputs.finish()
outs = nb.cells[0].outputs
print(len(outs), [o["name"] for o in outs], sum(len(o["text"]) for o in outs))
expected = "".join(f"{i:06d} {line}\\n" for i in range(200000))
assert outs[0]["text"] + outs[2]["text"] == expected, "text differs"
nbformat.validate(nb)
print("ok")
`;
    const r = await runCommand(python as string, ["-c", script, join(ROOT, "scripts", "nbexec.py")], 55_000);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual([`3 ['stdout', 'stderr', 'stdout'] ${200000 * 40 + 31}`, "ok"]);
  });
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
