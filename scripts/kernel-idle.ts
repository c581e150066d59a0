// The idle probe of the notebook runner (scripts/nbexec.py), installed in every kernel
// of this checkout by scripts/tslab-preload.
//
// Why: tslab reports an unhandled rejection or an uncaught exception only by printing
// `UnhandledPromiseRejection: …` / `UncaughtException: …` (its main.ts) into the output
// of whichever execute request came last, busy or idle; the cell that scheduled the
// callback has long "succeeded". An error that fires after the last cell is seen only if
// the runner is still listening when it fires. So the runner takes a baseline of Node's
// active resources before the first cell, and ends with a probe cell that waits, up to a
// bound, until none of the notebook's timers, immediates or I/O requests is left, lets
// one more macrotask turn pass (Node reports a rejection after the turn that left it
// unhandled), and returns what is still pending and how many async errors Node raised.

/**
 * Resource kinds that never mean "work still to finish": tslab's TypeScript compiler
 * watches every file it type-checks (fs.watch, or fs.watchFile as a fallback), one more
 * watcher with every import.
 */
export const IGNORED_RESOURCES: ReadonlySet<string> = new Set(["FSEventWrap", "StatWatcher"]);

/** Resources in `now` beyond those in `baseline` (a multiset difference), as "Timeout ×2". */
export function pendingSince(baseline: readonly string[], now: readonly string[]): string[] {
  const count = new Map<string, number>();
  for (const r of now) if (!IGNORED_RESOURCES.has(r)) count.set(r, (count.get(r) ?? 0) + 1);
  for (const r of baseline) if (count.has(r)) count.set(r, (count.get(r) as number) - 1);
  return [...count].filter(([, n]) => n > 0).map(([r, n]) => (n > 1 ? `${r} ×${n}` : r));
}

export interface SettleResult {
  /** How long the probe waited, in milliseconds. */
  waitedMs: number;
  /** What was still pending at the bound (empty when the kernel went idle). */
  pending: string[];
}

/** What settle() looks at and waits on (a fake one in the tests). */
export interface SettleClock {
  resources: () => string[];
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** One macrotask turn: due callbacks run, and Node reports what they left unhandled. */
  turn: () => Promise<void>;
}

export const realClock: SettleClock = {
  resources: () => process.getActiveResourcesInfo(),
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  turn: async () => {
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 0));
  },
};

/**
 * Wait until nothing beyond `baseline` is pending (looked at every `pollMs`), then one
 * macrotask turn more, until that still holds after the turn; give up at `boundMs`.
 * Our own timer is never counted: it has fired by the time we look.
 */
export async function settle(baseline: readonly string[], boundMs: number, pollMs = 25, clock: SettleClock = realClock): Promise<SettleResult> {
  const t0 = clock.now();
  for (;;) {
    let pending = pendingSince(baseline, clock.resources());
    if (pending.length === 0) {
      await clock.turn();
      pending = pendingSince(baseline, clock.resources());
      if (pending.length === 0) return { waitedMs: clock.now() - t0, pending };
    }
    const left = boundMs - (clock.now() - t0);
    if (left <= 0) return { waitedMs: clock.now() - t0, pending };
    await clock.sleep(Math.min(pollMs, left));
  }
}

/** What the runner's probe cells call, as `globalThis.__courseKernel`. */
export interface CourseKernel {
  /** Record the resources of the idle kernel; returns them, JSON-encoded. */
  takeBaseline(): string;
  /** settle() against the baseline: JSON of SettleResult plus `asyncErrors` since the baseline. */
  settle(boundMs: number): Promise<string>;
}

/** Install `globalThis.__courseKernel` (once) and count async errors from now on. */
export function installProbe(): CourseKernel {
  const g = globalThis as { __courseKernel?: CourseKernel };
  if (g.__courseKernel) return g.__courseKernel;
  let baseline: string[] = [];
  let asyncErrors = 0;
  // Counted as well as printed by tslab, so an error whose text got lost still fails the run.
  process.on("unhandledRejection", () => asyncErrors++);
  process.on("uncaughtException", () => asyncErrors++);
  g.__courseKernel = {
    takeBaseline() {
      baseline = process.getActiveResourcesInfo();
      asyncErrors = 0;
      return JSON.stringify({ baseline });
    },
    async settle(boundMs: number) {
      const r = await settle(baseline, boundMs);
      return JSON.stringify({ ...r, asyncErrors });
    },
  };
  return g.__courseKernel;
}
