// Command-line flags for every CLI of the course (budget, course, phi2, fetch-phi2, bench).
//
// One small parser instead of one style per script, because a flag is untrusted input:
//   - each flag has a type: string, integer, number (with stated bounds), enum or boolean;
//   - numbers are plain decimals only ("0.5", "175e9", and "175B" where a flag allows
//     suffixes): "1,75", "0x1", "NaN", "Infinity", "" are refused, not guessed at;
//   - integers and numbers must state [min, max], so every range error names its limit;
//   - a flag given twice, an unknown flag, a missing value, a stray argument: each an error;
//   - every error names the flag and the value, and a CLI turns it into one line on
//     stderr and exit code 2 (see `runCli`), never a stack trace.
//
//   const cli = defineCli({ program: "budget", summary: "...", flags: {
//     mfu: { type: "number", min: 0.01, max: 1, default: 0.4, help: "model FLOPs utilisation" },
//   }});
//   const parsed = parseCli(cli, argv);   // "help" | { values, positionals, rest }; throws ArgsError

interface Common {
  /** One line for --help. */
  help: string;
  /** The value's name in --help ("N", "DIR"); defaults from the type. */
  metavar?: string;
  /** An example value, used in "needs a value (e.g. --days 30)". */
  example?: string;
}
export interface StringFlag extends Common {
  type: "string";
  default?: string;
  required?: boolean;
}
export interface IntegerFlag extends Common {
  type: "integer";
  min: number;
  max: number;
  default?: number;
  required?: boolean;
  /** Why the limits are what they are, appended to a range error. */
  limitNote?: string;
}
export interface NumberFlag extends Common {
  type: "number";
  min: number;
  max: number;
  /** The bound itself is not allowed: (min, max] instead of [min, max]. */
  minExclusive?: boolean;
  maxExclusive?: boolean;
  /** Accept k/M/B/T after the number (thousand, million, billion, trillion): "175B". */
  suffixes?: boolean;
  default?: number;
  required?: boolean;
  limitNote?: string;
  /** An extra hint for a value out of range ("for 50 % write 0.5"). */
  hint?: (x: number) => string | undefined;
}
export interface EnumFlag extends Common {
  type: "enum";
  choices: readonly string[];
  default?: string;
  required?: boolean;
  /** "H100-SXM" is read as the choice "h100-sxm". */
  ignoreCase?: boolean;
}
export interface BooleanFlag extends Common {
  type: "boolean";
}
export type Flag = StringFlag | IntegerFlag | NumberFlag | EnumFlag | BooleanFlag;

/** `--no-progress`, shared by the CLIs that load phi-2's weights (lib/progress draws the bar). */
export const NO_PROGRESS_FLAG = {
  type: "boolean",
  help: "no progress bar on stderr while the weights load (shown only when the load takes over 1 s)",
} as const satisfies BooleanFlag;
export type Flags = Record<string, Flag>;

export interface Cli<S extends Flags> {
  /** Prefix of every error line: "budget: …". */
  program: string;
  /** The usage line(s) printed at the top of --help. */
  usage: string;
  /** A paragraph under the usage line. */
  summary?: string;
  flags: S;
  /** Positional arguments (e.g. notebook prefixes); none allowed when absent. */
  positionals?: { name: string; help: string; max?: number };
  /** Stop at the first positional and hand it and everything after it back as `rest`
   *  (for `bench <job> [job flags]`). */
  stopAtPositional?: boolean;
  /** Text after the flag list in --help. */
  footer?: string;
}

type ValueOf<F> = F extends { type: "boolean" }
  ? boolean
  : F extends { type: "integer" | "number" }
    ? number
    : F extends { type: "enum"; choices: readonly (infer C)[] }
      ? C
      : string;
type Always<F> = F extends { type: "boolean" } ? true : F extends { default: unknown } ? true : F extends { required: true } ? true : false;
export type Values<S extends Flags> = { [K in keyof S]: Always<S[K]> extends true ? ValueOf<S[K]> : ValueOf<S[K]> | undefined };

export interface Parsed<S extends Flags> {
  values: Values<S>;
  positionals: string[];
  /** With `stopAtPositional`: the first positional and everything after it, untouched. */
  rest: string[];
}

/** A bad command line. `flag` is the flag it is about ("--mfu"), when there is one. */
export class ArgsError extends Error {
  constructor(
    message: string,
    readonly flag?: string,
  ) {
    super(message);
    this.name = "ArgsError";
  }
}

/** Keeps the literal types of the spec (enum choices, `required: true`) for `Values`. */
export function defineCli<const S extends Flags>(cli: Cli<S>): Cli<S> {
  for (const [name, f] of Object.entries(cli.flags)) {
    if (name === "help") throw new Error(`${cli.program}: --help is built in; do not declare it`);
    if ((f.type === "integer" || f.type === "number") && !(f.min <= f.max)) throw new Error(`${cli.program}: --${name} has min > max`);
  }
  return cli;
}

/** 1e15 → "1e15", 0.01 → "0.01", 2048 → "2048": limits written the way they can be typed. */
export function fmtLimit(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-4)) return x.toExponential().replace("e+", "e");
  return String(x);
}

function rangeText(f: IntegerFlag | NumberFlag): string {
  const lo = f.type === "number" && f.minExclusive ? "(" : "[";
  const hi = f.type === "number" && f.maxExclusive ? ")" : "]";
  return `${lo}${fmtLimit(f.min)}, ${fmtLimit(f.max)}${hi}`;
}

const SUFFIX: Record<string, number> = { k: 1e3, m: 1e6, b: 1e9, t: 1e12 };
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/** Why a text is not a decimal number, in words, for the usual mistakes. */
function syntaxHint(text: string): string {
  if (/^[+-]?0[xob]/i.test(text)) return "hexadecimal, octal and binary are not accepted";
  if (/\d,\d/.test(text)) return "a comma is neither a thousands separator nor a decimal point here";
  if (/\d_\d/.test(text)) return "write the digits without separators";
  if (/^[+-]?(nan|inf|infinity)$/i.test(text)) return "it must be a finite number";
  if (text.trim() !== text) return "no spaces around the number";
  return "";
}

function parseNumber(flag: string, f: NumberFlag, text: string): number {
  let body = text;
  let scale = 1;
  const last = text.slice(-1).toLowerCase();
  if (f.suffixes && last in SUFFIX && text.length > 1) {
    body = text.slice(0, -1);
    scale = SUFFIX[last]!;
  }
  if (!DECIMAL.test(body)) {
    const why = syntaxHint(text);
    const ex = f.example ?? (f.default !== undefined ? fmtLimit(f.default) : fmtLimit(f.min));
    const forms = `a decimal number such as ${ex}${f.suffixes ? ", optionally with k, M, B or T (175B)" : ""}`;
    throw new ArgsError(`${flag}: "${text}" is not a number (${why ? why + "; " : ""}write ${forms}; allowed range ${rangeText(f)})`, flag);
  }
  const x = Number(body) * scale;
  const below = f.minExclusive ? x <= f.min : x < f.min;
  const above = f.maxExclusive ? x >= f.max : x > f.max;
  if (!Number.isFinite(x) || below || above) {
    const hint = Number.isFinite(x) ? f.hint?.(x) : undefined;
    const note = [hint, f.limitNote].filter(Boolean).join("; ");
    throw new ArgsError(`${flag} must be a number in ${rangeText(f)}, got ${text}${note ? ` (${note})` : ""}`, flag);
  }
  return x;
}

function parseInteger(flag: string, f: IntegerFlag, text: string): number {
  const x = INTEGER.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(x) || x < f.min || x > f.max) {
    const why = INTEGER.test(text) ? "" : syntaxHint(text);
    throw new ArgsError(`${flag} must be a whole number in ${rangeText(f)}, got "${text}"${why ? ` (${why})` : ""}${f.limitNote ? ` (${f.limitNote})` : ""}`, flag);
  }
  return x;
}

function convert(flag: string, f: Flag, text: string): string | number {
  switch (f.type) {
    case "string":
      return text;
    case "integer":
      return parseInteger(flag, f, text);
    case "number":
      return parseNumber(flag, f, text);
    case "enum": {
      const same = f.ignoreCase ? f.choices.find((c) => c.toLowerCase() === text.toLowerCase()) : undefined;
      if (same !== undefined) return same;
      if (!f.choices.includes(text)) {
        const near = f.choices.filter((c) => c.toLowerCase() === text.toLowerCase() || c.toLowerCase().startsWith(text.toLowerCase()));
        const mean = near.length && text ? ` (did you mean ${near.join(" or ")}?)` : "";
        throw new ArgsError(`${flag} must be one of ${f.choices.join(", ")}; got "${text}"${mean}`, flag);
      }
      return text;
    }
    case "boolean":
      throw new Error("unreachable: booleans take no value");
  }
}

function example(name: string, f: Flag): string {
  if (f.example !== undefined) return f.example;
  if (f.type === "enum") return f.choices[0] ?? "";
  if (f.type === "number" || f.type === "integer") return fmtLimit(f.default ?? f.min);
  if (f.type === "string" && f.default !== undefined) return f.default;
  return (f.metavar ?? name).toUpperCase();
}

export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/** Parse `argv` (without node and the script). "help" when --help/-h is among the flags. */
export function parseCli<S extends Flags>(cli: Cli<S>, argv: string[]): Parsed<S> | "help" {
  const flags = cli.flags as Flags;
  const known = () => ["--help", ...Object.keys(flags).map((k) => `--${k}`)].join(", ");
  // --help wins over everything else, so a broken command line can still ask for help,
  // unless it comes after the first positional of a `stopAtPositional` CLI (then it is the job's).
  const firstPositional = cli.stopAtPositional ? argv.findIndex((a) => !a.startsWith("-")) : -1;
  if (wantsHelp(firstPositional < 0 ? argv : argv.slice(0, firstPositional))) return "help";

  const raw = new Map<string, { flag: string; text: string | true }>();
  const positionals: string[] = [];
  let rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-" || /^-[\d.]/.test(arg)) {
      if (cli.stopAtPositional) {
        rest = argv.slice(i);
        break;
      }
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith("--")) throw new ArgsError(`unknown flag ${arg}; valid flags: ${known()}`, arg);
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const flag = `--${name}`;
    const f = Object.prototype.hasOwnProperty.call(flags, name) ? flags[name] : undefined;
    if (!f) throw new ArgsError(`unknown flag ${flag}; valid flags: ${known()}`, flag);
    let text: string | true;
    if (f.type === "boolean") {
      if (eq >= 0) throw new ArgsError(`${flag} takes no value, got "${arg.slice(eq + 1)}"`, flag);
      text = true;
    } else if (eq >= 0) {
      text = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      // A value may start with "-" (a negative number, for a clear range error) but not "--".
      if (next === undefined || next.startsWith("--")) {
        const before = next === undefined ? "" : ` before ${next.split("=")[0]}`;
        throw new ArgsError(`${flag} needs a value${before} (e.g. ${flag} ${example(name, f)})`, flag);
      }
      text = next;
      i++;
    }
    if (text !== true && text.trim() === "") throw new ArgsError(`${flag} needs a value, got an empty one (e.g. ${flag} ${example(name, f)})`, flag);
    const prev = raw.get(name);
    if (prev) {
      const both = prev.text === true ? "" : ` (${JSON.stringify(prev.text)} and ${JSON.stringify(text)})`;
      throw new ArgsError(`${flag} is given twice${both}: give it once`, flag);
    }
    raw.set(name, { flag, text });
  }

  const max = cli.positionals ? (cli.positionals.max ?? Infinity) : 0;
  if (positionals.length > max) {
    const extra = positionals[max]!;
    throw new ArgsError(
      cli.positionals
        ? `too many ${cli.positionals.name} arguments (at most ${max}), got "${extra}"`
        : `unexpected argument "${extra}": every value follows its flag (e.g. --${Object.keys(flags)[0] ?? "flag"} ${example(Object.keys(flags)[0] ?? "", Object.values(flags)[0] ?? { type: "string", help: "" })})`,
    );
  }

  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [name, f] of Object.entries(flags)) {
    const got = raw.get(name);
    if (f.type === "boolean") {
      values[name] = got !== undefined;
    } else if (got) {
      values[name] = convert(got.flag, f, got.text as string);
    } else if (f.required) {
      throw new ArgsError(`--${name} is required (e.g. --${name} ${example(name, f)}); see --help`, `--${name}`);
    } else {
      values[name] = f.default;
    }
  }
  return { values: values as Values<S>, positionals, rest };
}

/** The --help text: usage, summary, one line per flag with its type, limits and default. */
export function helpText<S extends Flags>(cli: Cli<S>): string {
  const rows: [string, string][] = [];
  if (cli.positionals) rows.push([cli.positionals.name, cli.positionals.help]);
  for (const [name, f] of Object.entries(cli.flags as Flags)) {
    const meta = f.type === "boolean" ? "" : ` ${f.metavar ?? (f.type === "enum" ? f.choices.join("|") : f.type === "string" ? "TEXT" : f.type === "integer" ? "N" : "X")}`;
    const bits: string[] = [];
    if (f.type === "integer" || f.type === "number") bits.push(`${f.type === "integer" ? "whole number" : "number"} in ${rangeText(f)}`);
    if (f.type !== "boolean" && f.default !== undefined) bits.push(`default ${typeof f.default === "number" ? fmtLimit(f.default) : f.default}`);
    if (f.type !== "boolean" && f.required) bits.push("required");
    rows.push([`--${name}${meta}`, `${f.help}${bits.length ? ` (${bits.join("; ")})` : ""}`]);
  }
  rows.push(["-h, --help", "this text"]);
  const w = Math.min(24, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = rows.map(([l, r]) => (l.length + 2 > w ? `  ${l}\n  ${" ".repeat(w)}${r}` : `  ${l.padEnd(w)}${r}`));
  return [cli.usage, cli.summary ? `\n${cli.summary}` : "", "", ...lines, cli.footer ? `\n${cli.footer}` : ""].join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

/** "budget: --mfu must be …\n(see npm run budget -- --help)\n" */
export function formatArgsError(cli: Cli<Flags>, e: ArgsError, helpCommand = `--help`): string {
  return `${cli.program}: ${e.message}\n(see ${helpCommand})\n`;
}

export interface Io {
  out(s: string): void;
  err(s: string): void;
}
const processIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/**
 * Parse, print --help (exit 0) or a bad-argument line (exit 2), else run `body`.
 * Only ArgsError is caught here: any other error is a bug and keeps its stack.
 */
export async function runCli<S extends Flags>(
  cli: Cli<S>,
  argv: string[],
  body: (p: Parsed<S>) => number | Promise<number>,
  io: Io = processIo,
  helpCommand?: string,
): Promise<number> {
  let parsed: Parsed<S> | "help";
  try {
    parsed = parseCli(cli, argv);
  } catch (e) {
    if (!(e instanceof ArgsError)) throw e;
    io.err(formatArgsError(cli as unknown as Cli<Flags>, e, helpCommand));
    return 2;
  }
  if (parsed === "help") {
    io.out(helpText(cli));
    return 0;
  }
  try {
    return await body(parsed);
  } catch (e) {
    // a check the body does after parsing (e.g. "give --max-length or --max-new-tokens") is an ArgsError too
    if (!(e instanceof ArgsError)) throw e;
    io.err(formatArgsError(cli as unknown as Cli<Flags>, e, helpCommand));
    return 2;
  }
}

/**
 * A CLI's entry point: exit with the code `main` resolves to. Anything else it throws
 * is a bug (flag errors are handled by `runCli`): print its stack, exit 1.
 */
export function exitWith(main: Promise<number>): void {
  main.then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
