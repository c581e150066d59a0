// Test helpers: write tiny notebooks, run the course runner, read pages in Chromium.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(__dirname, "..", "..");

/** A notebook of code cells (strings starting with "#" become markdown). */
export function writeNotebook(path: string, cells: string[]): void {
  const nb = {
    cells: cells.map((s) =>
      s.startsWith("#")
        ? { cell_type: "markdown", metadata: {}, source: s }
        : { cell_type: "code", execution_count: null, metadata: {}, outputs: [], source: s },
    ),
    metadata: { kernelspec: { name: "tslab-course", display_name: "TypeScript (tslab, course)", language: "typescript" } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  writeFileSync(path, JSON.stringify(nb, null, 1));
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CourseRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a command without blocking the event loop (a blocked vitest worker misses its
 * RPC heartbeats): resolves with the exit status and the output.
 */
export function run(cmd: string, args: string[], timeoutMs: number): Promise<CourseRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolvePromise({ status, stdout, stderr }));
  });
}

/** `node dist/scripts/course.js …` (the build `npm test` makes first). */
export function runCourse(args: string[], timeoutMs = 1_800_000): Promise<CourseRun> {
  const script = join(ROOT, "dist", "scripts", "course.js");
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` (npm test does it)`);
  return run(process.execPath, [script, ...args], timeoutMs);
}

export const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => existsSync(p));

/** The DOM of a page after its scripts ran, from headless Chromium. */
export async function renderedDom(file: string, budgetMs = 20_000): Promise<string> {
  if (!CHROMIUM) throw new Error("no Chromium found: apt-get install chromium");
  const profile = tempDir("chromium-");
  const r = await run(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      `--virtual-time-budget=${budgetMs}`,
      "--dump-dom",
      `file://${file}`,
    ],
    120_000,
  );
  if (r.status !== 0) throw new Error(`chromium failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Plot divs in a rendered page, and how many of them plotly actually drew. */
export function plotsIn(dom: string): { total: number; drawn: number } {
  const divs = dom.match(/<div id="fig-[^"]+" class="course-plot[^"]*"/g) ?? [];
  const drawn = divs.filter((d) => d.includes("js-plotly-plot")).length;
  return { total: divs.length, drawn };
}
