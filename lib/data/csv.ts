// Your own data: any CSV with a date column and a numeric column, or a YouTube
// Studio export (Advanced mode → Export → CSV: "Date" and "Views" columns).
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { DailySeries, DataError, RawRow, makeSeries } from "./series";

/** Split CSV text into rows of cells (RFC 4180: quotes, "" escapes, CRLF). */
export function parseCsvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  const src = text.replace(/^\uFEFF/, ""); // byte-order mark written by spreadsheet apps
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (quoted) {
      if (ch === '"' && src[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && src[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0].trim() === "")); // blank lines
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** ISO date from "2021-02-14", "2021/02/14", "Feb 14, 2021" or "14 Feb 2021"; null if none fits. */
export function parseDate(s: string): string | null {
  const t = s.trim();
  let y: number, m: number, d: number;
  let match = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$/.exec(t);
  if (match) [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  else if ((match = /^([A-Za-z]{3})[a-z]*\.? (\d{1,2}),? (\d{4})$/.exec(t))) {
    [m, d, y] = [MONTHS.indexOf(match[1].toLowerCase()) + 1, Number(match[2]), Number(match[3])];
  } else if ((match = /^(\d{1,2}) ([A-Za-z]{3})[a-z]*\.?,? (\d{4})$/.exec(t))) {
    [d, m, y] = [Number(match[1]), MONTHS.indexOf(match[2].toLowerCase()) + 1, Number(match[3])];
  } else return null;
  if (m < 1 || m > 12 || d < 1 || d > 31) return null;
  const iso = `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
  // Reject dates that do not exist (2021-02-30 would roll over to March).
  return new Date(`${iso}T00:00:00Z`).toISOString().slice(0, 10) === iso ? iso : null;
}

/** A number from a cell: "1234", "1,234", " 12.5 "; null for an empty cell, NaN if not a number. */
export function parseValue(s: string): number | null {
  const t = s.trim().replace(/(\d),(?=\d{3}\b)/g, "$1");
  if (t === "") return null;
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) ? Number(t) : NaN;
}

export interface CsvOptions {
  dateColumn: string;
  valueColumn: string;
  /** Name of the series (default: the value column). */
  name?: string;
  /** Unit of the values (default: the value column, lower-cased). */
  unit?: string;
  /** Where the text came from, for error messages (default "CSV"). */
  source?: string;
}

/** A daily series from CSV text with named date and value columns. */
export function parseCsv(text: string, opts: CsvOptions): DailySeries {
  const source = opts.source ?? "CSV";
  const rows = parseCsvRows(text);
  if (rows.length < 2) throw new DataError(`${source}: needs a header line and at least one data line`);
  const header = rows[0].map((h) => h.trim());
  const find = (name: string): number => {
    const i = header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
    if (i < 0) throw new DataError(`${source}: no column "${name}"; the columns are: ${header.map((h) => `"${h}"`).join(", ")}`);
    return i;
  };
  const di = find(opts.dateColumn);
  const vi = find(opts.valueColumn);
  const raw: RawRow[] = [];
  const badDates: string[] = [];
  let skippedTotal = false;
  rows.slice(1).forEach((r, k) => {
    const line = k + 2;
    const dateCell = (r[di] ?? "").trim();
    // YouTube Studio's table export starts with a "Total" row: not a day.
    if (dateCell.toLowerCase() === "total") {
      skippedTotal = true;
      return;
    }
    const date = parseDate(dateCell);
    if (date === null) {
      badDates.push(`line ${line} "${dateCell}"`);
      return;
    }
    const rawValue = r[vi] ?? "";
    raw.push({ line, date, value: parseValue(rawValue), rawValue });
  });
  if (badDates.length > 0)
    throw new DataError(
      `${source}: unparseable dates (use YYYY-MM-DD or "Feb 14, 2021"): ${badDates.slice(0, 10).join(", ")}${badDates.length > 10 ? `, … (${badDates.length} in all)` : ""}`,
    );
  const series = makeSeries(raw, { name: opts.name ?? opts.valueColumn, unit: opts.unit ?? opts.valueColumn.toLowerCase(), source });
  if (skippedTotal) series.notes.unshift('skipped the "Total" row of the export');
  return series;
}

/** A YouTube Studio export: columns "Date" and "Views". */
export function parseYouTubeCsv(text: string, source = "YouTube Studio export"): DailySeries {
  return parseCsv(text, { dateColumn: "Date", valueColumn: "Views", name: "YouTube views per day", unit: "views", source });
}

/** Read a CSV file: a YouTube export when no columns are named, else the named columns. */
export function loadCsvFile(path: string, opts?: Omit<CsvOptions, "source">): DailySeries {
  const text = readFileSync(path, "utf8");
  const source = basename(path);
  return opts ? parseCsv(text, { ...opts, source }) : parseYouTubeCsv(text, source);
}
