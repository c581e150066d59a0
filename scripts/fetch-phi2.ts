// `npm run fetch-phi2 [-- --dir DIR] [--repo OWNER/NAME] [--revision REV]`: download
// microsoft/phi-2 (≈5.6 GB) from the Hugging Face Hub into data/models/phi-2, with a
// progress bar. Interrupted? Run it again: it resumes where it stopped.
// (The same files as the article's `git clone https://huggingface.co/microsoft/phi-2`.)
import * as path from "node:path";
import { fetchModel, PHI2_REPO } from "../lib/phi2/fetch";
import { Progress } from "../lib/progress";
import { defaultPhi2Dir } from "../lib/phi2/load";
import { ArgsError, defineCli, runCli, exitWith } from "./args";
import { ROOT } from "./root";

export const CLI = defineCli({
  program: "fetch-phi2",
  usage: `usage: npm run fetch-phi2 [-- --dir DIR] [--repo ${PHI2_REPO}] [--revision main]`,
  flags: {
    dir: { type: "string", metavar: "DIR", help: "where the files go (default $PHI2_DIR or data/models/phi-2)" },
    repo: { type: "string", metavar: "NAME", default: PHI2_REPO, help: "Hub repository, OWNER/NAME" },
    revision: { type: "string", metavar: "REV", default: "main", help: "branch, tag or commit" },
  },
  footer: "HF_TOKEN in the environment is used if set (phi-2 itself needs none).",
});

/** A Hub repository id: OWNER/NAME of letters, digits, "-", "_", "." (no "..", no other "/"). */
const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

export async function main(argv: string[]): Promise<number> {
  return runCli(CLI, argv, (p) => download(p.values), undefined, "npm run fetch-phi2 -- --help");
}

async function download(values: { dir?: string; repo: string; revision: string }): Promise<number> {
  if (!REPO_ID.test(values.repo) || values.repo.includes(".."))
    throw new ArgsError(`--repo must be OWNER/NAME (letters, digits, "-", "_", "."), got "${values.repo}"`, "--repo");
  const dir = path.resolve(values.dir ?? defaultPhi2Dir(ROOT));
  // lib/progress: one redrawn line on a terminal, a line per 10 % in a log
  const bar = new Progress({ label: "phi-2" });
  const tty = process.stderr.isTTY;
  let bytes = 0;
  try {
    const files = await fetchModel({
      repo: values.repo,
      revision: values.revision,
      dir,
      log: (line) => process.stderr.write(`${tty ? "\r\x1b[K" : ""}${line}\n`), // (a terminal's bar is redrawn below it)
      onProgress: (done, total) => bar.update(done, total, total), // bytes of bytes
    });
    bar.finish(true);
    bytes = files.reduce((s, f) => s + f.size, 0);
  } catch (e) {
    bar.finish(false);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause ? ` (${cause.code ?? cause.message})` : "";
    console.error(`fetch-phi2: ${(e as Error).message}${why}\n(no network? run it again to resume; finished files are kept)`);
    return 1;
  }
  console.log(`phi-2 is in ${dir} (${(bytes / 1e9).toFixed(2)} GB). Try: npm run phi2 -- --model ${dir}`);
  return 0;
}

if (require.main === module) exitWith(main(process.argv.slice(2)));
