// Data for the course: the built-in series, your own CSV, features and splits.
//
// Use your own data by setting environment variables before starting Jupyter or
// `npm run course`:
//   COURSE_CSV=path/to/export.csv            a YouTube Studio export (Date, Views)
//   COURSE_DATE_COLUMN=… COURSE_VALUE_COLUMN=…   any CSV's date and value columns
//   COURSE_TRAIN_YEARS=4  COURSE_TEST_DAYS=365   the chronological split
//   COURSE_VAL_DAYS=365                       validation days, carved from the end of training
import { loadBirths } from "./births";
import { loadCsvFile } from "./csv";
import { DailySeries } from "./series";
import { Split, SplitOptions, ValidationSplit, chronologicalSplit, withValidation } from "./features";
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
 * `valSplit` is the same split with a validation period (COURSE_VAL_DAYS days,
 * default as many as the test period) carved from the end of the training period;
 * it is built when read, so notebooks that do not use it run on splits too short for it.
 */
export function courseData(env: NodeJS.ProcessEnv = process.env): { series: DailySeries; split: Split; valSplit: ValidationSplit } {
  const series = inThousands(loadCourseSeries(env));
  const split = chronologicalSplit(series, MAX_LAG, courseSplitOptions(env));
  return {
    series,
    split,
    // Computed when read, so a split too short for validation only fails where validation is used.
    get valSplit(): ValidationSplit {
      return withValidation(split, courseValDays(env));
    },
  };
}

/** COURSE_VAL_DAYS: a whole number of days ≥ 1, or undefined when unset. */
export function courseValDays(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.COURSE_VAL_DAYS;
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`COURSE_VAL_DAYS must be a whole number of days ≥ 1, got "${v}"`);
  return n;
}
