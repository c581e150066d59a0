// Numbers as people read them, shared by the budget CLI and notebook 06.

/** 3858.02 → "3,858". */
export function fmtInt(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

/** 3.15e23 → "3.15e+23" (up to `digits` significant digits, trailing zeros dropped). */
export function fmtSci(x: number, digits = 4): string {
  return x.toExponential(digits - 1).replace(/\.?0+e/, "e");
}

/** Whole numbers with separators from 100 up; 3 significant digits below (0.0468, 20.8). */
export function fmtNum(x: number): string {
  return Math.abs(x) >= 100 ? fmtInt(x) : String(+x.toPrecision(3));
}

/** 0.4768 → "47.7 %". */
export function fmtPct(fraction: number, decimals = 1): string {
  return `${(fraction * 100).toFixed(decimals)} %`;
}

/** Decimal units, as GPU datasheets use: 3.5e12 → "3.50 TB", 350e9 → "350.0 GB". */
export function fmtBytes(bytes: number): string {
  if (bytes >= 1e12) return `${(bytes / 1e12).toFixed(2)} TB`;
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  return `${fmtNum(bytes / 1e3)} kB`;
}
