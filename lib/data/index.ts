// Data for the course: the built-in series, your own CSV, features and splits.
//
// Use your own data by setting environment variables before starting Jupyter or
// `npm run course`:
//   COURSE_CSV=path/to/export.csv            a YouTube Studio export (Date, Views)
//   COURSE_DATE_COLUMN=… COURSE_VALUE_COLUMN=…   any CSV's date and value columns
//   COURSE_TRAIN_YEARS=4  COURSE_TEST_DAYS=365   the chronological split
//   COURSE_VAL_DAYS=365                       validation days, carved from the end of training
//   COURSE_FILL_GAPS=linear|previous|zero        fill missing days (default: stop, list them)
// A relative COURSE_CSV is read from the directory you ran the command in (csv.ts: userDir).
import { loadBirths } from "./births";
import { loadCsvFile, resolveUserPath, userDir } from "./csv";
import { DailySeries, DataError, GAP_FILLS, GapFill, TEST_DAYS_LIMITS, TRAIN_YEARS_LIMITS } from "./series";
import { Split, SplitOptions, ValidationSplit, chronologicalSplit, withValidation } from "./features";
import { inThousands } from "./series";

export * from "./series";
export * from "./csv";
export * from "./features";
export { loadBirths } from "./births";

/** The course's series: COURSE_CSV when set, else the built-in US births. Every error names the variable. */
export function loadCourseSeries(env: NodeJS.ProcessEnv = process.env): DailySeries {
  const given = env.COURSE_CSV;
  const fill = env.COURSE_FILL_GAPS;
  if (fill !== undefined && fill !== "" && !GAP_FILLS.includes(fill as GapFill))
    throw new DataError(
      `COURSE_FILL_GAPS must be one of ${GAP_FILLS.join(", ")} (or unset, to stop and list the missing days); got "${fill}"`,
    );
  const fillGaps = fill ? (fill as GapFill) : undefined;
  if (!given) return loadBirths();
  const dateColumn = env.COURSE_DATE_COLUMN;
  const valueColumn = env.COURSE_VALUE_COLUMN;
  if ((dateColumn || valueColumn) && !(dateColumn && valueColumn))
    throw new DataError("set both COURSE_DATE_COLUMN and COURSE_VALUE_COLUMN (or neither, for a YouTube export)");
  const path = resolveUserPath(given, env);
  try {
    return loadCsvFile(path, { dateColumn, valueColumn, fillGaps });
  } catch (e) {
    if (!(e instanceof DataError) || path === given) throw e;
    // say where a relative path was looked for
    throw new DataError(`${e.message} (COURSE_CSV=${given}, read from ${userDir(env)})`);
  }
}

/**
 * A number from the environment variable `name`, or undefined when unset. Plain
 * decimals only (Number() would also take "0x10", "Infinity" and "1e20"); the
 * message names the variable and its limits.
 */
function envNumber(env: NodeJS.ProcessEnv, name: string, lim: { min: number; max: number }, whole: boolean): number | undefined {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  const kind = whole ? "a whole number" : "a number";
  const n = (whole ? /^\d+$/ : /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/).test(v.trim()) ? Number(v) : Number.NaN;
  if (!(n >= lim.min && n <= lim.max)) throw new DataError(`${name} must be ${kind} in [${lim.min}, ${lim.max}], got "${v}"`);
  return n;
}

/** The split options from COURSE_TRAIN_YEARS / COURSE_TEST_DAYS (defaults: 4 years, 365 days). */
export function courseSplitOptions(env: NodeJS.ProcessEnv = process.env): SplitOptions {
  return {
    trainYears: envNumber(env, "COURSE_TRAIN_YEARS", TRAIN_YEARS_LIMITS, false),
    testDays: envNumber(env, "COURSE_TEST_DAYS", TEST_DAYS_LIMITS, true),
  };
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

/** COURSE_VAL_DAYS: a whole number of days (the same limits as COURSE_TEST_DAYS), or undefined when unset. */
export function courseValDays(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return envNumber(env, "COURSE_VAL_DAYS", TEST_DAYS_LIMITS, true);
}
