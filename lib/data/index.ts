// Data for the course: the built-in series, your own CSV, features and splits.
//
// Use your own data by setting environment variables before starting Jupyter or
// `npm run course`:
//   COURSE_CSV=path/to/export.csv            a YouTube Studio export (Date, Views)
//   COURSE_DATE_COLUMN=… COURSE_VALUE_COLUMN=…   any CSV's date and value columns
//   COURSE_TRAIN_YEARS=4  COURSE_TEST_DAYS=365   the chronological split
import { loadBirths } from "./births";
import { loadCsvFile } from "./csv";
import { DailySeries } from "./series";
import { Split, SplitOptions, chronologicalSplit } from "./features";
import { inThousands } from "./series";

export * from "./series";
export * from "./csv";
export * from "./features";
export { loadBirths } from "./births";

/** The course's series: COURSE_CSV when set, else the built-in US births. */
export function loadCourseSeries(env: NodeJS.ProcessEnv = process.env): DailySeries {
  const path = env.COURSE_CSV;
  if (!path) return loadBirths();
  const dateColumn = env.COURSE_DATE_COLUMN;
  const valueColumn = env.COURSE_VALUE_COLUMN;
  if (dateColumn || valueColumn) {
    if (!dateColumn || !valueColumn) throw new Error("set both COURSE_DATE_COLUMN and COURSE_VALUE_COLUMN (or neither, for a YouTube export)");
    return loadCsvFile(path, { dateColumn, valueColumn });
  }
  return loadCsvFile(path);
}

/** The split options from COURSE_TRAIN_YEARS / COURSE_TEST_DAYS (defaults: 4 years, 365 days). */
export function courseSplitOptions(env: NodeJS.ProcessEnv = process.env): SplitOptions {
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    const n = Number(v);
    if (!(n > 0)) throw new Error(`${name} must be a positive number, got "${v}"`);
    return n;
  };
  return { trainYears: num("COURSE_TRAIN_YEARS"), testDays: num("COURSE_TEST_DAYS") };
}

/** The most past days any model of the course looks at (notebook 03's 56-day model). */
export const MAX_LAG = 56;

/**
 * What notebooks 02–05 start from, as notebook 01 builds it step by step: the
 * course's series in thousands, and its chronological split (made for MAX_LAG, so
 * every model, whatever the days it looks at, is trained and tested on the same days).
 */
export function courseData(env: NodeJS.ProcessEnv = process.env): { series: DailySeries; split: Split } {
  const series = inThousands(loadCourseSeries(env));
  return { series, split: chronologicalSplit(series, MAX_LAG, courseSplitOptions(env)) };
}
