// A progress bar for long jobs (phi-2's load: ≈130 matrices, 5.6 GB, ≥ 10 s here).
//
//   const model = await withProgress({ label: "weights" }, (onProgress) => PhiModel.random(config, backend, "F16", 1, { onProgress }));
//
// It shows only when the job takes long (first draw after `delayS`, 1 s by default), and
// where it runs decides how:
//   - a terminal (stderr is a TTY): one line redrawn in place with "\r";
//   - a pipe, a CI log, nbconvert: a plain line at most every 10 % (never "\r" or escape codes);
//   - a notebook: one live display area, overwritten in place (lib/display), so the
//     exported HTML holds only its last state.
// Whichever it is, the job ends with one final line ("weights: 5.56 GB in 12.3 s (0.45 GB/s)"
// or "weights: stopped at 42 % …" when it threw), and nothing at all when it was quick.
// The formatting is pure functions (tested on their text); `Progress` only decides
// when to write.

import { inNotebook, liveDisplay, type LiveDisplay } from "./display";

/** Where a job stands: `done` of `total` units (weights, bytes…), `totalBytes` the bytes they stand for. */
export interface ProgressState {
  done: number;
  total: number;
  /** Bytes of the whole job (0: unknown; then no GB are shown). */
  totalBytes: number;
  /** Seconds since the job started. */
  elapsedS: number;
  /** Seconds still to go, or null while unknown. */
  etaS: number | null;
}

/** Done fraction in [0, 1] (a job of 0 units is done). */
export function fractionOf(done: number, total: number): number {
  return total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
}

/**
 * Seconds left at a constant rate: `done` units took `seconds`, `total - done` are left.
 * Null until something is done (no rate yet).
 */
export function etaSeconds(done: number, total: number, seconds: number): number | null {
  if (!(done > 0) || !(seconds >= 0)) return null;
  return (seconds * Math.max(0, total - done)) / done;
}

/** "[██████░░░░]": `width` cells, the filled ones rounded down (full only at 100 %). */
export function formatBar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.floor(f * width + 1e-9);
  return `[${"█".repeat(full)}${"░".repeat(width - full)}]`;
}

/** Whole percent, rounded down: "99 %" until every unit is done. */
export function formatPercent(fraction: number): string {
  return `${Math.floor(Math.min(1, Math.max(0, fraction)) * 100 + 1e-9)} %`;
}

const gb = (bytes: number) => (bytes / 1e9).toFixed(2);
const sec = (s: number) => `${s.toFixed(1)} s`;

/** "42 % · 2.34 of 5.56 GB · 4.1 s · ETA 5.7 s": the part both line styles share. */
function formatStatus(p: ProgressState): string {
  const f = fractionOf(p.done, p.total);
  const parts = [formatPercent(f)];
  if (p.totalBytes > 0) parts.push(`${gb(f * p.totalBytes)} of ${gb(p.totalBytes)} GB`);
  parts.push(sec(p.elapsedS));
  parts.push(`ETA ${p.etaS === null ? "?" : sec(p.etaS)}`);
  return parts.join(" · ");
}

/** The line a terminal redraws: "weights [████████░░░░░░░░░░░░] 42 % · 2.34 of 5.56 GB · 4.1 s · ETA 5.7 s". */
export function formatTtyLine(label: string, p: ProgressState, width = 20): string {
  return `${label} ${formatBar(fractionOf(p.done, p.total), width)} ${formatStatus(p)}`;
}

/** A line of a log (no bar): "weights: 42 % · 2.34 of 5.56 GB · 4.1 s · ETA 5.7 s". */
export function formatPlainLine(label: string, p: ProgressState): string {
  return `${label}: ${formatStatus(p)}`;
}

/** The last line: "weights: 5.56 GB in 12.3 s (0.45 GB/s)", or where it stopped if the job failed. */
export function formatFinalLine(label: string, p: ProgressState, ok: boolean): string {
  const f = fractionOf(p.done, p.total);
  if (!ok) {
    const bytes = p.totalBytes > 0 ? ` (${gb(f * p.totalBytes)} of ${gb(p.totalBytes)} GB)` : "";
    return `${label}: stopped at ${formatPercent(f)}${bytes} after ${sec(p.elapsedS)}`;
  }
  if (p.totalBytes <= 0) return `${label}: done in ${sec(p.elapsedS)}`;
  const rate = p.elapsedS > 0 ? ` (${gb(p.totalBytes / p.elapsedS)} GB/s)` : "";
  return `${label}: ${gb(p.totalBytes)} GB in ${sec(p.elapsedS)}${rate}`;
}

/** The part of a stream the bar needs (process.stderr, or a test's fake). */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** First word of every line ("weights"). */
  label: string;
  /** Bytes of the whole job, for "GB of GB" (0 or absent: not shown). */
  totalBytes?: number;
  /** Where to write (default process.stderr). */
  stream?: ProgressStream;
  /** Show in place in a notebook cell (default: when running in the tslab kernel). */
  live?: LiveDisplay | null;
  /** Nothing is shown before this many seconds (default 1). */
  delayS?: number;
  /** A terminal line is redrawn at most this often, in seconds (default 0.1). */
  redrawS?: number;
  /** A log line is written when this many percent more are done than at the last one (default 10). */
  stepPercent?: number;
  /** Seconds now (default performance.now() / 1000); tests pass a fake clock. */
  now?: () => number;
}

type Mode = "tty" | "plain" | "live";

/**
 * Decides when to draw the progress of one job. `update(done, total)` is cheap when
 * it draws nothing (a clock read and a few comparisons): call it as often as you like.
 * Call `finish(ok)` once at the end (withProgress does, also when the job throws).
 */
export class Progress {
  private readonly mode: Mode;
  private readonly stream: ProgressStream;
  private readonly live: LiveDisplay | null;
  private readonly now: () => number;
  private readonly t0: number;
  private readonly delayS: number;
  private readonly redrawS: number;
  private readonly stepPercent: number;
  private totalBytes: number;
  private done = 0;
  private total = 0;
  /** Anchor of the rate behind the ETA: the first update (so setup before the first unit does not count). */
  private first: { t: number; done: number } | null = null;
  private shown = false;
  private lastDraw = -Infinity;
  /** Percent of the last log line (-Infinity: none yet). */
  private lastPercent = -Infinity;
  private finished = false;
  /** Ctrl-C while a terminal line is drawn: end the line, then die of SIGINT as without a bar. */
  private readonly onSigint = (): void => {
    process.removeListener("SIGINT", this.onSigint);
    this.stream.write("\n");
    process.kill(process.pid, "SIGINT");
  };

  constructor(readonly opts: ProgressOptions) {
    this.now = opts.now ?? (() => performance.now() / 1000);
    this.t0 = this.now();
    this.stream = opts.stream ?? process.stderr;
    this.live = opts.live !== undefined ? opts.live : inNotebook() ? liveDisplay(0) : null;
    this.mode = this.live ? "live" : this.stream.isTTY ? "tty" : "plain";
    this.delayS = opts.delayS ?? 1;
    this.redrawS = opts.redrawS ?? (this.mode === "live" ? 0.25 : 0.1);
    this.stepPercent = opts.stepPercent ?? 10;
    this.totalBytes = opts.totalBytes ?? 0;
  }

  /** The state now (for the formatters). */
  state(): ProgressState {
    const t = this.now();
    const f = this.first;
    const etaS = f && this.done > f.done ? etaSeconds(this.done - f.done, this.total - f.done, t - f.t) : null;
    return { done: this.done, total: this.total, totalBytes: this.totalBytes, elapsedS: t - this.t0, etaS };
  }

  /** `done` of `total` units; `totalBytes`, when given, replaces the bytes of the whole job. */
  update = (done: number, total: number, totalBytes?: number): void => {
    if (this.finished) return;
    this.done = done;
    this.total = total;
    if (totalBytes !== undefined) this.totalBytes = totalBytes;
    const t = this.now();
    if (this.first === null) this.first = { t, done };
    if (t - this.t0 < this.delayS) return;
    const f = fractionOf(done, total);
    if (this.mode === "plain") {
      // a line when stepPercent more is done than at the last one; the 100 % line is the final one (finish)
      const percent = Math.floor(f * 100 + 1e-9);
      if (f >= 1 || percent < this.lastPercent + this.stepPercent) return;
      this.lastPercent = percent;
      this.shown = true;
      this.stream.write(formatPlainLine(this.opts.label, this.state()) + "\n");
      return;
    }
    if (t - this.lastDraw < this.redrawS && f < 1) return;
    this.lastDraw = t;
    if (!this.shown && this.mode === "tty") process.on("SIGINT", this.onSigint);
    this.shown = true;
    if (this.mode === "live") this.live!.update(formatTtyLine(this.opts.label, this.state()));
    else this.stream.write(`\r${this.fit(formatTtyLine(this.opts.label, this.state()))}\x1b[K`);
  };

  /**
   * Ends the job: the final line if anything was shown (in a terminal it replaces the
   * bar and ends the line), nothing if the job was quick. Safe to call twice.
   */
  finish(ok = true): void {
    if (this.finished) return;
    this.finished = true;
    process.removeListener("SIGINT", this.onSigint);
    if (!this.shown) return;
    const line = formatFinalLine(this.opts.label, this.state(), ok);
    if (this.mode === "live") this.live!.done(line);
    else if (this.mode === "tty") this.stream.write(`\r${line}\x1b[K\n`);
    else this.stream.write(line + "\n");
  }

  /** A terminal line longer than the terminal would wrap, and "\r" would then redraw only its tail. */
  private fit(line: string): string {
    const cols = this.stream.columns;
    return cols && cols > 1 && line.length > cols - 1 ? line.slice(0, cols - 1) : line;
  }
}

/**
 * Runs `job` with a progress bar (`enabled: false`: without, and `onProgress` is
 * undefined). The bar is finished when the job settles, also when it throws.
 */
export async function withProgress<T>(
  opts: ProgressOptions & { enabled?: boolean },
  job: (onProgress: ((done: number, total: number, totalBytes?: number) => void) | undefined) => Promise<T>,
): Promise<T> {
  if (opts.enabled === false) return job(undefined);
  const p = new Progress(opts);
  let ok = false;
  try {
    const r = await job(p.update);
    ok = true;
    return r;
  } finally {
    p.finish(ok);
  }
}
