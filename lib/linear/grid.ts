// Where to look at the loss surface L(b, w) of y = b + w·x1, from the data itself,
// so notebooks 01 and 02 draw the same picture on any series (births in thousands,
// temperatures, views …) instead of a grid tuned to one of them.
//
// Every good line passes near the middle of the data: b + w·x̄ ≈ ȳ. For w from −0.2 to
// 1.3 (from "tomorrow is unrelated to today" to "tomorrow follows today, amplified")
// that line runs through b ≈ ȳ − w·x̄, so the grid spans those b, with a margin.
import { linspace } from "../loss";

export interface SurfaceGrid {
  bs: number[]; // [nB]: the b axis
  ws: number[]; // [nW]: the w axis
}

function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s / v.length;
}

/** A (b, w) grid that holds every line b + w·x̄ = ȳ with w in [wMin, wMax]. */
export function surfaceGrid(x1: ArrayLike<number>, y: ArrayLike<number>, opts: { nB?: number; nW?: number; wMin?: number; wMax?: number } = {}): SurfaceGrid {
  if (x1.length === 0 || x1.length !== y.length) throw new Error(`surfaceGrid: x1 has ${x1.length} values and y ${y.length}; need the same number, at least 1`);
  const wMin = opts.wMin ?? -0.2;
  const wMax = opts.wMax ?? 1.3;
  const xm = mean(x1);
  const ym = mean(y);
  const ends = [ym - wMin * xm, ym - wMax * xm];
  const margin = 0.1 * (Math.abs(ends[0] - ends[1]) || Math.abs(ym) || 1);
  const bLo = Math.min(...ends) - margin;
  const bHi = Math.max(...ends) + margin;
  return { bs: linspace(bLo, bHi, opts.nB ?? 81), ws: linspace(wMin, wMax, opts.nW ?? 76) };
}
