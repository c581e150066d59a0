// Your own data: any CSV with a date column and a numeric column, or a YouTube
// Studio export (Advanced mode → Export → CSV: "Date" and "Views" columns).
import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { DailySeries, DataError, GapFill, RawRow, listSome, makeSeries } from "./series";

/** Set by `npm run course` for its kernels: the directory the user ran the command in. */
export const COURSE_CWD = "COURSE_CWD";

/**
 * The directory a relative COURSE_CSV is read from: the one the user typed the command
 * in, not the kernel's (a kernel runs in notebooks/). In order: COURSE_CWD (set by
 * `npm run course`), INIT_CWD (set by npm for any `npm run`), PWD (the shell's, which a
 * Jupyter server started from a shell hands to its kernels), else the process's own.
 */
export function userDir(env: NodeJS.ProcessEnv = process.env): string {
  for (const v of [env[COURSE_CWD], env.INIT_CWD, env.PWD]) if (v && isAbsolute(v)) return v;
  return process.cwd();
}

/** A path as the user meant it: "~/x" in their home, relative ones from `userDir`. */
export function resolveUserPath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  if (path === "~" || path.startsWith("~/")) return resolve(homedir(), path.slice(2));
  return resolve(userDir(env), path);
}

/**
 * The largest CSV the course reads. A daily series of a century is under 5 MB; past
 * ~500 MB V8 cannot even hold the text as one string.
 */
export const MAX_CSV_BYTES = 100 * 1024 * 1024;

/** A cell as it appears in a message: at most 40 characters. */
const shown = (cell: string): string => JSON.stringify(cell.length > 40 ? `${cell.slice(0, 37)}...` : cell);

export interface CsvRecord {
  /** Line of the file the row starts on (1 = the first line). */
  line: number;
  cells: string[];
}

/**
 * Split CSV text into rows of cells with the line each starts on (RFC 4180: quotes,
 * "" escapes, CRLF, line breaks inside quotes). An unterminated quote is a DataError
 * naming the line it opens on.
 */
export function parseCsvRecords(text: string, source = "CSV"): CsvRecord[] {
  const rows: CsvRecord[] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  let line = 1; // current line
  let rowLine = 1; // line the current row started on
  let quoteLine = 1; // line the open quote started on
  const src = text.replace(/^\uFEFF/, ""); // byte-order mark written by spreadsheet apps
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (quoted) {
      if (ch === '"' && src[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === "\n" || (ch === "\r" && src[i + 1] !== "\n")) line++;
        cell += ch;
      }
    } else if (ch === '"') {
      quoted = true;
      quoteLine = line;
    } else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && src[i + 1] === "\n") i++;
      row.push(cell);
      rows.push({ line: rowLine, cells: row });
      row = [];
      cell = "";
      line++;
      rowLine = line;
    } else cell += ch;
  }
  if (quoted) throw new DataError(`${source}: line ${quoteLine}: a quote (") opens a cell that is never closed; close it or remove it`);
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push({ line: rowLine, cells: row });
  }
  return rows.filter((r) => !(r.cells.length === 1 && r.cells[0].trim() === "")); // blank lines
}

/** Split CSV text into rows of cells (see parseCsvRecords). */
export function parseCsvRows(text: string, source = "CSV"): string[][] {
  return parseCsvRecords(text, source).map((r) => r.cells);
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
  const iso = `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
  // Before year 1000 Date cannot parse the ISO text ("Invalid time value"); such a date is
  // returned as written and makeSeries refuses it with its line (MIN_DATE).
  if (y < 1000) return iso;
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
  /** Fill missing days instead of stopping (COURSE_FILL_GAPS). */
  fillGaps?: GapFill;
}

/** A daily series from CSV text with named date and value columns. */
export function parseCsv(text: string, opts: CsvOptions): DailySeries {
  const source = opts.source ?? "CSV";
  const rows = parseCsvRecords(text, source);
  if (rows.length < 2) throw new DataError(`${source}: needs a header line and at least one data line`);
  const header = rows[0].cells.map((h) => h.trim());
  const find = (name: string): number => {
    const i = header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
    if (i < 0) throw new DataError(`${source}: no column "${name}"; the columns are: ${header.map(shown).join(", ")}`);
    return i;
  };
  const di = find(opts.dateColumn);
  const vi = find(opts.valueColumn);
  // More cells than the header: usually a number written with a thousands comma but not
  // quoted (2015-01-01,1,000), which would silently read as 1. Empty extra cells (a
  // trailing comma) are harmless.
  const wide = rows.slice(1).filter((r) => r.cells.length > header.length && r.cells.slice(header.length).some((c) => c.trim() !== ""));
  if (wide.length > 0)
    throw new DataError(
      `${source}: more cells than the ${header.length} column(s) of the header on ${listSome(wide.map((r) => `line ${r.line} (${r.cells.length} cells)`))}. ` +
        `A number with a thousands separator must be quoted ("1,000") or written without it (1000).`,
    );
  const raw: RawRow[] = [];
  const badDates: string[] = [];
  let skippedTotal = false;
  for (const { line, cells: r } of rows.slice(1)) {
    const dateCell = (r[di] ?? "").trim();
    // YouTube Studio's table export starts with a "Total" row: not a day.
    if (dateCell.toLowerCase() === "total") {
      skippedTotal = true;
      continue;
    }
    const date = parseDate(dateCell);
    if (date === null) {
      badDates.push(`line ${line} ${shown(dateCell)}`);
      continue;
    }
    const rawValue = r[vi] ?? "";
    raw.push({ line, date, value: parseValue(rawValue), rawValue });
  }
  if (badDates.length > 0)
    throw new DataError(
      `${source}: unparseable dates (use YYYY-MM-DD or "Feb 14, 2021"): ${badDates.slice(0, 10).join(", ")}${badDates.length > 10 ? `, … (${badDates.length} in all)` : ""}`,
    );
  const series = makeSeries(raw, { name: opts.name ?? opts.valueColumn, unit: opts.unit ?? opts.valueColumn.toLowerCase(), source }, { fillGaps: opts.fillGaps });
  if (skippedTotal) series.notes.unshift('skipped the "Total" row of the export');
  return series;
}

/** A YouTube Studio export: columns "Date" and "Views". */
export function parseYouTubeCsv(text: string, source = "YouTube Studio export", fillGaps?: GapFill): DailySeries {
  return parseCsv(text, { dateColumn: "Date", valueColumn: "Views", name: "YouTube views per day", unit: "views", source, fillGaps });
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;

/**
 * The text of a CSV file the user named, checked first: it exists, is a regular file
 * (not a directory or a FIFO that would block) and is at most `maxBytes`. Every error
 * names the resolved path.
 */
export function readCsvText(path: string, maxBytes = MAX_CSV_BYTES): string {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(code === "ENOENT" ? `${path}: no such file` : `${path}: cannot read it (${code ?? (e as Error).message})`);
  }
  if (st.isDirectory()) throw new DataError(`${path}: is a directory, not a CSV file`);
  if (!st.isFile()) throw new DataError(`${path}: is not a regular file (a device, socket or pipe); give a CSV file`);
  if (st.size > maxBytes)
    throw new DataError(`${path}: the file is ${mb(st.size)}; the course reads CSV files up to ${mb(maxBytes)} (a century of daily values is under 5 MB): keep only the date and value columns`);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new DataError(`${path}: cannot open it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    // read what fstat says, and refuse a file that grew past the limit since
    const size = fstatSync(fd).size;
    if (size > maxBytes) throw new DataError(`${path}: the file is ${mb(size)}; the course reads CSV files up to ${mb(maxBytes)}`);
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Read a CSV file: the named columns when `dateColumn` and `valueColumn` are given, else a
 * YouTube export. `path` is used as given (resolve it with resolveUserPath first); errors name it.
 */
export function loadCsvFile(path: string, opts: Partial<Omit<CsvOptions, "source">> = {}): DailySeries {
  const text = readCsvText(path);
  const { dateColumn, valueColumn } = opts;
  return dateColumn && valueColumn ? parseCsv(text, { ...opts, dateColumn, valueColumn, source: path }) : parseYouTubeCsv(text, path, opts.fillGaps);
}
