// The checkout's root folder: the nearest folder above this file that holds the course's
// package.json (this file runs compiled, from dist/scripts/, and in the tests from scripts/).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { findUp } from "../lib/find-up";

const isCourse = (dir: string) => {
  const pkg = join(dir, "package.json");
  return existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "dl-from-linear-to-phi2";
};

export const ROOT = findUp(__dirname, isCourse, () => `no folder above ${__dirname} holds the course's package.json`);
