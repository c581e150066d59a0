// The smaller CLIs on scripts/args: bench (job dispatch, bench train's flags) and
// fetch-phi2. Bad flags stop before any work (no benchmark, no download): exit 2 and one
// line naming the flag and the value.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "..");
const dist = (name: string) => join(root, "dist", "scripts", `${name}.js`);
const run = (name: string, args: string[]) => spawnSync(process.execPath, [dist(name), ...args], { encoding: "utf8", timeout: 60_000, cwd: root });
const built = existsSync(dist("bench")) && existsSync(dist("fetch-phi2"));

describe.runIf(built)("bench", () => {
  const cases: [string[], string][] = [
    [[], "bench: name a benchmark: train, phi2"],
    [["nope"], 'bench: unknown benchmark "nope"; the benchmarks are: train, phi2'],
    [["--json"], "bench: unknown flag --json; valid flags: --help"],
    [["train", "--epochs", "0"], 'bench train: --epochs must be a whole number in [1, 100000], got "0"'],
    [["train", "--epochs", "1e3"], 'bench train: --epochs must be a whole number in [1, 100000], got "1e3"'],
    [["train", "--repeats", "3", "--repeats", "4"], 'bench train: --repeats is given twice ("3" and "4"): give it once'],
    [["train", "--torch-threads", "two"], 'bench train: --torch-threads must be a whole number in [1, 256], got "two"'],
    [["train", "--epoch", "5"], "bench train: unknown flag --epoch; valid flags: --help, --json, --epochs, --repeats, --threads, --torch-threads, --no-torch"],
    [["phi2", "--batch", "1,x"], 'bench phi2: --batch must be a comma-separated list of whole numbers in [1, 64], got "1,x"'],
    [["phi2", "--dtype", "q9"], 'bench phi2: --dtype must be one of fp16, bf16, fp32, q8; got "q9"'],
    [["phi2", "--vs", "ollama"], 'bench phi2: --vs must be one of llama.cpp; got "ollama"'],
    [["phi2", "--layers", "0"], 'bench phi2: --layers must be a whole number in [1, 64], got "0"'],
    [["phi2", "--image", "x.phi2img", "--backend", "js"], "bench phi2: --image needs --backend wasm: a weight image holds the wasm kernels' layout"],
    [["phi2", "--image-map"], "bench phi2: --image-map needs --image FILE"],
    [["phi2", "--rounds", "3"], "bench phi2: --rounds needs --vs llama.cpp: a round is one run of ours and one of llama.cpp's"],
    [["phi2", "--vs", "llama.cpp", "--rounds", "0"], 'bench phi2: --rounds must be a whole number in [1, 20], got "0"'],
    [["phi2", "--model", "tests/fixtures/tiny-phi", "--layers", "2"], "bench phi2: --layers cannot be used with --model: the folder's config.json decides the layers"],
    [["phi2", "--model", "tests/fixtures/tiny-phi", "--dtype", "BF16"], "bench phi2: --dtype bf16 cannot be used with --model: a folder's fp16 weights cannot be held as bf16 (use fp16, fp32 or q8)"],
    [["phi2", "--model", join(root, "tests", "no-such-model")], `bench phi2: --model ${join(root, "tests", "no-such-model")}: no such directory`],
    [["phi2", "--model", "tests/fixtures/tiny-phi/config.json"], "bench phi2: --model tests/fixtures/tiny-phi/config.json: not a directory (give the model folder)"],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(" ") || "(nothing)"} → exit 2: ${message}`, () => {
      const r = run("bench", args);
      expect(r.status).toBe(2);
      expect(r.stderr.split("\n")[0]).toBe(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stdout).toBe("");
    });
  }
  it("--help lists the jobs; train --help lists its flags without running", () => {
    expect(run("bench", ["--help"])).toMatchObject({ status: 0, stdout: expect.stringMatching(/jobs:\n\s+train .*\n\s+phi2 /) });
    const r = run("bench", ["train", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--epochs N\s+epochs per timed run \(whole number in \[1, 100000\]; default 100\)/);
    expect(r.stdout).not.toMatch(/epochs\/s/); // nothing was measured
  });
});

describe.runIf(built)("fetch-phi2", () => {
  const cases: [string[], string][] = [
    [["--bogus"], "fetch-phi2: unknown flag --bogus; valid flags: --help, --dir, --repo, --revision"],
    [["--dir"], "fetch-phi2: --dir needs a value (e.g. --dir DIR)"],
    [["--repo", "../x"], 'fetch-phi2: --repo must be OWNER/NAME (letters, digits, "-", "_", "."), got "../x"'],
    [["--repo", "a/b/c"], 'fetch-phi2: --repo must be OWNER/NAME (letters, digits, "-", "_", "."), got "a/b/c"'],
    [["--revision", "main", "--revision", "v2"], 'fetch-phi2: --revision is given twice ("main" and "v2"): give it once'],
    [["stray"], 'fetch-phi2: unexpected argument "stray": every value follows its flag (e.g. --dir DIR)'],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(" ")} → exit 2 before any download: ${message}`, () => {
      const r = run("fetch-phi2", [...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`${message}\n(see npm run fetch-phi2 -- --help)\n`);
    });
  }
});
