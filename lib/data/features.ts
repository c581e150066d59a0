// From a series to (X, y): the lecture's x1 is yesterday's value, x2 the day
// before, … so a k-day model sees the k previous days.
import { DailySeries, DataError, TEST_DAYS_LIMITS, TRAIN_YEARS_LIMITS, dayNumber, isoFromDay } from "./series";

export interface Dataset {
  X: number[][]; // [n, k]: X[i][j] = value j+1 days before dates[i]
  y: number[]; // [n]: the value on dates[i] (the label)
  dates: string[]; // [n]: the day being predicted
}

/** Lag features for every day that has k days before it. */
export function lagFeatures(s: DailySeries, k: number): Dataset {
  if (!Number.isInteger(k) || k < 1) throw new DataError(`lagFeatures: k must be a whole number ≥ 1, got ${k}`);
  if (s.values.length < k + 1)
    throw new DataError(
      `${s.source}: the series has ${s.values.length} days; a model that looks at ${k} past days needs at least ${k + 1} days (${k} to look at and 1 to predict)`,
    );
  const X: number[][] = [];
  const y: number[] = [];
  const dates: string[] = [];
  for (let t = k; t < s.values.length; t++) {
    const row = new Array<number>(k);
    for (let j = 0; j < k; j++) row[j] = s.values[t - 1 - j];
    X.push(row);
    y.push(s.values[t]);
    dates.push(s.dates[t]);
  }
  return { X, y, dates };
}

export interface Period {
  start: string; // inclusive
  end: string; // inclusive
}

export interface Split {
  train: Period;
  test: Period;
}

export interface SplitOptions {
  /** Years of training data before the test period (lecture: 4, 2017–2020). */
  trainYears?: number;
  /** Days in the test period, at the end of the series (default 365). */
  testDays?: number;
}

/**
 * The lecture's chronological split: train on `trainYears` years, test on the
 * period that follows (here: the last `testDays` days of the series). Past data is
 * never tested on and the future is never trained on.
 */
export function chronologicalSplit(s: DailySeries, maxLag: number, opts: SplitOptions = {}): Split {
  const trainYears = opts.trainYears ?? 4;
  const testDays = opts.testDays ?? 365;
  const Y = TRAIN_YEARS_LIMITS;
  const T = TEST_DAYS_LIMITS;
  if (!(trainYears >= Y.min && trainYears <= Y.max)) throw new DataError(`chronologicalSplit: trainYears must be in [${Y.min}, ${Y.max}], got ${trainYears}`);
  if (!(Number.isInteger(testDays) && testDays >= T.min && testDays <= T.max))
    throw new DataError(`chronologicalSplit: testDays must be a whole number in [${T.min}, ${T.max}], got ${testDays}`);
  if (!(Number.isInteger(maxLag) && maxLag >= 0)) throw new DataError(`chronologicalSplit: maxLag must be a whole number ≥ 0, got ${maxLag}`);
  if (s.dates.length === 0) throw new DataError(`${s.source}: the series is empty`);
  const last = dayNumber(s.dates[s.dates.length - 1]);
  const testStart = last - testDays + 1;
  const trainEnd = testStart - 1;
  // Calendar years back from the day after trainEnd: 2014-01-01 − 4 years = 2010-01-01.
  const d = new Date(isoFromDay(trainEnd + 1) + "T00:00:00Z");
  d.setUTCFullYear(d.getUTCFullYear() - Math.floor(trainYears));
  const trainStart = Math.round(d.getTime() / 86_400_000) - Math.round((trainYears % 1) * 365);
  const needed = trainEnd - trainStart + 1 + testDays + maxLag;
  if (trainStart - maxLag < dayNumber(s.dates[0]))
    throw new DataError(
      `${s.source}: the series has ${s.values.length} days; ${trainYears} training year(s) + ${testDays} test days + ${maxLag} days of history need ${needed} days. Use fewer training years (COURSE_TRAIN_YEARS, option trainYears) or test days (COURSE_TEST_DAYS, option testDays).`,
    );
  return {
    train: { start: isoFromDay(trainStart), end: isoFromDay(trainEnd) },
    test: { start: isoFromDay(testStart), end: isoFromDay(last) },
  };
}

/** The rows of a dataset whose target date lies in a period. */
export function inPeriod(data: Dataset, p: Period): Dataset {
  const keep: number[] = [];
  data.dates.forEach((d, i) => {
    if (d >= p.start && d <= p.end) keep.push(i);
  });
  return { X: keep.map((i) => data.X[i]), y: keep.map((i) => data.y[i]), dates: keep.map((i) => data.dates[i]) };
}

/** Train and test sets for a k-day model under a split. */
export function trainTest(s: DailySeries, k: number, split: Split): { train: Dataset; test: Dataset } {
  const all = lagFeatures(s, k);
  return { train: inPeriod(all, split.train), test: inPeriod(all, split.test) };
}

/** Values of a series within a period (for plotting). */
export function slicePeriod(s: DailySeries, p: Period): { dates: string[]; values: number[] } {
  const dates: string[] = [];
  const values: number[] = [];
  s.dates.forEach((d, i) => {
    if (d >= p.start && d <= p.end) {
      dates.push(d);
      values.push(s.values[i]);
    }
  });
  return { dates, values };
}

// ---------------------------------------------------------------- validation

/** Train, validation and test periods, in that order in time, with no day in two of them. */
export interface ValidationSplit {
  train: Period;
  validation: Period;
  test: Period;
}

/**
 * Carve a validation period out of the end of a split's training period: the
 * `valDays` days just before the test period (default: as many days as the test
 * period). Model choices (depth, width, learning rate) are made by training on
 * `train` and measuring on `validation`; the chosen model is then trained on the
 * whole of `split.train` (train + validation) and measured once on `test`.
 * The test period is unchanged, and the days before `train` that a MAX_LAG model
 * looks at were already checked by chronologicalSplit.
 */
export function withValidation(split: Split, valDays?: number): ValidationSplit {
  const testDays = dayNumber(split.test.end) - dayNumber(split.test.start) + 1;
  const days = valDays ?? testDays;
  if (!Number.isInteger(days) || days < 1) throw new DataError(`withValidation: the validation period must be a whole number of days ≥ 1, got ${valDays}`);
  const trainStart = dayNumber(split.train.start);
  const trainEnd = dayNumber(split.train.end);
  const trainDays = trainEnd - trainStart + 1;
  if (days > trainDays - MIN_TRAIN_DAYS)
    throw new DataError(
      `the training period ${split.train.start} … ${split.train.end} has ${trainDays} days; ${days} validation days + at least ${MIN_TRAIN_DAYS} days to train on need ${days + MIN_TRAIN_DAYS}. ` +
        `Use fewer validation days (COURSE_VAL_DAYS) or more training years (COURSE_TRAIN_YEARS).`,
    );
  const valStart = trainEnd - days + 1;
  return {
    train: { start: split.train.start, end: isoFromDay(valStart - 1) },
    validation: { start: isoFromDay(valStart), end: split.train.end },
    test: { ...split.test },
  };
}

/** The fewest training days withValidation leaves (a model needs something to learn from). */
export const MIN_TRAIN_DAYS = 28;

/** Train, validation and test sets for a k-day model under a validation split. */
export function trainValTest(s: DailySeries, k: number, split: ValidationSplit): { train: Dataset; validation: Dataset; test: Dataset } {
  const all = lagFeatures(s, k);
  return { train: inPeriod(all, split.train), validation: inPeriod(all, split.validation), test: inPeriod(all, split.test) };
}

/**
 * The same validation and test periods with a training period of `years` years
 * just before the validation period (calendar years, as chronologicalSplit; a fraction
 * of a year counts 365 days per year). For a training-length sweep: only the amount of
 * training data changes. Throws when the series has too few days before it.
 */
export function withTrainYears(s: DailySeries, maxLag: number, split: ValidationSplit, years: number): ValidationSplit {
  if (!(years > 0)) throw new DataError(`withTrainYears: years must be positive, got ${years}`);
  const trainEnd = dayNumber(split.validation.start) - 1;
  const d = new Date(isoFromDay(trainEnd + 1) + "T00:00:00Z");
  d.setUTCFullYear(d.getUTCFullYear() - Math.floor(years));
  const trainStart = Math.round(d.getTime() / 86_400_000) - Math.round((years % 1) * 365);
  const first = dayNumber(s.dates[0]);
  if (trainStart - maxLag < first)
    throw new DataError(
      `${s.source}: ${years} training year(s) before ${split.validation.start} start on ${isoFromDay(trainStart)} and need ${maxLag} days of history before that, ` +
        `but the series starts on ${s.dates[0]}. Use fewer training years.`,
    );
  return { ...split, train: { start: isoFromDay(trainStart), end: isoFromDay(trainEnd) } };
}

/** Which of `years` fit withTrainYears on this series (for a sweep that adapts to the data). */
export function trainYearsThatFit(s: DailySeries, maxLag: number, split: ValidationSplit, years: number[]): number[] {
  return years.filter((y) => {
    try {
      withTrainYears(s, maxLag, split, y);
      return true;
    } catch (e) {
      if (e instanceof DataError) return false;
      throw e;
    }
  });
}
