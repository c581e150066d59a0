// Several plots side by side in one plotly figure (one row of panels).
import { Json } from "./plot";

/**
 * A layout with `titles.length` panels in a row. Put a trace in panel i (0-based) with
 * `inPanel(trace, i)`. `extra` is merged last (e.g. a shared y-axis title).
 */
export function panelsLayout(titles: string[], xTitle: string, yTitle: string, extra: Json = {}): Json {
  const n = titles.length;
  const gap = 0.06;
  const width = (1 - gap * (n - 1)) / n;
  const out: Json = { showlegend: false };
  const annotations: Json[] = [];
  titles.forEach((title, i) => {
    const suffix = i === 0 ? "" : String(i + 1);
    const x0 = i * (width + gap);
    out[`xaxis${suffix}`] = { domain: [x0, x0 + width], anchor: `y${suffix}`, title: { text: xTitle } };
    out[`yaxis${suffix}`] = { anchor: `x${suffix}`, title: { text: i === 0 ? yTitle : "" } };
    annotations.push({ text: `<b>${title}</b>`, x: x0 + width / 2, y: 1.08, xref: "paper", yref: "paper", showarrow: false, xanchor: "center" });
  });
  out.annotations = annotations;
  return { ...out, ...extra };
}

/** The same trace, drawn in panel i of a panelsLayout figure. */
export function inPanel(trace: Json, i: number): Json {
  const suffix = i === 0 ? "" : String(i + 1);
  return { ...trace, xaxis: `x${suffix}`, yaxis: `y${suffix}` };
}
