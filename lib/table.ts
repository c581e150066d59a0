// Tables in notebooks: a danfojs DataFrame rendered as an HTML table (and as
// danfojs' own text table outside a notebook).
import { DataFrame } from "danfojs";
import { escapeHtml, inNotebook, showHtml } from "./display";

export type Cell = number | string | boolean | null;
export type Row = Record<string, Cell>;

export interface TableOptions {
  /** Shown above the table. */
  caption?: string;
  /** Significant decimals for numbers (default 3). */
  digits?: number;
  /** Show danfojs' row index as the first column (default false). */
  index?: boolean;
}

/** A DataFrame from rows; the column order is the first row's key order. */
export function frame(rows: Row[]): DataFrame {
  if (rows.length === 0) throw new Error("frame: no rows to make a table from");
  return new DataFrame(rows);
}

function formatCell(v: unknown, digits: number): string {
  if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) return "–";
  if (typeof v === "number") {
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString("en-US");
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(digits - 1);
    return Number(v.toPrecision(digits)).toString();
  }
  return String(v);
}

/** HTML for a DataFrame. */
export function tableHtml(df: DataFrame, opts: TableOptions = {}): string {
  const digits = opts.digits ?? 3;
  const cols = df.columns;
  const values = df.values as unknown[][];
  const idx = df.index;
  const head =
    (opts.index ? "<th></th>" : "") + cols.map((c) => `<th>${escapeHtml(String(c))}</th>`).join("");
  const body = values
    .map((row, i) => {
      const cells = row.map((v) => `<td>${escapeHtml(formatCell(v, digits))}</td>`).join("");
      return `<tr>${opts.index ? `<th>${escapeHtml(String(idx[i]))}</th>` : ""}${cells}</tr>`;
    })
    .join("\n");
  const caption = opts.caption ? `<caption style="caption-side:top;text-align:left;font-weight:bold">${escapeHtml(opts.caption)}</caption>` : "";
  return `<table class="course-table">${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Show rows (or a DataFrame) as a table (returns nothing, so a cell prints nothing more). */
export function showTable(data: Row[] | DataFrame, opts: TableOptions = {}): void {
  const df = data instanceof DataFrame ? data : frame(data);
  if (inNotebook()) showHtml(tableHtml(df, opts));
  else {
    if (opts.caption) console.log(opts.caption);
    df.print();
  }
}
