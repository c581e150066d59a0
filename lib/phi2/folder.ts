// Files inside a model folder. A downloaded model folder is untrusted input: its
// index names the shard files, and a name like "../../etc/passwd" must not make us
// open anything outside the folder the user named. Every file we open from a model
// folder goes through `fileInFolder`, which checks — before anything is opened —
//   1. the name is a plain file name: a non-empty string, no "/" or "\", no "..",
//      no NUL, not absolute, no Windows drive ("C:");
//   2. its real path (symlinks resolved) is inside the folder's real path;
//   3. it is a regular file (a FIFO would block the open forever, a device or a
//      directory is not a model file).
// `openRegular` then opens it without blocking and checks it is still that file.

import * as fs from "node:fs";
import * as path from "node:path";

export class ModelFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelFolderError";
  }
}

/** Why `name` is not a plain file name (as a sentence fragment), or null when it is one. */
export function plainNameProblem(name: unknown): string | null {
  if (typeof name !== "string") return `is ${name === null ? "null" : Array.isArray(name) ? "an array" : `a ${typeof name}`}, not a file name`;
  if (name === "") return "is empty";
  if (name.includes("\0")) return "contains a NUL byte";
  if (name.includes("/") || name.includes("\\")) return "contains a path separator (/ or \\): only plain file names inside the model folder are allowed";
  if (name.includes("..")) return 'contains ".." : only plain file names inside the model folder are allowed';
  if (name === "." || path.isAbsolute(name) || /^[A-Za-z]:/.test(name)) return "is not a plain file name inside the model folder";
  return null;
}

function kind(st: fs.Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "not a regular file";
}

/** Is `inner` (a real path) `outer` or inside it? */
function within(outer: string, inner: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

export interface FolderFileOptions {
  /** The file that named `name` (e.g. the index), for the error message. */
  source?: string;
  /** What names it there (e.g. `tensor "lm_head.weight"`). */
  what?: string;
}

/**
 * The path of the regular file `name` inside `dir`, checked as described at the top
 * of this file. A missing file throws `<path>: not found`.
 */
export function fileInFolder(dir: string, name: unknown, opts: FolderFileOptions = {}): string {
  const by = opts.source ? `${opts.source}: ${opts.what ? `${opts.what}: ` : ""}` : "";
  const problem = plainNameProblem(name);
  if (problem !== null) throw new ModelFolderError(`${by}file name ${JSON.stringify(name)} ${problem}; refusing to open it`);
  const file = path.join(dir, name as string);
  let realDir: string, real: string;
  try {
    realDir = fs.realpathSync(dir);
  } catch {
    throw new ModelFolderError(`${dir}: model folder not found`);
  }
  try {
    real = fs.realpathSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ModelFolderError(`${by}${file}: not found`);
    throw new ModelFolderError(`${by}${file}: ${(e as Error).message}`);
  }
  if (!within(realDir, real)) {
    throw new ModelFolderError(
      `${by}${file} is a symlink to ${real}, outside the model folder ${realDir}; refusing to open it ` +
        "(copy the real files into the folder, e.g. huggingface-cli download --local-dir, or git clone)",
    );
  }
  const st = fs.statSync(real);
  if (!st.isFile()) throw new ModelFolderError(`${by}${file}: ${kind(st)}, not a regular file; refusing to open it`);
  return file;
}

/**
 * Open `file` read-only without blocking (O_NONBLOCK: a FIFO swapped in after the
 * check cannot hang us) and check it is a regular file. Returns the descriptor.
 */
export function openRegular(file: string): number {
  const flags = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);
  let fd: number;
  try {
    fd = fs.openSync(file, flags);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFolderError(code === "ENOENT" ? `${file}: not found` : `${file}: cannot open (${code ?? (e as Error).message})`);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new ModelFolderError(`${file}: ${kind(st)}, not a regular file; refusing to read it`);
  }
  return fd;
}

/** The text of the regular file `name` inside `dir` (UTF-8), checked by `fileInFolder`. */
export function readFolderText(dir: string, name: string): string {
  const fd = openRegular(fileInFolder(dir, name));
  try {
    return fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
}

/** Does `dir/name` exist (as anything, even a dangling symlink)? */
export function existsInFolder(dir: string, name: string): boolean {
  try {
    fs.lstatSync(path.join(dir, name));
    return true;
  } catch {
    return false;
  }
}
