import { describe, expect, it } from "vitest";
import {
  DataError,
  MAX_LAG,
  courseData,
  chronologicalSplit,
  inThousands,
  lagFeatures,
  loadBirths,
  loadCourseSeries,
  parseCsv,
  parseDate,
  parseYouTubeCsv,
  trainTest,
  weekdayMeans,
  trainValTest,
  withValidation,
  withTrainYears,
  trainYearsThatFit,
} from "../lib/data";

const csv = (rows: string[]) => ["Date,Views", ...rows].join("\n");
const days = (n: number, start = "2021-01-01") =>
  Array.from({ length: n }, (_, i) => new Date(Date.parse(`${start}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));

describe("the built-in series", () => {
  it("is 15 years of US births per day, without gaps", () => {
    const s = loadBirths();
    expect(s.values.length).toBe(5479); // 2000-01-01 … 2014-12-31, 4 leap years
    expect(s.dates[0]).toBe("2000-01-01");
    expect(s.dates.at(-1)).toBe("2014-12-31");
    expect(s.notes).toEqual([]);
  });
  it("has the weekly rhythm the course relies on: weekends are low", () => {
    const m = weekdayMeans(loadBirths()); // Monday first
    expect(Math.max(m[5], m[6])).toBeLessThan(Math.min(...m.slice(0, 5)));
  });
  it("is what loadCourseSeries gives without COURSE_CSV", () => {
    expect(loadCourseSeries({}).values.length).toBe(5479);
  });
});

describe("CSV and YouTube exports", () => {
  it("reads a YouTube Studio export, skipping its Total row, with quoted thousands", () => {
    const s = parseYouTubeCsv(["Date,Views,Watch time (hours)", "Total,\"12,345\",10", "2021-01-01,\"4,800\",1", "2021-01-02,4900,2"].join("\r\n"));
    expect(s.dates).toEqual(["2021-01-01", "2021-01-02"]);
    expect(s.values).toEqual([4800, 4900]);
    expect(s.notes[0]).toMatch(/Total/);
    expect(inThousands(s).values).toEqual([4.8, 4.9]);
  });
  it("reads any CSV by column names, and long date forms", () => {
    const s = parseCsv('day,x\n"Jan 1, 2021",3\n', { dateColumn: "day", valueColumn: "x" });
    expect(s.values).toEqual([3]);
    expect(parseDate("Feb 14, 2021")).toBe("2021-02-14");
    expect(parseDate("14 Feb 2021")).toBe("2021-02-14");
    expect(parseDate("2021-02-30")).toBeNull();
  });
  it("names the missing column and lists the columns there are", () => {
    expect(() => parseCsv("when,count\n2021-01-01,1\n", { dateColumn: "Date", valueColumn: "count" })).toThrow(/no column "Date"; the columns are: "when", "count"/);
  });
  it("rejects unparseable dates with their line numbers", () => {
    expect(() => parseYouTubeCsv(csv(["2021-01-01,1", "yesterday,2"]))).toThrow(/unparseable dates.*line 3 "yesterday"/);
  });
  it("rejects duplicate dates", () => {
    expect(() => parseYouTubeCsv(csv(["2021-01-01,1", "2021-01-01,2"]))).toThrow(/duplicate dates: 2021-01-01 \(lines 2 and 3\)/);
  });
  it("sorts unsorted rows, with a note", () => {
    const s = parseYouTubeCsv(csv(["2021-01-02,2", "2021-01-01,1"]));
    expect(s.values).toEqual([1, 2]);
    expect(s.notes.join()).toMatch(/not in date order; sorted/);
  });
  it("lists the days missing in a gap", () => {
    expect(() => parseYouTubeCsv(csv(["2021-01-01,1", "2021-01-04,2"]))).toThrow(/gaps; missing days: 2021-01-02, 2021-01-03/);
  });
  it("rejects non-numeric, negative and missing values", () => {
    expect(() => parseYouTubeCsv(csv(["2021-01-01,1", "2021-01-02,lots"]))).toThrow(/non-numeric values: line 3 "lots"/);
    expect(() => parseYouTubeCsv(csv(["2021-01-01,-5"]))).toThrow(/negative values.*line 2 \(2021-01-01: -5\)/);
    expect(() => parseYouTubeCsv(csv(["2021-01-01,1", "2021-01-02,"]))).toThrow(/missing values on line\(s\) 3/);
  });
  it("throws DataError, not a generic error", () => {
    expect(() => parseYouTubeCsv(csv(["2021-01-01,x"]))).toThrow(DataError);
  });
});

describe("lag features and the chronological split", () => {
  const s = parseYouTubeCsv(csv(days(10).map((d, i) => `${d},${i * 10}`)));
  it("puts yesterday in x1, the day before in x2, …", () => {
    const d = lagFeatures(s, 3);
    expect(d.X[0]).toEqual([20, 10, 0]);
    expect(d.y[0]).toBe(30);
    expect(d.dates[0]).toBe("2021-01-04");
    expect(d.X.length).toBe(7);
  });
  it("says how many days a model needs when the series is too short", () => {
    expect(() => lagFeatures(s, 10)).toThrow(/has 10 days; a model that looks at 10 past days needs at least 11 days/);
  });
  it("splits the built-in data like the lecture: four years to train, then the test period", () => {
    const b = loadBirths();
    const split = chronologicalSplit(b, 56);
    expect(split).toEqual({ train: { start: "2010-01-01", end: "2013-12-31" }, test: { start: "2014-01-01", end: "2014-12-31" } });
    const { train, test } = trainTest(b, 56, split);
    expect(train.y.length).toBe(1461);
    expect(test.y.length).toBe(365);
    expect(train.dates.at(-1)! < test.dates[0]).toBe(true); // never train on the future
  });
  it("gives notebooks 02–05 notebook 01's series in thousands and its split", () => {
    const { series, split } = courseData({});
    const births = inThousands(loadBirths());
    expect(series.values).toEqual(births.values);
    expect(series.unit).toBe("k births");
    expect(split).toEqual(chronologicalSplit(births, MAX_LAG));
    expect(courseData({ COURSE_TEST_DAYS: "30" }).split.test.start).toBe("2014-12-02");
  });
  it("is configurable, and says how many days a split needs", () => {
    const b = loadBirths();
    expect(chronologicalSplit(b, 7, { trainYears: 1, testDays: 30 }).test.start).toBe("2014-12-02");
    expect(() => chronologicalSplit(s, 3, { trainYears: 1, testDays: 5 })).toThrow(/need \d+ days/);
  });
});

describe("the validation split", () => {
  it("carves the period before the test period out of training, keeping the test period", () => {
    const b = inThousands(loadBirths());
    const split = chronologicalSplit(b, MAX_LAG);
    const v = withValidation(split, 365);
    expect(v).toEqual({
      train: { start: "2010-01-01", end: "2012-12-31" },
      validation: { start: "2013-01-01", end: "2013-12-31" },
      test: { start: "2014-01-01", end: "2014-12-31" },
    });
    // default: as many validation days as test days
    expect(withValidation(split)).toEqual(v);
    const d = trainValTest(b, MAX_LAG, v);
    expect([d.train.y.length, d.validation.y.length, d.test.y.length]).toEqual([1096, 365, 365]);
    // chronological, no day in two sets, and train + validation = the two-way split's training set
    expect(d.train.dates.at(-1)! < d.validation.dates[0]).toBe(true);
    expect(d.validation.dates.at(-1)! < d.test.dates[0]).toBe(true);
    const two = trainTest(b, MAX_LAG, split);
    expect([...d.train.dates, ...d.validation.dates]).toEqual(two.train.dates);
    expect(d.test).toEqual(two.test);
    // every model, whatever its lag, sees the same days
    expect(trainValTest(b, 1, v).train.dates).toEqual(d.train.dates);
  });
  it("is in courseData, sized by COURSE_VAL_DAYS or the test period", () => {
    expect(courseData({}).valSplit.validation).toEqual({ start: "2013-01-01", end: "2013-12-31" });
    expect(courseData({ COURSE_VAL_DAYS: "90" }).valSplit.validation).toEqual({ start: "2013-10-03", end: "2013-12-31" });
    const short = courseData({ COURSE_TRAIN_YEARS: "1.5", COURSE_TEST_DAYS: "180" }).valSplit;
    expect(short.test.start).toBe("2014-07-05");
    expect(short.validation).toEqual({ start: "2014-01-06", end: "2014-07-04" });
    expect(short.train.end).toBe("2014-01-05");
  });
  it("fails with the numbers when the training period is too short, only where validation is used", () => {
    const env = { COURSE_TRAIN_YEARS: "0.5", COURSE_TEST_DAYS: "365" };
    const c = courseData(env); // the two-way split still works
    expect(c.split.train.start).toBe("2013-07-02");
    expect(() => c.valSplit).toThrow(/training period 2013-07-02 … 2013-12-31 has 183 days; 365 validation days \+ at least 28 days to train on need 393\. Use fewer validation days \(COURSE_VAL_DAYS\)/);
    expect(() => courseData({ COURSE_VAL_DAYS: "1.5" }).valSplit).toThrow(/COURSE_VAL_DAYS must be a whole number/);
    for (const v of ["0x10", "1e3", "Infinity", "0"]) expect(() => courseData({ COURSE_VAL_DAYS: v }).valSplit).toThrow(/COURSE_VAL_DAYS must be a whole number in \[1, 36500\]/);
    expect(() => withValidation(chronologicalSplit(loadBirths(), 7), 0)).toThrow(DataError);
  });
});

describe("a training-length sweep keeps the validation and test periods", () => {
  it("moves only the start of training, and says when the series is too short", () => {
    const b = inThousands(loadBirths());
    const v = courseData({}).valSplit;
    const ten = withTrainYears(b, MAX_LAG, v, 10);
    expect(ten.train).toEqual({ start: "2003-01-01", end: "2012-12-31" });
    expect(ten.validation).toEqual(v.validation);
    expect(ten.test).toEqual(v.test);
    expect(withTrainYears(b, MAX_LAG, v, 0.5).train.start).toBe("2012-07-02");
    expect(trainValTest(b, MAX_LAG, withTrainYears(b, MAX_LAG, v, 1)).train.y.length).toBe(366); // 2012 is a leap year
    expect(() => withTrainYears(b, MAX_LAG, v, 13)).toThrow(/13 training year\(s\) before 2013-01-01 start on 2000-01-01 and need 56 days of history/);
    expect(trainYearsThatFit(b, MAX_LAG, v, [0.5, 1, 2, 4, 10, 13])).toEqual([0.5, 1, 2, 4, 10]);
  });
});
