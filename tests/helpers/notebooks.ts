// Test helpers: write tiny notebooks, run the course runner, read pages in Chromium.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";

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
export function run(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<CourseRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, timeout: timeoutMs, env: env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolvePromise({ status, stdout, stderr }));
  });
}

/** `node dist/scripts/course.js …` (the build `npm test` makes first). */
export function runCourse(args: string[], timeoutMs = 1_800_000, env?: NodeJS.ProcessEnv): Promise<CourseRun> {
  const script = join(ROOT, "dist", "scripts", "course.js");
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` (npm test does it)`);
  return run(process.execPath, [script, ...args], timeoutMs, env);
}

export const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => existsSync(p));

export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

/** What a page is made of once Chromium has parsed it and run its scripts (read from the DOM, never from markup text). */
export interface PageReport {
  file: string;
  title: string;
  /** `.course-plot` divs, and how many of them plotly drew (`.js-plotly-plot`). */
  plots: { total: number; drawn: number };
  /** Text of figures that could not draw and said so (`.course-plot-missing`). */
  messages: string[];
  /** True when the page has TeX and MathJax typeset it. */
  hasMath: boolean;
  mathTypeset: boolean;
  /** Every URL the page requested; those not under the page's own folder; those that failed. */
  requests: string[];
  outside: string[];
  failed: string[];
  /** `src`/`href` of every script and stylesheet element. */
  resources: string[];
  /** Inline scripts that carry a plotly.js bundle. */
  inlinePlotly: number;
  /** Console errors. */
  consoleErrors: string[];
  /** Links of the book's contents (`nav.course-nav li a[href]`, in order). */
  navLinks: string[];
  /** `a[rel=prev]` / `a[rel=next]` targets, if any. */
  prev: string | null;
  next: string | null;
}

/**
 * Open each page in headless Chromium (playwright-core), offline: a request that leaves
 * the page's folder is recorded (and fails: the browser's proxy is a closed port). Waits (up to `budgetMs`) until every
 * figure drew or said why not, and until MathJax finished, then reads the DOM.
 */
export async function inspectPages(files: string[], budgetMs = 60_000): Promise<PageReport[]> {
  if (!CHROMIUM) throw new Error("no Chromium found: apt-get install chromium");
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"] });
  const reports: PageReport[] = [];
  try {
    for (const file of files) {
      // Offline: every network request goes to a proxy that is not there (and is recorded).
      // (Not page.route: intercepting file:// slows a 5 MB page down to a crawl.)
      const context = await browser.newContext();
      const page = await context.newPage();
      const dir = `file://${resolve(file, "..")}/`;
      const requests: string[] = [];
      const outside: string[] = [];
      const failed: string[] = [];
      const consoleErrors: string[] = [];
      page.on("request", (r) => {
        const url = r.url();
        requests.push(url);
        if (!(url.startsWith(dir) || url.startsWith("data:") || url.startsWith("blob:"))) outside.push(url);
      });
      page.on("requestfailed", (r) => failed.push(r.url()));
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
      });
      page.on("pageerror", (e) => consoleErrors.push(String(e)));
      await page.goto(`file://${resolve(file)}`, { waitUntil: "domcontentloaded", timeout: 120_000 });
      await page
        .waitForFunction(
          () => {
            const plots = [...document.querySelectorAll("div.course-plot")];
            const settled = plots.every((p) => p.classList.contains("js-plotly-plot") || p.querySelector(".course-plot-missing"));
            // TeX delimiters still visible in the prose = MathJax has not finished (or failed).
            const prose = [...document.querySelectorAll(".jp-MarkdownCell")].map((e) => (e as HTMLElement).innerText).join("\n");
            return settled && !/\$\$|\\\(|\\\[/.test(prose);
          },
          null,
          { timeout: budgetMs, polling: 200 },
        )
        .catch(() => undefined); // report what is there; the test says what is missing
      const dom = await page.evaluate(() => {
        // TeX delimiters left visible in the prose (not typeset), or what MathJax made of TeX.
        const prose = [...document.querySelectorAll(".jp-MarkdownCell")].map((e) => (e as HTMLElement).innerText).join("\n");
        const untypeset = /\$\$|\\\(|\\\[/.test(prose);
        const typeset = document.querySelector(".jp-MarkdownCell .MathJax_CHTML, .jp-MarkdownCell mjx-chtml") !== null;
        const hasMath = typeset || untypeset;
        const mathTypeset = typeset && !untypeset;
        const attr = (sel: string, a: string) => [...document.querySelectorAll(sel)].map((e) => e.getAttribute(a) ?? "");
        return {
          title: document.title,
          total: document.querySelectorAll("div.course-plot").length,
          drawn: document.querySelectorAll("div.course-plot.js-plotly-plot").length,
          messages: [...document.querySelectorAll(".course-plot-missing")].map((e) => (e as HTMLElement).innerText),
          hasMath,
          mathTypeset,
          resources: [...attr("script[src]", "src"), ...attr("link[href]", "href")],
          inlinePlotly: [...document.querySelectorAll("script:not([src])")].filter((s) => /plotly\.js v\d/.test(s.textContent ?? "")).length,
          navLinks: attr("nav.course-nav li a[href]", "href"),
          prev: document.querySelector("a[rel=prev]")?.getAttribute("href") ?? null,
          next: document.querySelector("a[rel=next]")?.getAttribute("href") ?? null,
        };
      });
      reports.push({
        file,
        title: dom.title,
        plots: { total: dom.total, drawn: dom.drawn },
        messages: dom.messages,
        hasMath: dom.hasMath,
        mathTypeset: dom.mathTypeset,
        requests,
        outside,
        failed,
        resources: dom.resources,
        inlinePlotly: dom.inlinePlotly,
        consoleErrors,
        navLinks: dom.navLinks,
        prev: dom.prev,
        next: dom.next,
      });
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return reports;
}

/**
 * What is wrong with an exported page (empty when nothing): a figure not drawn, TeX not
 * typeset, a request that left the page's folder or failed, a console error.
 * `expectedPlots`: the number of figures the notebook showed, when known.
 */
export function pageProblems(r: PageReport, expectedPlots?: number): string[] {
  const p: string[] = [];
  const name = basename(r.file);
  if (expectedPlots !== undefined && r.plots.total !== expectedPlots) p.push(`${name}: ${r.plots.total} figure divs, the notebook showed ${expectedPlots}`);
  if (r.plots.drawn !== r.plots.total) p.push(`${name}: ${r.plots.drawn} of ${r.plots.total} figures drawn`);
  for (const m of r.messages) p.push(`${name}: a figure says: ${m}`);
  if (r.hasMath && !r.mathTypeset) p.push(`${name}: MathJax did not typeset the TeX`);
  for (const u of r.outside) p.push(`${name}: requests ${u} (outside the site)`);
  for (const u of r.failed) p.push(`${name}: could not load ${u}`);
  for (const e of r.consoleErrors) p.push(`${name}: console error: ${e}`);
  return p;
}

/** How many figures (`show(fig)` outputs) an executed notebook holds. */
export function figureCount(ipynbPath: string): number {
  const nb = JSON.parse(readFileSync(ipynbPath, "utf8")) as { cells: { outputs?: { data?: Record<string, string | string[]> }[] }[] };
  let n = 0;
  for (const c of nb.cells)
    for (const o of c.outputs ?? []) {
      const html = o.data?.["text/html"];
      const s = Array.isArray(html) ? html.join("") : (html ?? "");
      n += s.split('class="course-plot"').length - 1;
    }
  return n;
}

/**
 * Does `text` render with real glyphs in the font of the first element matching
 * `selector`? Draws each character on a canvas in that font: real glyphs differ from
 * one another and from a missing-glyph box (U+10FFFD has no glyph in any font), and
 * the text's width differs from that of as many boxes.
 */
export async function glyphCheck(file: string, selector: string, text: string): Promise<{ font: string; distinct: boolean; width: number; boxesWidth: number }> {
  if (!CHROMIUM) throw new Error("no Chromium found: apt-get install chromium");
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.goto(`file://${resolve(file)}`, { waitUntil: "domcontentloaded", timeout: 120_000 });
    return await page.evaluate(
      ([sel, t]) => {
        const el = document.querySelector(sel);
        if (!el) throw new Error(`no ${sel} in the page`);
        const cs = getComputedStyle(el);
        const font = `${cs.fontWeight} 32px ${cs.fontFamily}`;
        const box = String.fromCodePoint(0x10fffd);
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = 48;
        const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
        ctx.font = font;
        const image = (ch: string): string => {
          ctx.clearRect(0, 0, 48, 48);
          ctx.fillText(ch, 4, 36);
          const d = ctx.getImageData(0, 0, 48, 48).data;
          let h = "";
          for (let i = 3; i < d.length; i += 4) h += d[i] > 127 ? "1" : "0";
          return h;
        };
        const chars = [...t];
        const images = chars.map(image);
        const blank = "0".repeat(48 * 48);
        const distinct = new Set([...images, image(box)]).size === chars.length + 1 && !images.includes(blank);
        return { font, distinct, width: ctx.measureText(t).width, boxesWidth: ctx.measureText(box.repeat(chars.length)).width };
      },
      [selector, text] as [string, string],
    );
  } finally {
    await browser.close();
  }
}
