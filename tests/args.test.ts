// scripts/args.ts: the flag parser every CLI uses. Each bad command line must throw an
// ArgsError whose message names the flag, the value and the limit.
import { describe, expect, it } from "vitest";
import { ArgsError, defineCli, fmtLimit, helpText, parseCli, runCli, type Parsed } from "../scripts/args";

const cli = defineCli({
  program: "demo",
  usage: "usage: demo [--flags]",
  flags: {
    mfu: { type: "number", min: 0.01, max: 1, default: 0.4, help: "utilisation", hint: (x) => (x > 1 && x <= 100 ? `for ${x} % write ${x / 100}` : undefined) },
    params: { type: "number", min: 1, max: 1e15, suffixes: true, required: true, example: "175e9", help: "parameters" },
    rate: { type: "number", min: 0, max: 1, minExclusive: true, help: "open at 0" },
    threads: { type: "integer", min: 1, max: 256, help: "threads", limitNote: "the wasm pool's limit" },
    backend: { type: "enum", choices: ["auto", "js", "wasm"], default: "auto", help: "backend" },
    model: { type: "string", help: "dir", metavar: "DIR" },
    json: { type: "boolean", help: "JSON" },
  },
});

const ok = (argv: string[]) => {
  const r = parseCli(cli, argv);
  if (r === "help") throw new Error("unexpected help");
  return r;
};
const fails = (argv: string[]): ArgsError => {
  try {
    parseCli(cli, argv);
  } catch (e) {
    expect(e).toBeInstanceOf(ArgsError);
    return e as ArgsError;
  }
  throw new Error(`no error for ${argv.join(" ")}`);
};
const base = ["--params", "175e9"];

describe("parseCli: values", () => {
  it("types, defaults and suffixes", () => {
    const r = ok(["--params", "175B", "--threads", "8", "--backend=wasm", "--json", "--model", "/m"]);
    expect(r.values).toEqual({ mfu: 0.4, params: 175e9, rate: undefined, threads: 8, backend: "wasm", model: "/m", json: true });
    // the inferred types: a number for a number flag with a default, a union for an enum
    const v: Parsed<typeof cli.flags>["values"] = r.values;
    const mfu: number = v.mfu;
    const backend: "auto" | "js" | "wasm" = v.backend;
    expect([mfu, backend]).toEqual([0.4, "wasm"]);
  });

  it("accepts every decimal form and key=value", () => {
    for (const [text, x] of [["0.5", 0.5], [".5", 0.5], ["5e-1", 0.5], ["+0.5", 0.5], ["1", 1], ["1.", 1], ["1E0", 1]] as const) {
      expect(ok([...base, `--mfu=${text}`]).values.mfu).toBe(x);
    }
    expect(ok(["--params", "1.4e12"]).values.params).toBe(1.4e12);
    expect(ok(["--params", "7k"]).values.params).toBe(7000);
    expect(ok(["--params", "2.7b"]).values.params).toBeCloseTo(2.7e9, 0);
  });

  it("bounds are inclusive unless said otherwise", () => {
    expect(ok([...base, "--mfu", "0.01"]).values.mfu).toBe(0.01);
    expect(ok([...base, "--mfu", "1"]).values.mfu).toBe(1);
    expect(ok([...base, "--rate", "1"]).values.rate).toBe(1);
    expect(fails([...base, "--rate", "0"]).message).toBe("--rate must be a number in (0, 1], got 0");
  });

  it("--help and -h, even beside bad flags", () => {
    expect(parseCli(cli, ["--help"])).toBe("help");
    expect(parseCli(cli, ["--nonsense", "-h"])).toBe("help");
    // after -- it is not a flag but a positional, which this CLI has none of
    expect(() => parseCli(cli, [...base, "--", "--help"])).toThrow(/unexpected argument "--help"/);
  });
});

describe("parseCli: refused numbers name the flag, the value and the range", () => {
  const cases: [string, string[], RegExp][] = [
    ["comma", ["--params", "1,75"], /^--params: "1,75" is not a number \(a comma is neither a thousands separator nor a decimal point here; .*allowed range \[1, 1e15\]\)$/],
    ["hex", [...base, "--mfu", "0x1"], /^--mfu: "0x1" is not a number \(hexadecimal, octal and binary are not accepted; .*allowed range \[0.01, 1\]\)$/],
    ["NaN", [...base, "--mfu", "NaN"], /^--mfu: "NaN" is not a number \(it must be a finite number; .*\[0.01, 1\]\)$/],
    ["Infinity", ["--params", "Infinity"], /^--params: "Infinity" is not a number/],
    ["overflow to Infinity", ["--params", "1e400"], /^--params must be a number in \[1, 1e15\], got 1e400$/],
    ["below the minimum", [...base, "--mfu", "1e-300"], /^--mfu must be a number in \[0.01, 1\], got 1e-300$/],
    ["percent typed", [...base, "--mfu", "50"], /^--mfu must be a number in \[0.01, 1\], got 50 \(for 50 % write 0.5\)$/],
    ["negative", [...base, "--mfu", "-3"], /^--mfu must be a number in \[0.01, 1\], got -3$/],
    ["underscore", ["--params", "1_000"], /^--params: "1_000" is not a number \(write the digits without separators/],
    ["words", ["--params", "lots"], /^--params: "lots" is not a number \(write a decimal number such as 175e9, optionally with k, M, B or T \(175B\); allowed range \[1, 1e15\]\)$/],
    ["suffix where none allowed", [...base, "--mfu", "1k"], /^--mfu: "1k" is not a number/],
    ["integer with a fraction", [...base, "--threads", "1.5"], /^--threads must be a whole number in \[1, 256\], got "1.5" \(the wasm pool's limit\)$/],
    ["integer in e-notation", [...base, "--threads", "1e1"], /^--threads must be a whole number in \[1, 256\], got "1e1"/],
    ["integer too big", [...base, "--threads", "1000000000"], /^--threads must be a whole number in \[1, 256\], got "1000000000"/],
    ["integer zero", [...base, "--threads", "0"], /^--threads must be a whole number in \[1, 256\], got "0"/],
    ["enum", [...base, "--backend", "gpu"], /^--backend must be one of auto, js, wasm; got "gpu"$/],
    ["enum prefix", [...base, "--backend", "wa"], /^--backend must be one of auto, js, wasm; got "wa" \(did you mean wasm\?\)$/],
  ];
  for (const [name, argv, message] of cases) {
    it(name, () => {
      const e = fails(argv);
      expect(e.message).toMatch(message);
      expect(e.flag).toBe(argv[argv.length - 2]); // the offending flag is always the last one here
    });
  }
});

describe("parseCli: refused command lines", () => {
  const cases: [string, string[], RegExp][] = [
    ["repeated flag", [...base, "--mfu", "0.4", "--mfu", "0.5"], /^--mfu is given twice \("0.4" and "0.5"\): give it once$/],
    ["repeated with =", [...base, "--mfu=0.4", "--mfu", "0.5"], /^--mfu is given twice/],
    ["repeated boolean", [...base, "--json", "--json"], /^--json is given twice: give it once$/],
    ["unknown flag lists the valid ones", [...base, "--gpus", "8"], /^unknown flag --gpus; valid flags: --help, --mfu, --params, --rate, --threads, --backend, --model, --json$/],
    ["unknown short flag", [...base, "-x"], /^unknown flag -x; valid flags: --help, --mfu/],
    ["missing value at the end", [...base, "--mfu"], /^--mfu needs a value \(e.g. --mfu 0.4\)$/],
    ["missing value before a flag", ["--params", "--mfu", "0.5"], /^--params needs a value before --mfu \(e.g. --params 175e9\)$/],
    ["empty value", [...base, "--model="], /^--model needs a value, got an empty one/],
    ["required", ["--mfu", "0.5"], /^--params is required \(e.g. --params 175e9\); see --help$/],
    ["stray argument", [...base, "h100"], /^unexpected argument "h100": every value follows its flag/],
    ["boolean with a value", [...base, "--json=yes"], /^--json takes no value, got "yes"$/],
    ["__proto__ is not a flag", [...base, "--__proto__", "1"], /^unknown flag --__proto__/],
  ];
  for (const [name, argv, message] of cases) {
    it(name, () => expect(fails(argv).message).toMatch(message));
  }
});

describe("enum ignoreCase", () => {
  const gpu = defineCli({ program: "p", usage: "u", flags: { gpu: { type: "enum", choices: ["h100-sxm", "a100-sxm"], ignoreCase: true, help: "g" } } });
  it("returns the canonical choice", () => {
    expect(parseCli(gpu, ["--gpu", "H100-SXM"])).toEqual({ values: { gpu: "h100-sxm" }, positionals: [], rest: [] });
    expect(() => parseCli(gpu, ["--gpu", "H100"])).toThrow('--gpu must be one of h100-sxm, a100-sxm; got "H100" (did you mean h100-sxm?)');
  });
});

describe("positionals", () => {
  const withPos = defineCli({ program: "course", usage: "u", flags: { out: { type: "string", help: "o" } }, positionals: { name: "PREFIX", help: "p" } });
  it("collects positionals between flags", () => {
    const r = parseCli(withPos, ["01", "--out", "x", "03"]);
    expect(r).toEqual({ values: { out: "x" }, positionals: ["01", "03"], rest: [] });
  });
  const jobs = defineCli({ program: "bench", usage: "u", flags: { json: { type: "boolean", help: "j" } }, stopAtPositional: true });
  it("stopAtPositional hands the job and its flags back untouched, --help included", () => {
    const r = parseCli(jobs, ["train", "--epochs", "5", "--help"]);
    expect(r).toEqual({ values: { json: false }, positionals: [], rest: ["train", "--epochs", "5", "--help"] });
    expect(parseCli(jobs, ["--help", "train"])).toBe("help");
  });
  it("at most `max`", () => {
    const one = defineCli({ program: "p", usage: "u", flags: {}, positionals: { name: "FILE", help: "f", max: 1 } });
    expect(() => parseCli(one, ["a", "b"])).toThrow(/too many FILE arguments \(at most 1\), got "b"/);
  });
});

describe("help and runCli", () => {
  it("help lists every flag with its range and default", () => {
    const h = helpText(cli);
    expect(h).toMatch(/^usage: demo/);
    expect(h).toMatch(/--mfu X\s+utilisation \(number in \[0.01, 1\]; default 0.4\)/);
    expect(h).toMatch(/--params X\s+parameters \(number in \[1, 1e15\]; required\)/);
    expect(h).toMatch(/--backend auto\|js\|wasm/);
    expect(h).toMatch(/--model DIR/);
    expect(h).toMatch(/-h, --help\s+this text/);
  });

  it("runCli: exit 2 and one line per error, exit 0 for help, the body's code otherwise", async () => {
    let out = "";
    let err = "";
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s) };
    expect(await runCli(cli, [...base, "--mfu", "2"], () => 0, io)).toBe(2);
    expect(err).toBe("demo: --mfu must be a number in [0.01, 1], got 2 (for 2 % write 0.02)\n(see --help)\n");
    expect(err).not.toMatch(/at .*args/); // no stack trace
    expect(await runCli(cli, ["-h"], () => 7, io)).toBe(0);
    expect(out).toMatch(/usage: demo/);
    expect(await runCli(cli, base, (p) => (p.values.params === 175e9 ? 7 : 1), io)).toBe(7);
    err = "";
    const thrown = await runCli(cli, base, () => { throw new ArgsError("give --a or --b, not both"); }, io);
    expect([thrown, err]).toEqual([2, "demo: give --a or --b, not both\n(see --help)\n"]);
    await expect(runCli(cli, base, () => { throw new TypeError("a bug"); }, io)).rejects.toThrow("a bug");
  });

  it("fmtLimit writes limits the way they are typed", () => {
    expect([fmtLimit(1e15), fmtLimit(0.01), fmtLimit(2048), fmtLimit(1e-5), fmtLimit(0)]).toEqual(["1e15", "0.01", "2048", "1e-5", "0"]);
  });

  it("a spec with min > max or a --help flag is a programming error", () => {
    expect(() => defineCli({ program: "p", usage: "u", flags: { n: { type: "integer", min: 2, max: 1, help: "" } } })).toThrow(/min > max/);
    expect(() => defineCli({ program: "p", usage: "u", flags: { help: { type: "boolean", help: "" } } })).toThrow(/built in/);
  });
});
