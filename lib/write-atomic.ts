// Write a file under a temporary name beside it and rename it into place at the end,
// so that an interrupted write never leaves half a file under the final name (the
// bench's GGUF files, phi-2's weight images: a later run trusts what it finds there).

import * as fs from "node:fs";

/** `write(fd)` into a temporary file, then renamed to `file` (fsync first: `sync`); on an error it is removed. */
export function writeAtomically<T>(file: string, write: (fd: number) => T, opts: { sync?: boolean } = {}): T {
  const tmp = `${file}.partial-${process.pid}`;
  const fd = fs.openSync(tmp, "w");
  try {
    const result = write(fd);
    if (opts.sync) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    return result;
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // closed already
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
