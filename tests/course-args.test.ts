// `npm run course` flags (scripts/args): bad ones stop before any notebook runs, exit 2,
// one line naming the flag and the value, no stack trace.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCourseArgs } from "../scripts/course";
import { writeNotebook } from "./helpers/notebooks";

const root = join(__dirname, "..");
const fails = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  try {
    parseCourseArgs(argv, env);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("no error");
};

describe("course flags", () => {
  const here = mkdtempSync(join(tmpdir(), "course-args-"));
  it("prefixes and the default timeout (600 s per cell)", () => {
    expect(parseCourseArgs(["01", "--notebooks", here, "03"], {})).toMatchObject({ nbDir: here, cellTimeout: 600, prefixes: ["01", "03"] });
  });
  it("relative paths are read from the directory the user ran from (INIT_CWD under npm)", () => {
    const r = parseCourseArgs(["--notebooks", ".", "--out", "site2"], { INIT_CWD: here });
    expect(r).toMatchObject({ nbDir: here, out: join(here, "site2") });
  });
  it("a missing notebooks directory is named, resolved", () => {
    expect(fails(["--notebooks", "/nonexistent"])).toBe("--notebooks: no directory /nonexistent");
    expect(fails(["--notebooks", "nb"], { INIT_CWD: here })).toBe(`--notebooks: no directory ${join(here, "nb")} ("nb" from ${here})`);
  });
  it("a file as --notebooks or --out is named", () => {
    const f = join(here, "file.txt");
    writeFileSync(f, "x");
    expect(fails(["--notebooks", f])).toBe(`--notebooks: ${f} is a file, not a directory of notebooks`);
    expect(fails(["--notebooks", here, "--out", f])).toBe(`--out: ${f} is a file, not a directory`);
  });
  it("--cell-timeout must be a whole number of seconds in [1, 86400]", () => {
    expect(fails(["--cell-timeout", "abc"])).toBe('--cell-timeout must be a whole number in [1, 86400], got "abc"');
    expect(fails(["--cell-timeout", "0"])).toBe('--cell-timeout must be a whole number in [1, 86400], got "0"');
    expect(parseCourseArgs(["--notebooks", here, "--cell-timeout", "30"], {})).toMatchObject({ cellTimeout: 30 });
    expect(parseCourseArgs(["--notebooks", here], {})).toMatchObject({ idleTimeout: 60 });
    expect(parseCourseArgs(["--notebooks", here, "--idle-timeout", "5"], {})).toMatchObject({ idleTimeout: 5 });
    expect(fails(["--idle-timeout", "0"])).toBe('--idle-timeout must be a whole number in [1, 86400], got "0"');
  });
  it("unknown and repeated flags", () => {
    expect(fails(["--notebook", "x"])).toBe("unknown flag --notebook; valid flags: --help, --notebooks, --out, --cell-timeout, --idle-timeout");
    expect(fails(["--out", "a", "--out", "b"])).toBe('--out is given twice ("a" and "b"): give it once');
  });
});

describe("the compiled runner as a process", () => {
  const js = join(root, "dist", "scripts", "course.js");
  const run = (args: string[]) => spawnSync(process.execPath, [js, ...args], { encoding: "utf8", cwd: root, timeout: 60_000 });
  it.runIf(existsSync(js))("exits 2 with one line, no stack trace and no pages written, for each bad flag", () => {
    const out = join(mkdtempSync(join(tmpdir(), "course-out-")), "site");
    for (const [args, message] of [
      [["--notebooks", "/nonexistent"], "course: --notebooks: no directory /nonexistent\n"],
      [["--bogus"], "course: unknown flag --bogus; valid flags: --help, --notebooks, --out, --cell-timeout, --idle-timeout\n"],
      [["--cell-timeout", "abc"], 'course: --cell-timeout must be a whole number in [1, 86400], got "abc"\n'],
    ] as const) {
      const r = run([...args, "--out", out]);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`${message}(see npm run course -- --help)\n`);
      expect(r.stdout).toBe("");
      expect(existsSync(out)).toBe(false);
    }
  });
  it.runIf(existsSync(js))("--help exits 0 and lists the flags", () => {
    const r = run(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--cell-timeout S\s+seconds one cell may take \(whole number in \[1, 86400\]; default 600\)/);
  });
});

describe("COURSE_CSV=my.csv under npm run course (the README's example)", () => {
  // The kernel runs in the notebooks' directory; the runner passes the user's directory
  // (INIT_CWD under npm) as COURSE_CWD, so the relative path is read from where the user was.
  const js = join(root, "dist", "scripts", "course.js");
  it.runIf(existsSync(js))("a relative COURSE_CSV is read from the directory the command ran in", async () => {
    const user = mkdtempSync(join(tmpdir(), "course-user-"));
    const nbs = join(user, "nbs");
    mkdirSync(nbs);
    writeFileSync(join(user, "my.csv"), "Date,Views\n2021-01-01,5\n2021-01-02,6\n2021-01-03,7\n");
    const lib = JSON.stringify(join(root, "dist", "lib", "data"));
    writeNotebook(join(nbs, "01-csv.ipynb"), [`const data = require(${lib});\nconst s = data.loadCourseSeries();\nconsole.log("loaded " + s.source + " " + s.values.join(","))`]);
    // `node course.js` run in `user` without npm or a shell's PWD: only the runner's COURSE_CWD
    // can tell the kernel (whose own directory is nbs/) where the user was. Under npm,
    // INIT_CWD says the same and is inherited too.
    const env: NodeJS.ProcessEnv = { ...process.env, COURSE_CSV: "my.csv" };
    for (const k of ["COURSE_CWD", "INIT_CWD", "PWD"]) delete env[k];
    const r = await new Promise<{ status: number | null; out: string }>((done) => {
      const child = spawn(process.execPath, [js, "--notebooks", "nbs", "--out", "site"], { cwd: user, env, timeout: 180_000 });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      child.on("close", (status) => done({ status, out }));
    });
    expect(r.out).toMatch(/1 of 1 notebook\(s\) ran/);
    expect(r.status).toBe(0);
    const page = readFileSync(join(user, "site", "01-csv.ipynb"), "utf8");
    expect(page).toContain(`loaded ${join(user, "my.csv")} 5,6,7`);
  }, 200_000);
});
