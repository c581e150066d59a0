// lib/progress: the text of the bar and when it is written, on a fake clock and a fake stream.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadPhi } from "../lib/phi2";
import {
  etaSeconds, formatBar, formatFinalLine, formatPercent, formatPlainLine, formatTtyLine, Progress, withProgress, type ProgressState,
} from "../lib/progress";

/** A stream that records what is written, as a terminal or as a pipe. */
function fakeStream(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return { writes, isTTY, columns, write: (s: string) => void writes.push(s), text: () => writes.join("") };
}

/** A clock the test moves by hand. */
function fakeClock() {
  const c = { t: 100, now: () => c.t };
  return c;
}

/** phi-2's load as PhiModel.load reports it: 131 matrices (32 layers × 4 kinds of shape + lm_head), `seconds` in all. */
function phi2Matrices(): number[] {
  const h = 2560, im = 10240, V = 51200;
  const sizes: number[] = [];
  for (let l = 0; l < 32; l++) sizes.push(h * h, h * h, h * h, h * h, im * h, h * im);
  sizes.push(V * h);
  return sizes;
}

/** Feeds `sizes` to `p`, the clock moving evenly over `seconds`. */
function feed(p: Progress, clock: { t: number }, sizes: number[], seconds: number) {
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  for (const n of sizes) {
    clock.t += (seconds * n) / total;
    done += n;
    p.update(done, total);
  }
}

const state = (s: Partial<ProgressState>): ProgressState => ({ done: 42, total: 100, totalBytes: 5.56e9, elapsedS: 4.1, etaS: 5.66, ...s });

describe("formatting", () => {
  it("the bar has `width` cells, filled rounded down, full only at 100 %", () => {
    expect(formatBar(0, 10)).toBe("[░░░░░░░░░░]");
    expect(formatBar(0.5, 10)).toBe("[█████░░░░░]");
    expect(formatBar(0.999, 10)).toBe("[█████████░]");
    expect(formatBar(1, 10)).toBe("[██████████]");
    expect(formatBar(1.7, 10)).toBe("[██████████]"); // clamped
    expect(formatBar(-1, 4)).toBe("[░░░░]");
    for (const f of [0, 0.13, 0.5, 0.87, 1]) expect([...formatBar(f)].length).toBe(22); // default 20 cells + brackets
  });

  it("percent is rounded down: 100 % only when everything is done", () => {
    expect(formatPercent(0)).toBe("0 %");
    expect(formatPercent(0.42)).toBe("42 %");
    expect(formatPercent(0.29)).toBe("29 %"); // 0.29 * 100 = 28.999…: not 28
    expect(formatPercent(0.9999)).toBe("99 %");
    expect(formatPercent(1)).toBe("100 %");
  });

  it("ETA is the time so far scaled to what is left; unknown before anything is done", () => {
    expect(etaSeconds(1, 4, 2)).toBe(6);
    expect(etaSeconds(4, 4, 2)).toBe(0);
    expect(etaSeconds(0, 4, 2)).toBeNull();
    expect(etaSeconds(5, 4, 2)).toBe(0); // never negative
  });

  it("the terminal line: label, bar, percent, GB placed of total, elapsed, ETA", () => {
    expect(formatTtyLine("weights", state({}), 10)).toBe("weights [████░░░░░░] 42 % · 2.34 of 5.56 GB · 4.1 s · ETA 5.7 s");
    expect(formatTtyLine("weights", state({ etaS: null, totalBytes: 0 }), 10)).toBe("weights [████░░░░░░] 42 % · 4.1 s · ETA ?");
  });

  it("the log line has no bar and no control characters", () => {
    const line = formatPlainLine("weights", state({}));
    expect(line).toBe("weights: 42 % · 2.34 of 5.56 GB · 4.1 s · ETA 5.7 s");
    expect(line).not.toMatch(/[\r\x1b█]/);
  });

  it("the final line: bytes, time and rate; or where it stopped", () => {
    const end = state({ done: 100, elapsedS: 12.34, etaS: 0 });
    expect(formatFinalLine("weights", end, true)).toBe("weights: 5.56 GB in 12.3 s (0.45 GB/s)");
    expect(formatFinalLine("weights", { ...end, totalBytes: 0 }, true)).toBe("weights: done in 12.3 s");
    expect(formatFinalLine("weights", state({}), false)).toBe("weights: stopped at 42 % (2.34 of 5.56 GB) after 4.1 s");
  });
});

describe("Progress: when it writes", () => {
  it("a quick job (under the delay) writes nothing at all, not even a final line", () => {
    const s = fakeStream(true), clock = fakeClock();
    const p = new Progress({ label: "weights", totalBytes: 5.56e9, stream: s, live: null, now: clock.now });
    feed(p, clock, phi2Matrices(), 0.9);
    p.finish(true);
    expect(s.writes).toEqual([]);
  });

  it("not a terminal: one plain line per 10 % at most, then the final line; no \\r, no escapes", () => {
    const s = fakeStream(false), clock = fakeClock();
    const p = new Progress({ label: "weights", totalBytes: 5.56e9, stream: s, live: null, now: clock.now });
    feed(p, clock, phi2Matrices(), 13);
    p.finish(true);
    const text = s.text();
    expect(text).not.toMatch(/[\r\x1b]/);
    expect(text.endsWith("\n")).toBe(true);
    const lines = text.trimEnd().split("\n");
    // nothing before 1 s (≈7 %), then a line per 10 % done at most (≈7 … 97), then the final one
    expect(lines.length).toBeGreaterThanOrEqual(8);
    expect(lines.length).toBeLessThanOrEqual(11);
    expect(lines.at(-1)).toBe("weights: 5.56 GB in 13.0 s (0.43 GB/s)");
    const percents = lines.slice(0, -1).map((l) => {
      expect(l).toMatch(/^weights: \d+ % · \d+\.\d\d of 5\.56 GB · \d+\.\d s · ETA \d+\.\d s$/);
      return Number(/: (\d+) %/.exec(l)![1]);
    });
    for (let i = 1; i < percents.length; i++) expect(percents[i] - percents[i - 1]).toBeGreaterThanOrEqual(10);
    expect(percents[0]).toBeGreaterThanOrEqual(7); // the first line waits for the delay
    expect(Math.max(...percents)).toBeLessThan(100); // 100 % is the final line's
  });

  it("not a terminal: 19 % then 20 % is one line, not two (10 % more than the last line, not a new tens digit)", () => {
    const s = fakeStream(false), clock = fakeClock();
    const p = new Progress({ label: "w", stream: s, live: null, now: clock.now, delayS: 0 });
    for (const pct of [19, 20, 28, 29, 50, 99, 100]) {
      clock.t += 1;
      p.update(pct, 100);
    }
    expect(s.writes.map((w) => /: (\d+) %/.exec(w)![1])).toEqual(["19", "29", "50", "99"]); // 100 % is the final line's
  });

  it("not a terminal: the ETA comes from the rate since the first update (setup before it does not count)", () => {
    const s = fakeStream(false), clock = fakeClock();
    const p = new Progress({ label: "w", stream: s, live: null, now: clock.now, delayS: 0 });
    clock.t += 5; // 5 s of setup (tokenizer, backend) before the first matrix
    p.update(10, 100);
    clock.t += 2;
    p.update(20, 100); // 10 units in 2 s since the first update, 80 left: 16 s
    expect(s.writes.at(-1)).toBe("w: 20 % · 7.0 s · ETA 16.0 s\n");
  });

  it("a terminal: one line redrawn with \\r, throttled, ended by the final line and a newline", () => {
    const s = fakeStream(true), clock = fakeClock();
    const p = new Progress({ label: "weights", totalBytes: 5.56e9, stream: s, live: null, now: clock.now });
    feed(p, clock, phi2Matrices(), 13);
    const drawn = s.writes.length;
    expect(drawn).toBeGreaterThan(10);
    expect(drawn).toBeLessThanOrEqual(Math.ceil((13 - 1) / 0.1) + 1); // at most every 0.1 s after the 1 s delay
    for (const w of s.writes) {
      expect(w).toMatch(/^\r.*\x1b\[K$/); // redraws the line, clears what a longer line left
      expect(w).not.toContain("\n");
    }
    expect(s.writes.at(-1)).toBe("\rweights [████████████████████] 100 % · 5.56 of 5.56 GB · 13.0 s · ETA 0.0 s\x1b[K");
    p.finish(true);
    p.finish(true); // twice: once only
    expect(s.writes.length).toBe(drawn + 1);
    expect(s.writes.at(-1)).toBe("\rweights: 5.56 GB in 13.0 s (0.43 GB/s)\x1b[K\n");
  });

  it("a terminal line never wraps: cut to the terminal's width", () => {
    const s = fakeStream(true, 40), clock = fakeClock();
    const p = new Progress({ label: "weights", totalBytes: 5.56e9, stream: s, live: null, now: clock.now, delayS: 0 });
    p.update(1, 2);
    expect(s.writes[0]).toBe(`\r${"weights [██████████░░░░░░░░░░] 50 % · 2.78 of 5.56 GB · 0.0 s · ETA ?".slice(0, 39)}\x1b[K`);
  });

  it("a notebook: updates and the final line go to one live display, nothing to the stream", () => {
    const s = fakeStream(false), clock = fakeClock();
    const shown: string[] = [];
    const live = { update: (t: string) => void shown.push(`update ${t}`), done: (t: string) => void shown.push(`done ${t}`) };
    const p = new Progress({ label: "weights", totalBytes: 5.56e9, stream: s, live, now: clock.now });
    feed(p, clock, phi2Matrices(), 13);
    p.finish(true);
    expect(s.writes).toEqual([]);
    expect(shown.length).toBeLessThanOrEqual(Math.ceil((13 - 1) / 0.25) + 2); // at most 4 a second
    expect(shown.at(-1)).toBe("done weights: 5.56 GB in 13.0 s (0.43 GB/s)");
    expect(shown.slice(0, -1).every((x) => x.startsWith("update weights ["))).toBe(true);
  });
});

describe("withProgress", () => {
  it("a job that throws: the line is ended with where it stopped, and the error goes on", async () => {
    const s = fakeStream(true), clock = fakeClock();
    const job = async (onProgress?: (done: number, total: number) => void) => {
      clock.t += 2;
      onProgress!(42, 100);
      throw new Error("disk on fire");
    };
    await expect(withProgress({ label: "weights", totalBytes: 5.56e9, stream: s, live: null, now: clock.now }, job)).rejects.toThrow("disk on fire");
    expect(s.text()).toBe("\rweights [████████░░░░░░░░░░░░] 42 % · 2.34 of 5.56 GB · 2.0 s · ETA ?\x1b[K\rweights: stopped at 42 % (2.34 of 5.56 GB) after 2.0 s\x1b[K\n");
  });

  it("the job's own bytes (loadPhi passes them as a third argument) replace the option's", async () => {
    const s = fakeStream(false), clock = fakeClock();
    const r = await withProgress({ label: "weights", stream: s, live: null, now: clock.now }, async (onProgress) => {
      clock.t += 3;
      onProgress!(50, 100, 2e9);
      clock.t += 3;
      onProgress!(100, 100, 2e9);
      return 7;
    });
    expect(r).toBe(7);
    expect(s.text()).toBe("weights: 50 % · 1.00 of 2.00 GB · 3.0 s · ETA ?\nweights: 2.00 GB in 6.0 s (0.33 GB/s)\n");
  });

  it("enabled: false runs the job without a callback and writes nothing", async () => {
    const s = fakeStream(true);
    const r = await withProgress({ label: "weights", stream: s, live: null, enabled: false }, async (onProgress) => onProgress);
    expect(r).toBeUndefined();
    expect(s.writes).toEqual([]);
  });
});

describe("loadPhi drives the bar (tiny-phi fixture, js backend)", () => {
  it("every matrix reported, weights counted up to the total, the bytes being the memory estimate's matrices", async () => {
    const calls: [number, number, number][] = [];
    const s = fakeStream(false);
    const loaded = await withProgress({ label: "weights", stream: s, live: null, delayS: 0 }, (onProgress) =>
      loadPhi(path.join(__dirname, "fixtures", "tiny-phi"), { backend: "js", positions: 16, onProgress: (d, t, b) => (calls.push([d, t, b]), onProgress!(d, t, b)) }),
    );
    await loaded.model.close();
    const { numLayers, hidden: h, intermediate: im, vocabSize: V } = loaded.config;
    expect(calls.length).toBe(6 * numLayers + 1); // q, k, v, dense, fc1, fc2 per layer, then lm_head
    const total = numLayers * (4 * h * h + 2 * h * im) + V * h;
    expect(calls.at(-1)).toEqual([total, total, loaded.estimate.matrices]);
    expect(loaded.estimate.matrices).toBe(total * 4); // the js backend holds fp32
    for (let i = 1; i < calls.length; i++) expect(calls[i][0]).toBeGreaterThan(calls[i - 1][0]);
    expect(s.writes.at(-1)).toMatch(new RegExp(`^weights: ${(total * 4 / 1e9).toFixed(2).replace(".", "\\.")} GB in \\d+\\.\\d s`));
  });
});

describe("Ctrl-C while a terminal bar is drawn", () => {
  it("ends the bar's line, then the process dies of SIGINT as it would without a bar", async () => {
    // a child draws a bar on a "terminal" (stderr, marked as a TTY), says ready, and waits
    const lib = path.join(__dirname, "..", "dist", "lib", "progress.js");
    const script = [
      `const { Progress } = require(${JSON.stringify(lib)});`,
      `const p = new Progress({ label: "weights", delayS: 0, redrawS: 0, live: null, stream: { isTTY: true, columns: 80, write: (s) => process.stderr.write(s) } });`,
      `p.update(3, 10, 2e9);`,
      `process.stdout.write("ready\\n");`,
      `setInterval(() => {}, 1000);`,
    ].join("\n");
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => child.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve()));
    child.kill("SIGINT");
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("exit", (c, s) => resolve([c, s])));
    expect(signal).toBe("SIGINT");
    expect(code).toBeNull();
    expect(stderr).toMatch(/^\rweights \[.*30 %.*\x1b\[K\n$/s); // the drawn line, ended
  });
});
