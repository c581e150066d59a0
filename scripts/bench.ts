// `npm run bench -- <job> [flags]`: one benchmark per job. A benchmark measures and
// prints; it asserts nothing (tests assert behaviour, benchmarks measure speed).
// The job's own flags are parsed by the job (scripts/bench-*.ts).
import { ArgsError, defineCli, runCli, exitWith } from "./args";

const JOBS: Record<string, { module: string; about: string }> = {
  train: { module: "./bench-train", about: "training throughput of the course's MLPs (TensorFlow.js, and PyTorch when present)" },
  phi2: { module: "./bench-phi2", about: "phi-2-shaped decoding: load time, tokens/s, memory bandwidth bound" },
};

export const CLI = defineCli({
  program: "bench",
  usage: "usage: npm run bench -- <job> [flags]   (npm run bench -- <job> --help for the job's flags)",
  flags: {},
  stopAtPositional: true,
  footer: ["jobs:", ...Object.entries(JOBS).map(([k, v]) => `  ${k.padEnd(6)} ${v.about}`)].join("\n"),
});

/** The job's module and its arguments; an ArgsError for a missing or unknown job. */
export function chooseJob(rest: string[]): { module: string; argv: string[] } {
  const [job, ...argv] = rest;
  const names = Object.keys(JOBS).join(", ");
  if (job === undefined) throw new ArgsError(`name a benchmark: ${names}`);
  const entry = Object.prototype.hasOwnProperty.call(JOBS, job) ? JOBS[job] : undefined;
  if (!entry) throw new ArgsError(`unknown benchmark "${job}"; the benchmarks are: ${names}`);
  return { module: entry.module, argv };
}

export function run(argv: string[]): Promise<number> {
  return runCli(
    CLI,
    argv,
    (p) => {
      const { module, argv: rest } = chooseJob(p.rest);
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const mod = require(module) as { main(argv: string[]): Promise<number> };
      return mod.main(rest);
    },
    undefined,
    "npm run bench -- --help",
  );
}

if (require.main === module) exitWith(run(process.argv.slice(2)));
