// The runner's idle probe (scripts/kernel-idle.ts): what counts as "still busy", and
// that settle() waits for it, gives up at the bound, and lets a macrotask turn pass.
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { pendingSince, settle, SettleClock } from "../scripts/kernel-idle";
import { ROOT, run } from "./helpers/notebooks";

describe("pendingSince", () => {
  it("is the multiset difference from the baseline", () => {
    const base = ["PipeWrap", "PipeWrap", "TTYWrap"];
    expect(pendingSince(base, base)).toEqual([]);
    expect(pendingSince(base, [...base, "Timeout", "Timeout", "FSReqCallback"])).toEqual(["Timeout ×2", "FSReqCallback"]);
    expect(pendingSince(base, ["PipeWrap"])).toEqual([]); // fewer than at the start is idle too
  });
  it("ignores the file watchers tslab's compiler adds with every import", () => {
    expect(pendingSince(["FSEventWrap"], Array(160).fill("FSEventWrap"))).toEqual([]);
    expect(pendingSince([], ["StatWatcher", "Timeout"])).toEqual(["Timeout"]);
  });
});

/** A clock whose resources are timers that end at given times (ms). */
function fakeClock(endsAt: number[]): SettleClock & { turns: number; t: number } {
  const c = {
    t: 0,
    turns: 0,
    resources: () => endsAt.filter((e) => e > c.t).map(() => "Timeout"),
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
    turn: async () => {
      c.turns++;
    },
  };
  return c;
}

describe("settle", () => {
  it("returns after one macrotask turn when nothing is pending", async () => {
    const c = fakeClock([]);
    expect(await settle([], 60_000, 25, c)).toEqual({ waitedMs: 0, pending: [] });
    expect(c.turns).toBe(1);
  });
  it("waits for a timer that ends within the bound, then takes a turn", async () => {
    const c = fakeClock([5_000]);
    const r = await settle([], 60_000, 25, c);
    expect(r.pending).toEqual([]);
    expect(r.waitedMs).toBe(5_000);
    expect(c.turns).toBe(1);
  });
  it("keeps waiting when the turn starts new work", async () => {
    const c = fakeClock([1_000]);
    const turn = c.turn;
    c.turn = async () => {
      await turn();
      if (c.turns === 1) c.resources = () => (c.t < 3_000 ? ["Immediate"] : []); // a callback scheduled more
    };
    const r = await settle([], 60_000, 25, c);
    expect(r).toEqual({ waitedMs: 3_000, pending: [] });
    expect(c.turns).toBe(2);
  });
  it("gives up at the bound and says what is pending (a never-ending interval)", async () => {
    const c = fakeClock([Infinity, Infinity]);
    const r = await settle([], 2_000, 25, c);
    expect(r).toEqual({ waitedMs: 2_000, pending: ["Timeout ×2"] });
  });
  it("really waits, in a fresh Node process, for its timers and I/O, and counts a late rejection", async () => {
    // A child process: vitest's worker has timers of its own that come and go.
    const script = `
      const k = require(${JSON.stringify(join(ROOT, "dist", "scripts", "kernel-idle.js"))}).installProbe();
      k.takeBaseline();
      const t0 = Date.now();
      let fired = 0;
      setTimeout(() => { fired++; Promise.reject(new Error("late")); }, 300);
      require("fs").readFile(__filename, () => fired++);
      k.settle(10000).then((r) => console.log(JSON.stringify({ ...JSON.parse(r), fired, elapsed: Date.now() - t0 })));`;
    const r = await run(process.execPath, ["-e", script], 30_000);
    const out = JSON.parse(r.stdout.trim()) as { pending: string[]; asyncErrors: number; fired: number; elapsed: number };
    expect(out).toMatchObject({ pending: [], asyncErrors: 1, fired: 2 });
    expect(out.elapsed).toBeGreaterThanOrEqual(300);
  });
  it("ends at the bound in a fresh Node process with a never-ending interval", async () => {
    const script = `
      const k = require(${JSON.stringify(join(ROOT, "dist", "scripts", "kernel-idle.js"))}).installProbe();
      k.takeBaseline();
      setInterval(() => {}, 50);
      k.settle(500).then((r) => { console.log(r); process.exit(0); });`;
    const r = await run(process.execPath, ["-e", script], 30_000);
    const out = JSON.parse(r.stdout.trim()) as { pending: string[]; waitedMs: number };
    expect(out.pending).toEqual(["Timeout"]);
    expect(out.waitedMs).toBeGreaterThanOrEqual(500);
  });
});
