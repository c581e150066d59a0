// A daily series: one number per calendar day, no gaps, sorted by date.
// Every loader ends in `makeSeries`, so every source gets the same checks and
// the same clear errors.

export interface DailySeries {
  name: string; // "US births per day"
  unit: string; // "births", "k births", "views"
  source: string; // where the numbers come from (shown under plots)
  dates: string[]; // ISO YYYY-MM-DD, consecutive days
  values: number[]; // values[i] belongs to dates[i]
  notes: string[]; // what loading did that a reader should know (e.g. re-sorted rows)
}

/** A problem with the input data, with a message meant for the learner. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataError";
  }
}

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 for an ISO date (UTC, no time zones involved). */
export function dayNumber(iso: string): number {
  return Math.round(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);
}

/** The ISO date `n` days after 1970-01-01. */
export function isoFromDay(n: number): string {
  return new Date(n * DAY_MS).toISOString().slice(0, 10);
}

/** 1 = Monday … 7 = Sunday (ISO weekday). */
export function weekday(iso: string): number {
  const d = new Date(`${iso}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  return d === 0 ? 7 : d;
}

export const WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

export interface RawRow {
  line: number; // line number in the source file (1 = header), for error messages
  date: string; // ISO date, already parsed
  value: number | null; // null when the cell was empty
  rawValue: string;
}

function listSome(items: string[], max = 10): string {
  const shown = items.slice(0, max).join(", ");
  return items.length > max ? `${shown}, … (${items.length} in all)` : shown;
}

/**
 * Validate rows and build a series. Throws DataError for missing, non-numeric or
 * negative values, duplicate dates and gaps; sorts unsorted rows with a note.
 */
export function makeSeries(rows: RawRow[], meta: { name: string; unit: string; source: string }): DailySeries {
  if (rows.length === 0) throw new DataError(`${meta.source}: no data rows`);
  const notes: string[] = [];

  const missing = rows.filter((r) => r.value === null && r.rawValue.trim() === "");
  if (missing.length > 0)
    throw new DataError(`${meta.source}: missing values on line(s) ${listSome(missing.map((r) => String(r.line)))}`);
  const bad = rows.filter((r) => r.value === null || !Number.isFinite(r.value));
  if (bad.length > 0)
    throw new DataError(
      `${meta.source}: non-numeric values: ${listSome(bad.map((r) => `line ${r.line} "${r.rawValue}"`))}`,
    );
  const negative = rows.filter((r) => (r.value as number) < 0);
  if (negative.length > 0)
    throw new DataError(
      `${meta.source}: negative values (a daily count cannot be negative): ${listSome(negative.map((r) => `line ${r.line} (${r.date}: ${r.value})`))}`,
    );

  let sorted = rows;
  if (rows.some((r, i) => i > 0 && r.date < rows[i - 1].date)) {
    sorted = [...rows].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
    notes.push(`rows were not in date order; sorted them by date (${rows.length} rows)`);
  }

  const dups: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].date === sorted[i - 1].date) dups.push(`${sorted[i].date} (lines ${sorted[i - 1].line} and ${sorted[i].line})`);
  }
  if (dups.length > 0) throw new DataError(`${meta.source}: duplicate dates: ${listSome(dups)}`);

  const gaps: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const a = dayNumber(sorted[i - 1].date);
    const b = dayNumber(sorted[i].date);
    for (let d = a + 1; d < b; d++) gaps.push(isoFromDay(d));
  }
  if (gaps.length > 0)
    throw new DataError(`${meta.source}: the series has gaps; missing days: ${listSome(gaps)}. Fill them (e.g. with 0 if nothing happened that day) or cut the series.`);

  return { ...meta, dates: sorted.map((r) => r.date), values: sorted.map((r) => r.value as number), notes };
}

/** The same series with values divided by 1000 ("k", as the lecture shows views). */
export function inThousands(s: DailySeries): DailySeries {
  return { ...s, unit: `k ${s.unit}`, values: s.values.map((v) => v / 1000) };
}

/** Mean value per weekday, Monday first: the weekly rhythm. */
export function weekdayMeans(s: DailySeries): number[] {
  const sum = new Array<number>(7).fill(0);
  const count = new Array<number>(7).fill(0);
  s.dates.forEach((d, i) => {
    const k = weekday(d) - 1;
    sum[k] += s.values[i];
    count[k] += 1;
  });
  return sum.map((v, k) => v / count[k]);
}
