// `npm run bench -- <job> [flags]`: one benchmark per job. A benchmark measures and
// prints; it asserts nothing (tests assert behaviour, benchmarks measure speed).
const JOBS: Record<string, { module: string; about: string }> = {
  train: { module: "./bench-train", about: "training throughput of the course's MLPs (TensorFlow.js, and PyTorch when present)" },
  phi2: { module: "./bench-phi2", about: "phi-2-shaped decoding: load time, tokens/s, memory bandwidth bound" },
};

function usage(): string {
  return ["usage: npm run bench -- <job> [flags]   (--json for one JSON object)", "jobs:"]
    .concat(Object.entries(JOBS).map(([k, v]) => `  ${k.padEnd(6)} ${v.about}`))
    .join("\n");
}

async function run(argv: string[]): Promise<number> {
  const [job, ...rest] = argv;
  if (!job || job === "--help" || job === "-h") {
    console.log(usage());
    return job ? 0 : 2;
  }
  const entry = JOBS[job];
  if (!entry) {
    console.error(`unknown benchmark "${job}"\n${usage()}`);
    return 2;
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const mod = require(entry.module) as { main(argv: string[]): Promise<number> };
  return mod.main(rest);
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    process.exit(1);
  },
);
