// Plotly figures from a notebook cell.
//
// Each figure is a <div> plus a <script> that calls Plotly.newPlot. The plotly.js
// bundle travels once per kernel process, with the first figure, gzip-compressed
// (4.8 MB → 2 MB of base64) and unpacked by the browser (DecompressionStream), so the
// figures work live in Jupyter and in the saved notebook offline: nothing comes from
// a CDN. The exported HTML pages drop that copy and load site/assets/plotly.min.js
// instead (scripts/nbexec.py looks for the PLOTLY_MARK attribute).
//
// A figure never goes blank without a word: the div holds a message until plotly has
// drawn it. If plotly.js is not in the page (the page was reloaded, or the notebook
// opened in a second view, after the kernel had sent it) the message says how to
// get it back: resendPlotly(), then run the cell again.
import { readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { gzipSync } from "node:zlib";
import { showHtml } from "./display";

/** A plotly trace or layout: plain JSON, as plotly.js documents it. */
export type Json = { [key: string]: unknown };

export interface Figure {
  data: Json[];
  layout?: Json;
  config?: Json;
}

/** The attribute that marks the <script> carrying the plotly bundle (the HTML export removes it). */
export const PLOTLY_MARK = "data-course-plotly";

let plotlyInlined = false;
let figureCount = 0;
let packed: string | undefined;

/** The plotly.js bundle's source (plotly.js-dist-min ≥ 3: it sets window.Plotly, also under require.js). */
export function plotlySource(): string {
  return readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8");
}

/** Send plotly.js again with the next figure (after a page reload: see the module comment). */
export function resendPlotly(): void {
  plotlyInlined = false;
}

/** Forget that plotly was inlined (tests). */
export const resetPlotlyInlining = resendPlotly;

/**
 * A <script> that puts plotly.js into the page: the bundle gzipped and base64-encoded,
 * unpacked with DecompressionStream and run as a global script. Does nothing when the
 * page already has (or is unpacking) plotly.
 */
export function plotlyLoaderHtml(): string {
  packed ??= gzipSync(Buffer.from(plotlySource(), "utf8"), { level: 9 }).toString("base64");
  return (
    `<script type="text/javascript" ${PLOTLY_MARK}="gzip+base64">(function () {\n` +
    `  if (window.Plotly || window.__coursePlotlyLoading) return;\n` +
    `  window.__coursePlotlyLoading = true;\n` +
    `  var bin = atob("${packed}"), bytes = new Uint8Array(bin.length);\n` +
    `  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);\n` +
    `  new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text().then(function (src) {\n` +
    `    var s = document.createElement("script");\n` +
    `    s.textContent = src;\n` +
    `    document.head.appendChild(s);\n` +
    `  }).catch(function (e) { console.error("plotly.js could not be unpacked:", e); })\n` +
    `    .then(function () { window.__coursePlotlyLoading = false; });\n` +
    `})();</script>\n`
  );
}

/** JSON that is safe inside a <script> element. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

const escapeText = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** How a notebook in the kernel's directory imports this module ("../dist/lib/plot"). */
function importPath(): string {
  const rel = relative(process.cwd(), join(__dirname, "plot")).split(sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/** What a figure says when plotly.js is not in the page (HTML, escaped). */
export function missingPlotlyMessage(): string {
  const code = `import { resendPlotly } from "${importPath()}"; resendPlotly();`;
  return (
    "plotly.js is not in this page, so this figure cannot be drawn. The kernel sends plotly.js once, " +
    "with its first figure, and this page was reloaded (or opened in a second view) after that. " +
    `To draw it: run <code>${escapeText(code)}</code> in a cell, then run this cell again ` +
    "(or restart the kernel and run all cells). In an exported page: assets/plotly.min.js did not load."
  );
}

const PENDING =
  "This figure is drawn by a script that has not run. In Jupyter: trust the notebook " +
  "(it is signed when the course runner wrote it) or run the cell.";

/**
 * HTML for one figure. `withPlotly` prepends the plotly loader. The drawing script
 * waits for window.Plotly (an earlier output, or the page's assets, may still be loading
 * it); when nothing is loading it, the div says what to do, and still draws if plotly
 * arrives later.
 */
export function figureHtml(fig: Figure, withPlotly: boolean, height = 420): string {
  const id = `fig-${process.pid}-${++figureCount}`;
  const layout: Json = { height, margin: { l: 60, r: 20, t: 50, b: 50 }, ...fig.layout };
  const config: Json = { responsive: true, displaylogo: false, ...fig.config };
  const note = "padding:1em;border:1px dashed #c66;color:#933;font:14px/1.4 sans-serif;";
  return (
    (withPlotly ? plotlyLoaderHtml() : "") +
    `<div id="${id}" class="course-plot" style="width:100%;height:${height}px;">` +
    `<div class="course-plot-pending" style="${note}">${PENDING}</div></div>\n` +
    `<script type="text/javascript">(function () {\n` +
    `  var data = ${scriptJson(fig.data)}, layout = ${scriptJson(layout)}, config = ${scriptJson(config)};\n` +
    `  var missing = ${scriptJson(missingPlotlyMessage())};\n` +
    `  function draw(n) {\n` +
    `    var el = document.getElementById("${id}");\n` +
    `    if (!el) { if (n < 200) setTimeout(function () { draw(n + 1); }, 50); return; }\n` +
    `    if (window.Plotly) { el.innerHTML = ""; window.Plotly.newPlot(el, data, layout, config); return; }\n` +
    `    if (n >= 40 && !window.__coursePlotlyLoading && !el.querySelector(".course-plot-missing")) {\n` +
    `      el.innerHTML = '<div class="course-plot-missing" style="${note}"></div>';\n` +
    `      el.firstChild.innerHTML = missing;\n` +
    `    }\n` +
    `    if (n < 3000) setTimeout(function () { draw(n + 1); }, n < 400 ? 50 : 1000);\n` +
    `  }\n` +
    `  draw(0);\n` +
    `})();</script>`
  );
}

/** Show a figure in the notebook (plotly sent with the first one, and after resendPlotly()). */
export function show(fig: Figure, height?: number): void {
  const html = figureHtml(fig, !plotlyInlined, height);
  plotlyInlined = true;
  const title = fig.layout && typeof fig.layout.title === "object" ? (fig.layout.title as Json).text : fig.layout?.title;
  showHtml(html, `[figure${title ? `: ${String(title)}` : ""}: ${fig.data.length} trace(s)]`);
}

// ---- trace builders: thin, typed wrappers over plotly's trace JSON ----

export function line(x: ArrayLike<number | string>, y: ArrayLike<number>, name?: string, extra: Json = {}): Json {
  return { type: "scatter", mode: "lines", x: Array.from(x), y: Array.from(y), name, ...extra };
}

export function scatter(x: ArrayLike<number | string>, y: ArrayLike<number>, name?: string, extra: Json = {}): Json {
  return { type: "scatter", mode: "markers", x: Array.from(x), y: Array.from(y), name, ...extra };
}

export function bar(x: ArrayLike<number | string>, y: ArrayLike<number>, name?: string, extra: Json = {}): Json {
  return { type: "bar", x: Array.from(x), y: Array.from(y), name, ...extra };
}

/** z[i][j] is the value at (x[j], y[i]), as plotly expects. */
export function heatmap(x: ArrayLike<number>, y: ArrayLike<number>, z: number[][], extra: Json = {}): Json {
  return { type: "heatmap", x: Array.from(x), y: Array.from(y), z, ...extra };
}

export function contour(x: ArrayLike<number>, y: ArrayLike<number>, z: number[][], extra: Json = {}): Json {
  return { type: "contour", x: Array.from(x), y: Array.from(y), z, ...extra };
}

export function surface(x: ArrayLike<number>, y: ArrayLike<number>, z: number[][], extra: Json = {}): Json {
  return { type: "surface", x: Array.from(x), y: Array.from(y), z, ...extra };
}

/** Axis titles and a figure title in one call. */
export function layout(title: string, xTitle: string, yTitle: string, extra: Json = {}): Json {
  return { title: { text: title }, xaxis: { title: { text: xTitle } }, yaxis: { title: { text: yTitle } }, ...extra };
}
