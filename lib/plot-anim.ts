// Plotly pieces for watching something change: a slider over steps, a tangent line.
//
// The slider uses plotly's "restyle" method: every step carries the new x/y of the
// traces it changes, as plain JSON in the layout. Nothing runs in the kernel when the
// slider moves, so it works the same live in Jupyter and in the offline HTML export,
// and it needs no plotly `frames` (show() in lib/plot.ts passes data and layout only).
import { Json } from "./plot";

/** What one slider position shows: new x/y for each animated trace. */
export interface SliderStep {
  label: string; // shown under the slider, e.g. the epoch
  traces: { x: ArrayLike<number | string>; y: ArrayLike<number> }[]; // one per animated trace
}

/**
 * A plotly slider that restyles traces `traceIndices` (indices into fig.data) to each
 * step's x/y. Put it in the layout as `sliders: [stepSlider(…)]`. Start the figure's
 * traces with the data of step `active` (default: the last) so the static picture
 * matches the slider.
 */
export function stepSlider(steps: SliderStep[], traceIndices: number[], opts: { prefix?: string; active?: number } = {}): Json {
  if (steps.length === 0) throw new Error("stepSlider: no steps");
  for (const s of steps)
    if (s.traces.length !== traceIndices.length)
      throw new Error(`stepSlider: step "${s.label}" has ${s.traces.length} traces, expected ${traceIndices.length}`);
  return {
    active: opts.active ?? steps.length - 1,
    currentvalue: { prefix: opts.prefix ?? "" },
    pad: { t: 40 },
    steps: steps.map((s) => ({
      label: s.label,
      method: "restyle",
      // restyle with arrays of arrays: the i-th inner array goes to traceIndices[i].
      args: [{ x: s.traces.map((t) => Array.from(t.x)), y: s.traces.map((t) => Array.from(t.y)) }, traceIndices],
    })),
  };
}

/** The tangent to a curve at (x0, y0) with the given slope, from x0 − halfWidth to x0 + halfWidth. */
export function tangentLine(x0: number, y0: number, slope: number, halfWidth: number): { x: number[]; y: number[] } {
  return { x: [x0 - halfWidth, x0 + halfWidth], y: [y0 - slope * halfWidth, y0 + slope * halfWidth] };
}
