// `npm run course [-- PREFIX …]`: execute every notebook in order on the tslab
// kernel and build an offline HTML site in site/.
//
//   site/NN-name.ipynb   the executed notebook (the source in notebooks/ is untouched)
//   site/NN-name.html    the same, as a page
//   site/index.html      links to the pages, in order, with status and time
//   site/summary.json    [{"notebook", "seconds", "ok", "error"}]
//   site/assets/         MathJax and require.js, so pages need no network
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
}

export const CLI = defineCli({
  program: "course",
  usage: "usage: npm run course [-- [PREFIX …] [--notebooks DIR] [--out DIR] [--cell-timeout S]]",
  summary: "Relative paths are read from the directory you ran the command in.",
  positionals: { name: "PREFIX", help: "run only notebooks whose name starts with it (e.g. 01 03)" },
  flags: {
    notebooks: { type: "string", metavar: "DIR", help: "notebooks to run (default notebooks/)" },
    out: { type: "string", metavar: "DIR", help: "where the site goes (default site/)" },
    "cell-timeout": { type: "integer", min: 1, max: 86_400, default: 600, metavar: "S", help: "seconds one cell may take" },
  },
});

/** The flags, checked: a notebooks directory that exists, paths resolved against the user's directory. */
export function parseCourseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): "help" | { nbDir: string; out: string; cellTimeout: number; prefixes: string[] } {
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
  return { nbDir, out, cellTimeout: v["cell-timeout"], prefixes: parsed.positionals };
}

/** Copy the pieces of MathJax 2 and require.js the exported pages load. */
export function copyAssets(out: string): void {
  const assets = join(out, "assets");
  const mj = dirname(require.resolve("mathjax/MathJax.js"));
  const parts = ["MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions", "jax/input/TeX", "jax/output/CommonHTML", "jax/element", "fonts/HTML-CSS/TeX/woff", "localization/en"];
  for (const p of parts) {
    const dst = join(assets, "mathjax", p);
    if (!existsSync(dst)) cpSync(join(mj, p), dst, { recursive: true });
  }
  cpSync(require.resolve("requirejs/require.js"), join(assets, "require.min.js"));
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

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function writeIndex(out: string, names: string[], nbDir: string, results: Map<string, NotebookResult>): void {
  const items = names
    .map((name) => {
      const r = results.get(name);
      const status = !r ? "not run" : r.ok ? `ran in ${r.seconds.toFixed(1)} s` : `<strong>failed</strong> (cell ${r.cell ?? "?"})`;
      const title = esc(titleOf(join(nbDir, `${name}.ipynb`)));
      const link = existsSync(join(out, `${name}.html`)) ? `<a href="${name}.html">${title}</a>` : title;
      return `<li>${link} <small>— ${esc(name)}, ${status}</small></li>`;
    })
    .join("\n");
  writeFileSync(
    join(out, "index.html"),
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Deep learning from y = b + wx to phi-2</title>
<style>body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;line-height:1.5}li{margin:.4em 0}</style></head>
<body><h1>Deep learning from <i>y = b + wx</i> to phi-2</h1>
<p>TypeScript notebooks following Hung-yi Lee's ML 2021 lecture 1, executed by <code>npm run course</code>. Every number on these pages was computed in that run or is cited beside it.</p>
<ol>
${items}
</ol></body></html>
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
      [join(ROOT, "scripts", "nbexec.py"), join(nbDir, `${name}.ipynb`), "--out-ipynb", join(out, `${name}.ipynb`), "--out-html", join(out, `${name}.html`), "--cell-timeout", String(args.cellTimeout)],
      { env, encoding: "utf8", maxBuffer: 1 << 26 },
    );
    const last = (r.stdout ?? "").trim().split("\n").pop() ?? "";
    let res: NotebookResult;
    try {
      const j = JSON.parse(last) as { ok: boolean; error: string | null; cell: number | null; seconds: number };
      res = { notebook: name, seconds: j.seconds, ok: j.ok, error: j.error, cell: j.cell };
    } catch {
      const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
      const said = (r.stderr ?? "").trim() || "no output";
      res = { notebook: name, seconds: 0, ok: false, error: `the notebook runner (scripts/nbexec.py) ended without a result (${how}):\n${said}`, cell: null };
    }
    results.set(name, res);
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
  writeIndex(out, all, nbDir, results);
  const written = pages === 0 ? "no page written" : `${pages} page(s) written`;
  console.log(`${chosen.length - failed} of ${chosen.length} notebook(s) ran; ${written}; index: ${join(out, "index.html")}`);
  return failed > 0 ? 1 : 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
