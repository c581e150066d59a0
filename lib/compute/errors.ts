// One error type for every bad input to the compute-budget functions, so the CLI can
// tell "you typed something impossible" (exit code 2) from a bug (a crash).

export class BudgetInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BudgetInputError";
  }
}

/** `x` must be a finite number > 0; `what` names it in the message ("--days", "params"). */
export function requirePositive(x: number, what: string): number {
  if (typeof x !== "number" || !Number.isFinite(x) || x <= 0) {
    throw new BudgetInputError(`${what} must be a positive number, got ${String(x)}`);
  }
  return x;
}

/** `x` must be a whole number ≥ `min` (layer counts, widths). */
export function requireInteger(x: number, what: string, min = 1): number {
  if (!Number.isInteger(x) || x < min) {
    throw new BudgetInputError(`${what} must be a whole number ≥ ${min}, got ${String(x)}`);
  }
  return x;
}

/**
 * Model FLOPs utilisation is a fraction of the peak: 0 < mfu ≤ 1. A value like 50
 * is almost always "50 %" typed as a percentage, so the message says so.
 */
export function requireMfu(mfu: number, what = "MFU"): number {
  if (typeof mfu !== "number" || !Number.isFinite(mfu) || mfu <= 0 || mfu > 1) {
    const hint = Number.isFinite(mfu) && mfu > 1 && mfu <= 100 ? ` (for ${mfu} % write ${mfu / 100})` : "";
    throw new BudgetInputError(`${what} must be a fraction in (0, 1], got ${String(mfu)}${hint}`);
  }
  return mfu;
}
