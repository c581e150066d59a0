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

/** How to fill missing days (COURSE_FILL_GAPS); without one, gaps are an error that lists them. */
export type GapFill = "linear" | "previous" | "zero";
export const GAP_FILLS: readonly GapFill[] = ["linear", "previous", "zero"];
const FILL_WORDS: Record<GapFill, string> = {
  linear: "a straight line between the days either side (linear)",
  previous: "the last recorded day's value (previous)",
  zero: "0 (zero)",
};

/**
 * Dates the course can do calendar arithmetic on: four-digit years. Before year 1000 an
 * ISO date has fewer digits and JavaScript's Date arithmetic breaks ("Invalid time value").
 */
export const MIN_DATE = "1000-01-01";
export const MAX_DATE = "9999-12-31";

/**
 * Limits of the chronological split (COURSE_TRAIN_YEARS, COURSE_TEST_DAYS): at least
 * ~36 training days, so there is something to fit, and at most a century either way.
 */
export const TRAIN_YEARS_LIMITS = { min: 0.1, max: 100 } as const;
export const TEST_DAYS_LIMITS = { min: 1, max: 36_500 } as const;

export function listSome(items: string[], max = 10): string {
  const shown = items.slice(0, max).join(", ");
  return items.length > max ? `${shown}, … (${items.length} in all)` : shown;
}

/**
 * Validate rows and build a series. Throws DataError for missing, non-numeric or
 * negative values, dates out of range, duplicate dates and gaps (unless `fillGaps`
 * says how to fill them: then the filled days are listed in `notes`); sorts unsorted
 * rows with a note.
 */
export function makeSeries(rows: RawRow[], meta: { name: string; unit: string; source: string }, opts: { fillGaps?: GapFill } = {}): DailySeries {
  if (rows.length === 0) throw new DataError(`${meta.source}: no data rows`);
  if (opts.fillGaps !== undefined && !GAP_FILLS.includes(opts.fillGaps))
    throw new DataError(`fillGaps must be one of ${GAP_FILLS.join(", ")}, got "${String(opts.fillGaps)}"`);
  const notes: string[] = [];

  const outOfRange = rows.filter((r) => !(r.date >= MIN_DATE && r.date <= MAX_DATE));
  if (outOfRange.length > 0)
    throw new DataError(
      `${meta.source}: dates outside ${MIN_DATE} … ${MAX_DATE} (the course handles four-digit years only): ${listSome(outOfRange.map((r) => `line ${r.line} (${r.date})`))}`,
    );

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

  const dates: string[] = [];
  const values: number[] = [];
  const gaps: string[] = [];
  let longest = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0) {
      const a = dayNumber(sorted[i - 1].date);
      const b = dayNumber(sorted[i].date);
      const va = sorted[i - 1].value as number;
      const vb = sorted[i].value as number;
      longest = Math.max(longest, b - a - 1);
      for (let d = a + 1; d < b; d++) {
        gaps.push(isoFromDay(d));
        dates.push(isoFromDay(d));
        values.push(opts.fillGaps === "zero" ? 0 : opts.fillGaps === "previous" ? va : va + ((vb - va) * (d - a)) / (b - a));
      }
    }
    dates.push(sorted[i].date);
    values.push(sorted[i].value as number);
  }
  if (gaps.length > 0 && opts.fillGaps === undefined)
    throw new DataError(
      `${meta.source}: the series has gaps; missing days: ${listSome(gaps)}. ` +
        `Fill them in the file, cut the series, or set COURSE_FILL_GAPS to one of ${GAP_FILLS.join(", ")} ` +
        `(linear: a straight line between the days either side; previous: repeat the last recorded day; zero: 0, right only if nothing happened on those days).`,
    );
  if (gaps.length > 0) {
    const share = (100 * gaps.length) / dates.length;
    notes.push(
      `filled ${gaps.length} missing day(s) (${share < 0.1 ? share.toPrecision(1) : share.toFixed(1)} % of the ${dates.length}; longest gap ${longest} day(s)) ` +
        `with ${FILL_WORDS[opts.fillGaps!]}, as COURSE_FILL_GAPS=${opts.fillGaps} asked: ${listSome(gaps)}`,
    );
  }

  return { ...meta, dates, values, notes };
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
