// Bad or unusual data files (issue 11): every message names the file or variable and the limit,
// and nothing is read silently wrong.
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync, symlinkSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  DataError,
  MAX_CSV_BYTES,
  chronologicalSplit,
  courseData,
  courseSplitOptions,
  loadCourseSeries,
  parseCsv,
  parseCsvRecords,
  parseYouTubeCsv,
  resolveUserPath,
  userDir,
} from "../lib/data";

const csv = (rows: string[]) => ["Date,Views", ...rows].join("\n");
const days = (n: number, start = "2021-01-01") =>
  Array.from({ length: n }, (_, i) => new Date(Date.parse(`${start}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));
const dir = mkdtempSync(join(tmpdir(), "course-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** The DataError a call throws (fails the test when it throws nothing or something else). */
const dataError = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error("no error");
};

describe("COURSE_FILL_GAPS", () => {
  const gappy = csv(["2021-01-01,10", "2021-01-04,40", "2021-01-05,50", "2021-01-07,70"]);
  it("without it, loading stops, lists the days and names the variable with its choices", () => {
    const m = dataError(() => parseYouTubeCsv(gappy, "views.csv"));
    expect(m).toMatch(/^views\.csv: the series has gaps; missing days: 2021-01-02, 2021-01-03, 2021-01-06\. /);
    expect(m).toMatch(/set COURSE_FILL_GAPS to one of linear, previous, zero/);
  });
  it("linear: a straight line between the days either side", () => {
    const s = parseYouTubeCsv(gappy, "v", "linear");
    expect(s.dates).toEqual(days(7));
    expect(s.values).toEqual([10, 20, 30, 40, 50, 60, 70]);
  });
  it("previous: the last recorded day's value; zero: 0", () => {
    expect(parseYouTubeCsv(gappy, "v", "previous").values).toEqual([10, 10, 10, 40, 50, 50, 70]);
    expect(parseYouTubeCsv(gappy, "v", "zero").values).toEqual([10, 0, 0, 40, 50, 0, 70]);
  });
  it("the filled days go into the series' notes, which notebook 01 prints under the series", () => {
    const s = parseYouTubeCsv(gappy, "v", "linear");
    expect(s.notes).toHaveLength(1);
    expect(s.notes[0]).toMatch(/^filled 3 missing day\(s\) \(42\.9 % of the 7; longest gap 2 day\(s\)\) with a straight line .*COURSE_FILL_GAPS=linear.*: 2021-01-02, 2021-01-03, 2021-01-06$/);
  });
  it("a series without gaps gets no note", () => {
    expect(parseYouTubeCsv(csv(["2021-01-01,1", "2021-01-02,2"]), "v", "zero").notes).toEqual([]);
  });
  it("read from the environment by loadCourseSeries, and a bad value names the variable and its choices", () => {
    const f = join(dir, "gappy.csv");
    writeFileSync(f, gappy);
    const s = loadCourseSeries({ COURSE_CSV: f, COURSE_FILL_GAPS: "previous" });
    expect(s.values).toEqual([10, 10, 10, 40, 50, 50, 70]);
    expect(s.notes.join()).toMatch(/COURSE_FILL_GAPS=previous/);
    expect(dataError(() => loadCourseSeries({ COURSE_CSV: f, COURSE_FILL_GAPS: "mean" }))).toBe(
      'COURSE_FILL_GAPS must be one of linear, previous, zero (or unset, to stop and list the missing days); got "mean"',
    );
    expect(dataError(() => loadCourseSeries({ COURSE_CSV: f }))).toMatch(/gappy\.csv: the series has gaps.*COURSE_FILL_GAPS/);
  });
});

describe("CSV rows and cells", () => {
  it("an unquoted thousands separator (2015-01-01,1,000) is refused, naming the line, not read as 1", () => {
    const m = dataError(() => parseYouTubeCsv(csv(["2015-01-01,999", "2015-01-02,1,000", "2015-01-03,1,001"]), "views.csv"));
    expect(m).toBe(
      'views.csv: more cells than the 2 column(s) of the header on line 3 (3 cells), line 4 (3 cells). A number with a thousands separator must be quoted ("1,000") or written without it (1000).',
    );
  });
  it("a quoted thousands value and a trailing empty cell are fine", () => {
    expect(parseYouTubeCsv(csv(['2015-01-01,"1,000"', "2015-01-02,1001,"])).values).toEqual([1000, 1001]);
  });
  it("an unterminated quote names the line it opens on, and nothing of the file's text", () => {
    const ds = days(3000);
    const body = ds.map((d, i) => `${d},${i}`);
    body[41] = `${ds[41]},"41`; // line 43 of the file: the quote never closes
    const m = dataError(() => parseYouTubeCsv(csv(body), "views.csv"));
    expect(m).toBe('views.csv: line 43: a quote (") opens a cell that is never closed; close it or remove it');
  });
  it("line numbers count the lines inside quoted cells", () => {
    const r = parseCsvRecords('a,b\n"x\ny",1\nz,2\n');
    expect(r.map((x) => x.line)).toEqual([1, 2, 4]);
    expect(dataError(() => parseCsv('d,v\n"multi\nline",1\nnope,2\n', { dateColumn: "d", valueColumn: "v", source: "f.csv" }))).toMatch(/line 2 "multi\\nline", line 4 "nope"/);
  });
  it("a long bad cell is shortened in the message", () => {
    const m = dataError(() => parseYouTubeCsv(csv([`${"x".repeat(30_000)},1`]), "f.csv"));
    expect(m.length).toBeLessThan(200);
  });
});

describe("dates outside 1000-01-01 … 9999-12-31", () => {
  it("a year below 1000 is refused with its line, not a RangeError", () => {
    const m = dataError(() => parseYouTubeCsv(csv(["0999-12-30,1", "0999-12-31,2", "1000-01-01,3"]), "old.csv"));
    expect(m).toBe("old.csv: dates outside 1000-01-01 … 9999-12-31 (the course handles four-digit years only): line 2 (0999-12-30), line 3 (0999-12-31)");
  });
  it("year 1000 itself loads, splits and builds features", () => {
    const s = parseYouTubeCsv(csv(days(400, "1000-01-01").map((d, i) => `${d},${i}`)), "old.csv");
    expect(s.dates[0]).toBe("1000-01-01");
    expect(chronologicalSplit(s, 7, { trainYears: 0.5, testDays: 30 }).test.end).toBe(s.dates.at(-1));
  });
});

describe("COURSE_TRAIN_YEARS and COURSE_TEST_DAYS", () => {
  const cases: [Record<string, string>, string][] = [
    [{ COURSE_TRAIN_YEARS: "0.001" }, 'COURSE_TRAIN_YEARS must be a number in [0.1, 100], got "0.001"'],
    [{ COURSE_TRAIN_YEARS: "Infinity" }, 'COURSE_TRAIN_YEARS must be a number in [0.1, 100], got "Infinity"'],
    [{ COURSE_TRAIN_YEARS: "1e20" }, 'COURSE_TRAIN_YEARS must be a number in [0.1, 100], got "1e20"'],
    [{ COURSE_TRAIN_YEARS: "0x4" }, 'COURSE_TRAIN_YEARS must be a number in [0.1, 100], got "0x4"'],
    [{ COURSE_TEST_DAYS: "1e20" }, 'COURSE_TEST_DAYS must be a whole number in [1, 36500], got "1e20"'],
    [{ COURSE_TEST_DAYS: "Infinity" }, 'COURSE_TEST_DAYS must be a whole number in [1, 36500], got "Infinity"'],
    [{ COURSE_TEST_DAYS: "30.5" }, 'COURSE_TEST_DAYS must be a whole number in [1, 36500], got "30.5"'],
    [{ COURSE_TEST_DAYS: "0" }, 'COURSE_TEST_DAYS must be a whole number in [1, 36500], got "0"'],
  ];
  for (const [env, message] of cases) {
    it(`${Object.entries(env)[0]!.join("=")}: refused before any date arithmetic`, () => {
      expect(dataError(() => courseSplitOptions(env))).toBe(message);
      expect(dataError(() => courseData(env))).toBe(message);
    });
  }
  it("values inside the limits work", () => {
    expect(courseSplitOptions({ COURSE_TRAIN_YEARS: "0.5", COURSE_TEST_DAYS: "90" })).toEqual({ trainYears: 0.5, testDays: 90 });
    expect(courseData({ COURSE_TRAIN_YEARS: "0.1" }).split.train.start).toBe("2013-11-25");
  });
  it("a series too short for the split names the variables to change", () => {
    const s = parseYouTubeCsv(csv(days(500).map((d, i) => `${d},${i}`)), "short.csv");
    expect(dataError(() => chronologicalSplit(s, 56))).toMatch(/^short\.csv: the series has 500 days; .*Use fewer training years \(COURSE_TRAIN_YEARS, option trainYears\) or test days \(COURSE_TEST_DAYS, option testDays\)\.$/);
  });
  it("chronologicalSplit itself checks its options", () => {
    const s = parseYouTubeCsv(csv(days(500).map((d, i) => `${d},${i}`)));
    expect(dataError(() => chronologicalSplit(s, 7, { trainYears: 0.001 }))).toBe("chronologicalSplit: trainYears must be in [0.1, 100], got 0.001");
    expect(dataError(() => chronologicalSplit(s, 7, { testDays: 1e20 }))).toBe("chronologicalSplit: testDays must be a whole number in [1, 36500], got 100000000000000000000");
  });
});

describe("COURSE_CSV: the file", () => {
  const good = csv(days(3).map((d, i) => `${d},${i}`));
  it("a relative path is read from the directory the user ran from (COURSE_CWD, INIT_CWD, PWD), not the kernel's", () => {
    const user = join(dir, "user");
    mkdirSync(user);
    writeFileSync(join(user, "my.csv"), good);
    expect(loadCourseSeries({ COURSE_CSV: "my.csv", COURSE_CWD: user }).values).toEqual([0, 1, 2]);
    expect(loadCourseSeries({ COURSE_CSV: "my.csv", INIT_CWD: user }).values).toEqual([0, 1, 2]);
    expect(loadCourseSeries({ COURSE_CSV: "my.csv", PWD: user }).values).toEqual([0, 1, 2]);
    expect(loadCourseSeries({ COURSE_CSV: "my.csv", COURSE_CWD: user, PWD: "/" }).source).toBe(join(user, "my.csv"));
    expect(userDir({ PWD: "relative/not/used" })).toBe(process.cwd());
    expect(resolveUserPath("~/x.csv", {})).toMatch(/\/x\.csv$/);
  });
  it("a missing file names the resolved path and where a relative one was read from", () => {
    expect(dataError(() => loadCourseSeries({ COURSE_CSV: "nope.csv", COURSE_CWD: dir }))).toBe(
      `${join(dir, "nope.csv")}: no such file (COURSE_CSV=nope.csv, read from ${dir})`,
    );
  });
  it("a directory is refused by name (not EISDIR without a path)", () => {
    expect(dataError(() => loadCourseSeries({ COURSE_CSV: dir }))).toBe(`${dir}: is a directory, not a CSV file`);
  });
  it("a FIFO is refused before it is opened (opening one would block)", () => {
    const fifo = join(dir, "pipe.csv");
    try {
      execFileSync("mkfifo", [fifo]);
    } catch {
      return; // no mkfifo here: nothing to test
    }
    expect(dataError(() => loadCourseSeries({ COURSE_CSV: fifo }))).toMatch(/pipe\.csv: is not a regular file/);
  });
  it(`a file over the ${MAX_CSV_BYTES / 1024 / 1024} MB limit is refused by name and size, unread`, () => {
    const big = join(dir, "big.csv");
    writeFileSync(big, good);
    truncateSync(big, 600 * 1024 * 1024); // sparse: no 600 MB written
    expect(dataError(() => loadCourseSeries({ COURSE_CSV: big }))).toBe(
      `${big}: the file is 600 MB; the course reads CSV files up to 100 MB (a century of daily values is under 5 MB): keep only the date and value columns`,
    );
  });
  it("a symlink to a good file is read (the user named it)", () => {
    const real = join(dir, "real.csv");
    writeFileSync(real, good);
    symlinkSync(real, join(dir, "link.csv"));
    expect(loadCourseSeries({ COURSE_CSV: join(dir, "link.csv") }).values).toEqual([0, 1, 2]);
  });
  it("errors from the contents name the full path too", () => {
    const f = join(dir, "sub", "views.csv");
    mkdirSync(join(dir, "sub"));
    writeFileSync(f, csv(["2021-01-01,lots"]));
    expect(dataError(() => loadCourseSeries({ COURSE_CSV: "sub/views.csv", COURSE_CWD: dir }))).toBe(
      `${f}: non-numeric values: line 2 "lots" (COURSE_CSV=sub/views.csv, read from ${dir})`,
    );
  });
});
