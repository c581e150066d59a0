// Plotly figures from a notebook cell.
//
// Each figure is a <div> plus a <script> that calls Plotly.newPlot. The plotly.js
// bundle itself is inlined once per kernel process (= once per executed notebook),
// in the output of the first figure, so the figures work live in Jupyter and in the
// exported HTML read offline: nothing comes from a CDN.
import { readFileSync } from "node:fs";
import { showHtml } from "./display";

/** A plotly trace or layout: plain JSON, as plotly.js documents it. */
export type Json = { [key: string]: unknown };

export interface Figure {
  data: Json[];
  layout?: Json;
  config?: Json;
}

let plotlyInlined = false;
let figureCount = 0;

/** The plotly.js bundle's source (plotly.js-dist-min ≥ 3, which also works under require.js). */
export function plotlySource(): string {
  return readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8");
}

/** Forget that plotly was inlined (tests; a notebook never needs this). */
export function resetPlotlyInlining(): void {
  plotlyInlined = false;
}

/** JSON that is safe inside a <script> element. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * HTML for one figure. `withPlotly` prepends the plotly bundle. The drawing script
 * waits until window.Plotly exists, so the order in which a browser runs output
 * scripts does not matter.
 */
export function figureHtml(fig: Figure, withPlotly: boolean, height = 420): string {
  const id = `fig-${process.pid}-${++figureCount}`;
  const layout: Json = { height, margin: { l: 60, r: 20, t: 50, b: 50 }, ...fig.layout };
  const config: Json = { responsive: true, displaylogo: false, ...fig.config };
  const bundle = withPlotly ? `<script type="text/javascript">${plotlySource()}</script>\n` : "";
  return (
    bundle +
    `<div id="${id}" class="course-plot" style="width:100%;height:${height}px;"></div>\n` +
    `<script type="text/javascript">(function () {\n` +
    `  var data = ${scriptJson(fig.data)}, layout = ${scriptJson(layout)}, config = ${scriptJson(config)};\n` +
    `  function draw(n) {\n` +
    `    var el = document.getElementById("${id}");\n` +
    `    if (window.Plotly && el) { window.Plotly.newPlot(el, data, layout, config); }\n` +
    `    else if (n < 400) { setTimeout(function () { draw(n + 1); }, 25); }\n` +
    `  }\n` +
    `  draw(0);\n` +
    `})();</script>`
  );
}

/** Show a figure in the notebook (plotly inlined on the first call). */
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
