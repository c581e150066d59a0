// The pictures of notebook 02, as plotly figures: gradient descent walking down
// L(w) with its tangent, and the (b, w) path on the loss-surface contour, each with
// a slider over the steps (lib/plot-anim.ts).
import { Figure, Json, contour, layout, line, scatter, surface } from "../plot";
import { SliderStep, stepSlider, tangentLine } from "../plot-anim";
import { Step } from "./descent";

export interface WalkPoint {
  w: number;
  L: number;
  slope: number; // dL/dw at w
}

/** The traces of a walk on the curve L(w): the path so far, the tangent and the current point. */
function walkTraces(walk: WalkPoint[], upTo: number, halfWidth: number) {
  const seen = walk.slice(0, upTo + 1);
  const now = walk[upTo];
  return {
    path: { x: seen.map((p) => p.w), y: seen.map((p) => p.L) },
    tangent: tangentLine(now.w, now.L, now.slope, halfWidth),
    point: { x: [now.w], y: [now.L] },
  };
}

/**
 * The traces of a finished one-parameter descent: the curve L(w), the points visited,
 * the tangent at the last point and the last point (e.g. for panels of lib/plot-grid).
 */
export function walkTracesFor(curveW: number[], curveL: number[], walk: WalkPoint[], halfWidth: number, extra: Json = {}): Json[] {
  const last = walkTraces(walk, walk.length - 1, halfWidth);
  return [
    line(curveW, curveL, "L(w)", { line: { color: "#888" }, ...extra }),
    line(last.path.x, last.path.y, "steps", { mode: "lines+markers", line: { color: "#1f77b4", width: 1 }, marker: { size: 7 }, ...extra }),
    line(last.tangent.x, last.tangent.y, "tangent", { line: { color: "#d62728", dash: "dash" }, ...extra }),
    scatter(last.point.x, last.point.y, "current w", { marker: { color: "#d62728", size: 11 }, ...extra }),
  ];
}

/** L(w) with the steps of a one-parameter descent and the tangent at the current w, with a slider over the steps. */
export function walkFigure(curveW: number[], curveL: number[], walk: WalkPoint[], title: string, halfWidth = 0.25): Figure {
  const steps: SliderStep[] = walk.map((p, t) => {
    const tr = walkTraces(walk, t, halfWidth);
    return { label: String(t), traces: [tr.path, tr.tangent, tr.point] };
  });
  const Ls = walk.map((p) => p.L).concat(curveL);
  return {
    data: walkTracesFor(curveW, curveL, walk, halfWidth),
    layout: layout(title, "w", "L(w) (k)", {
      // Fixed ranges: the tangent must not rescale the axes as the slider moves.
      xaxis: { title: { text: "w" }, range: [Math.min(...curveW), Math.max(...curveW)] },
      yaxis: { title: { text: "L(w) (k)" }, range: [0, Math.max(...Ls) * 1.05] },
      sliders: [stepSlider(steps, [1, 2, 3], { prefix: "step t = " })],
    }),
  };
}

// ---- the loss surface L(b, w) ----
//
// One colour convention for every loss picture: Viridis, low loss DARK (purple), high
// loss bright (yellow), and the lowest grid point marked with a labelled ✕, so "the
// dark valley" in the text and the colours agree and the minimum needs no guessing.

/** Viridis with the minimum dark. */
export const LOSS_COLORSCALE = "Viridis";

/** The grid point with the lowest value: z[i][j] = L(bs[j], ws[i]). */
export function gridMinimum(bs: number[], ws: number[], z: number[][]): { b: number; w: number; L: number } {
  let best = { b: bs[0], w: ws[0], L: Infinity };
  z.forEach((row, i) => row.forEach((L, j) => {
    if (L < best.L) best = { b: bs[j], w: ws[i], L };
  }));
  return best;
}

/** A labelled marker at the grid minimum, for a contour/heatmap of z. */
export function minimumMarker(bs: number[], ws: number[], z: number[][], label = "grid minimum"): Json {
  const m = gridMinimum(bs, ws, z);
  return scatter([m.b], [m.w], label, {
    mode: "markers+text",
    text: [label],
    textposition: "top right",
    textfont: { color: "#ffffff", size: 13 },
    marker: { color: "#ffffff", size: 13, symbol: "x", line: { color: "#000000", width: 1 } },
  });
}

/** The contour of z over (b, w): dark = low. `colorValues` (e.g. log10 z) colours it if given; the marker uses z. */
export function lossContourTraces(bs: number[], ws: number[], z: number[][], opts: { zTitle?: string; colorValues?: number[][]; label?: string } = {}): Json[] {
  return [
    contour(bs, ws, opts.colorValues ?? z, { colorscale: LOSS_COLORSCALE, contours: { coloring: "heatmap" }, colorbar: { title: { text: opts.zTitle ?? "L (k)" } }, name: "L" }),
    minimumMarker(bs, ws, z, opts.label),
  ];
}

/** The loss surface as a contour with its labelled minimum. */
export function lossContourFigure(bs: number[], ws: number[], z: number[][], title: string, opts: { zTitle?: string; colorValues?: number[][]; label?: string } = {}): Figure {
  return { data: lossContourTraces(bs, ws, z, opts), layout: layout(title, "b (k)", "w") };
}

/** The same surface in 3-D, dark = low, with the minimum marked. */
export function lossSurface3dFigure(bs: number[], ws: number[], z: number[][], title: string, zTitle = "L (k)"): Figure {
  const m = gridMinimum(bs, ws, z);
  return {
    data: [
      surface(bs, ws, z, { colorscale: LOSS_COLORSCALE, showscale: false }),
      { type: "scatter3d", mode: "markers+text", x: [m.b], y: [m.w], z: [m.L], text: ["grid minimum"], name: "grid minimum", marker: { color: "#d62728", size: 6 } },
    ],
    layout: { title: { text: title }, scene: { xaxis: { title: { text: "b (k)" } }, yaxis: { title: { text: "w" } }, zaxis: { title: { text: zTitle } } } },
  };
}

export interface PathOnSurface {
  name: string;
  steps: Step[]; // recorded steps of a 1-day descent (w has one entry)
  color: string;
}

/**
 * (b, w) paths on a contour of L(b, w) (z[i][j] = L(bs[j], ws[i])), with a slider over
 * the recorded steps (all paths must be recorded at the same epochs).
 */
export function pathsOnContourFigure(bs: number[], ws: number[], z: number[][], paths: PathOnSurface[], title: string, zTitle = "L (k)"): Figure {
  const n = paths[0].steps.length;
  for (const p of paths) if (p.steps.length !== n) throw new Error(`pathsOnContourFigure: "${p.name}" has ${p.steps.length} steps, "${paths[0].name}" has ${n}`);
  const upTo = (p: PathOnSurface, t: number) => ({ x: p.steps.slice(0, t + 1).map((s) => s.b), y: p.steps.slice(0, t + 1).map((s) => s.w[0]) });
  const slider: SliderStep[] = paths[0].steps.map((s, t) => ({
    label: s.epoch.toLocaleString("en-US"),
    traces: paths.flatMap((p) => [upTo(p, t), { x: [p.steps[t].b], y: [p.steps[t].w[0]] }]),
  }));
  const [surfaceTrace, minTrace] = lossContourTraces(bs, ws, z, { zTitle });
  const traces: Json[] = [surfaceTrace];
  // Paths: coloured lines whose markers have a black rim, visible on dark and bright parts alike.
  for (const p of paths) {
    const all = upTo(p, n - 1);
    traces.push(line(all.x, all.y, p.name, { mode: "lines+markers", line: { color: p.color, width: 2.5 }, marker: { size: 5, line: { color: "#000000", width: 1 } } }));
    traces.push(scatter([p.steps[n - 1].b], [p.steps[n - 1].w[0]], `${p.name}: now`, { marker: { color: p.color, size: 12, symbol: "diamond", line: { color: "#000000", width: 1.5 } }, showlegend: false }));
  }
  traces.push(minTrace); // after the paths: the slider restyles traces 1 … 2·paths by index
  const animated = paths.flatMap((_, i) => [1 + 2 * i, 2 + 2 * i]);
  return {
    data: traces,
    layout: layout(title, "b (k)", "w", {
      xaxis: { title: { text: "b (k)" }, range: [bs[0], bs[bs.length - 1]] },
      yaxis: { title: { text: "w" }, range: [ws[0], ws[ws.length - 1]] },
      legend: { x: 0.99, xanchor: "right", y: 0.99, bgcolor: "rgba(255,255,255,0.75)" },
      sliders: [stepSlider(slider, animated, { prefix: "epoch " })],
    }),
  };
}
