import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { damonLine, damonState } from "../scripts/damon";

// DAMON's sysfs layout (kdamonds/N/state, …/contexts/N/schemes/N/action) in a temporary folder
const root = fs.mkdtempSync(path.join(os.tmpdir(), "damon-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function tree(name: string, kdamonds: { state: string; schemes: string[][] }[]): string {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, "kdamonds"), { recursive: true });
  fs.writeFileSync(path.join(dir, "kdamonds", "nr_kdamonds"), `${kdamonds.length}\n`);
  kdamonds.forEach((k, i) => {
    const kd = path.join(dir, "kdamonds", String(i));
    fs.mkdirSync(path.join(kd, "contexts"), { recursive: true });
    fs.writeFileSync(path.join(kd, "state"), `${k.state}\n`);
    k.schemes.forEach((actions, c) => {
      actions.forEach((a, s) => {
        const sd = path.join(kd, "contexts", String(c), "schemes", String(s));
        fs.mkdirSync(sd, { recursive: true });
        fs.writeFileSync(path.join(sd, "action"), `${a}\n`);
      });
    });
  });
  return dir;
}

describe("damonState: the kernel's data access monitor, as the bench reports it", () => {
  test("a running monitor with a pageout scheme (as on the CI machine)", () => {
    const s = damonState(tree("on", [{ state: "on", schemes: [["pageout"]] }]));
    expect(s).toEqual({ running: 1, actions: ["pageout"] });
    expect(damonLine(s)).toMatch(/^on \(1 monitor; schemes: pageout\): mapped memory/);
  });

  test("only monitors that are on count; their actions are listed once, sorted", () => {
    const dir = tree("mixed", [
      { state: "off", schemes: [["stat"]] },
      { state: "on", schemes: [["pageout", "lru_deprio"], ["pageout"]] },
      { state: "on", schemes: [] },
    ]);
    expect(damonState(dir)).toEqual({ running: 2, actions: ["lru_deprio", "pageout"] });
  });

  test("all off, and no DAMON at all", () => {
    const off = damonState(tree("off", [{ state: "off", schemes: [["pageout"]] }]));
    expect(off).toEqual({ running: 0, actions: [] });
    expect(damonLine(off)).toBe("off");
    expect(damonState(path.join(root, "absent"))).toBeNull();
    expect(damonLine(null)).toMatch(/^not in this kernel/);
  });
});
