// The checkout's root folder: the nearest folder above this file that holds the course's
// package.json (this file runs compiled, from dist/scripts/, and in the tests from scripts/).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

function courseRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "dl-from-linear-to-phi2") return dir;
    if (dirname(dir) === dir) throw new Error(`no folder above ${from} holds the course's package.json`);
  }
}

export const ROOT = courseRoot(__dirname);
