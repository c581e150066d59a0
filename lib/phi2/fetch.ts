// Download a model's files from the Hugging Face Hub (by default microsoft/phi-2,
// ≈5.6 GB) with @huggingface/hub, resuming broken downloads and checking each file.
//
// Each file goes to `name.part` first and is renamed when complete and verified:
//   - a .part left by a broken run is continued from its size (the Hub blob's
//     slice(offset) asks the server for a Range starting there);
//   - sizes come from the Hub's file listing; LFS files (the weights) also carry
//     their sha256 (lfs.oid), small files their git blob sha1 (oid): both checked.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { plainNameProblem } from "./folder";

export const PHI2_REPO = "microsoft/phi-2";

/** One entry of the Hub's file listing (the fields of @huggingface/hub's ListFileEntry we use). */
export interface HubEntry {
  type: string;
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number };
}

export interface RemoteFile {
  path: string;
  size: number;
  /** sha256 of the content (LFS files). */
  sha256?: string;
  /** git blob sha1 (files stored in git itself). */
  gitSha1?: string;
}

/** The Hub as far as we need it; the default uses @huggingface/hub, tests pass fakes. */
export interface HubClient {
  listFiles(repo: string, revision: string): AsyncIterable<HubEntry>;
  /** A lazy Blob of the file: slice(start).stream() downloads from `start` on. */
  blob(repo: string, file: string, revision: string): Promise<Blob>;
}

export function defaultHubClient(): HubClient {
  // loaded only when used: the tests and the notebook never touch the network
  const hub = () => import("@huggingface/hub");
  const accessToken = process.env.HF_TOKEN || undefined;
  return {
    async *listFiles(repo, revision) {
      yield* (await hub()).listFiles({ repo, revision, accessToken });
    },
    async blob(repo, file, revision) {
      const b = await (await hub()).downloadFile({ repo, path: file, revision, accessToken });
      if (!b) throw new Error(`${repo}: file ${file} not found on the Hub`);
      return b;
    },
  };
}

/** Files a phi model needs: config, tokenizer, weights (+ README and LICENSE, to keep the terms beside them). */
const WANTED = /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|added_tokens\.json|vocab\.json|merges\.txt|model\.safetensors\.index\.json|[^/\\]+\.safetensors|README\.md|LICENSE)$/;

/**
 * From the Hub's listing, the files to download (top level only; no .bin/.pt
 * duplicates of the weights). The listing is untrusted like the files: a wanted
 * name that is not a plain file name (a "\\" or ".." in it, see folder.ts) is refused.
 */
export function selectFiles(entries: readonly HubEntry[]): RemoteFile[] {
  for (const e of entries) {
    if (e.type !== "file" || typeof e.path !== "string" || e.path.includes("/")) continue; // subfolders: not downloaded
    const base = e.path.split("\\").at(-1)!;
    const problem = plainNameProblem(e.path);
    if (problem !== null && (WANTED.test(base) || /\.safetensors$/.test(e.path))) {
      throw new Error(`the Hub's file listing names ${JSON.stringify(e.path)}, which ${problem}; refusing to download`);
    }
  }
  return entries
    .filter((e) => e.type === "file" && WANTED.test(e.path) && plainNameProblem(e.path) === null)
    .map((e) => (e.lfs ? { path: e.path, size: e.lfs.size, sha256: e.lfs.oid } : { path: e.path, size: e.size, gitSha1: e.oid }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

export type Plan =
  | { action: "done" } // final file there with the right size (verified separately)
  | { action: "download"; offset: number; reason: string };

/**
 * What to do for a file given what is on disk: `finalSize` of dir/name and
 * `partSize` of dir/name.part (null if absent), `size` on the Hub.
 */
export function planDownload(size: number, finalSize: number | null, partSize: number | null): Plan {
  if (finalSize === size) return { action: "done" };
  if (partSize === null) return { action: "download", offset: 0, reason: finalSize === null ? "new" : `local file has ${finalSize} bytes, Hub has ${size}` };
  if (partSize <= size) return { action: "download", offset: partSize, reason: `resuming at ${partSize} of ${size} bytes` };
  return { action: "download", offset: 0, reason: `partial file (${partSize} bytes) is larger than the Hub's ${size}: starting over` };
}

function fmtBytes(b: number): string {
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} kB`;
  return `${b} B`;
}

/** sha256 (hex) of a file, streamed (phi-2's shards are GBs). */
export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** git's blob id: sha1("blob <size>\0" + content) — what the Hub lists as `oid` for non-LFS files. */
export async function gitBlobSha1File(file: string): Promise<string> {
  const h = createHash("sha1");
  h.update(`blob ${fs.statSync(file).size}\0`);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Checks size and hash of a downloaded file; returns null if fine, else what is wrong. */
export async function verifyFile(file: string, remote: RemoteFile): Promise<string | null> {
  const size = fs.statSync(file).size;
  if (size !== remote.size) return `${file}: ${size} bytes, the Hub says ${remote.size}`;
  if (remote.sha256) {
    const got = await sha256File(file);
    if (got !== remote.sha256) return `${file}: sha256 ${got}, the Hub says ${remote.sha256}`;
  } else if (remote.gitSha1) {
    const got = await gitBlobSha1File(file);
    if (got !== remote.gitSha1) return `${file}: git blob sha1 ${got}, the Hub says ${remote.gitSha1}`;
  }
  return null;
}

export interface FetchOptions {
  repo?: string;
  revision?: string;
  dir: string;
  client?: HubClient;
  /** Called as bytes arrive: bytes done (over all files, counting what was already on disk) and the total. */
  onProgress?(done: number, total: number, file: string): void;
  log?(line: string): void;
}

/** Download one file to dir/path via dir/path.part, resuming; verifies, then renames. */
export async function downloadFile(client: HubClient, repo: string, revision: string, remote: RemoteFile, dir: string, onBytes: (n: number) => void, log: (s: string) => void): Promise<void> {
  const problem = plainNameProblem(remote.path);
  if (problem !== null) throw new Error(`${repo}: file name ${JSON.stringify(remote.path)} ${problem}; refusing to download it`);
  const dest = path.join(dir, remote.path);
  const part = dest + ".part";
  // what is on disk must be our own regular files: never write through a symlink
  const sizeOf = (f: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(f);
    } catch {
      return null;
    }
    if (!st.isFile()) throw new Error(`${f}: ${st.isSymbolicLink() ? "a symlink" : "not a regular file"}; refusing to write to it (remove it and run again)`);
    return st.size;
  };
  const plan = planDownload(remote.size, sizeOf(dest), sizeOf(part));
  if (plan.action === "done") {
    const bad = await verifyFile(dest, remote);
    if (!bad) {
      onBytes(remote.size);
      return;
    }
    log(`${bad}: downloading it again`);
    fs.renameSync(dest, part);
    fs.truncateSync(part, 0);
    return downloadFile(client, repo, revision, remote, dir, onBytes, log);
  }
  log(`${remote.path}: ${plan.reason}`);
  fs.mkdirSync(path.dirname(part), { recursive: true });
  if (plan.offset === 0) fs.writeFileSync(part, new Uint8Array(0));
  onBytes(plan.offset);
  if (plan.offset < remote.size) {
    const blob = await client.blob(repo, remote.path, revision);
    if (blob.size !== remote.size) throw new Error(`${repo}/${remote.path}: the Hub serves ${blob.size} bytes, its listing says ${remote.size}`);
    const fd = fs.openSync(part, "a");
    try {
      const reader = blob.slice(plan.offset).stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        fs.writeSync(fd, value);
        onBytes(value.byteLength);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  const bad = await verifyFile(part, remote);
  if (bad) {
    fs.rmSync(part); // corrupt: the next run starts this file over
    throw new Error(`download of ${remote.path} failed verification: ${bad}`);
  }
  fs.renameSync(part, dest);
}

/** Download the wanted files of `repo` into `dir`. Returns the files. Safe to re-run: finished files are only verified. */
export async function fetchModel(opts: FetchOptions): Promise<RemoteFile[]> {
  const repo = opts.repo ?? PHI2_REPO;
  const revision = opts.revision ?? "main";
  const client = opts.client ?? defaultHubClient();
  const log = opts.log ?? (() => undefined);
  const entries: HubEntry[] = [];
  for await (const e of client.listFiles(repo, revision)) entries.push(e);
  const files = selectFiles(entries);
  if (!files.some((f) => f.path.endsWith(".safetensors"))) throw new Error(`${repo}: no .safetensors files in the listing`);
  const total = files.reduce((s, f) => s + f.size, 0);
  log(`${repo}@${revision}: ${files.length} files, ${fmtBytes(total)} → ${opts.dir}`);
  fs.mkdirSync(opts.dir, { recursive: true });
  const releaseLock = lockFolder(opts.dir);
  try {
    let done = 0;
    for (const f of files) {
      await downloadFile(client, repo, revision, f, opts.dir, (n) => {
        done += n;
        opts.onProgress?.(done, total, f.path);
      }, log);
    }
  } finally {
    releaseLock();
  }
  return files;
}

/** The lock file that keeps two downloads from appending to the same `.part` files. */
export const LOCK_NAME = ".fetch-phi2.lock";

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/**
 * Take `dir`'s download lock: a file created exclusively ("wx": fails if it exists),
 * holding our pid and start time. Returns the function that removes it.
 */
export function lockFolder(dir: string): () => void {
  const file = path.join(dir, LOCK_NAME);
  try {
    fs.writeFileSync(file, JSON.stringify({ pid: process.pid, started: new Date().toISOString() }) + "\n", { flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`${file}: cannot create the download lock (${(e as Error).message})`);
    let holder: { pid?: unknown; started?: unknown } = {};
    try {
      holder = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
      // unreadable or half-written: reported as stale below
    }
    const pid = typeof holder.pid === "number" ? holder.pid : null;
    const since = typeof holder.started === "string" ? ` since ${holder.started}` : "";
    if (pid !== null && pidAlive(pid)) {
      throw new Error(`another download into ${dir} is running (pid ${pid}${since}; lock file ${file}): wait for it to finish, or stop it first`);
    }
    throw new Error(
      `${file}: a stale download lock (${pid === null ? "no readable pid" : `pid ${pid} is not running`}${since}), left by a download that was killed; ` +
        "if no other download into this folder is running, delete that file and run again",
    );
  }
  return () => fs.rmSync(file, { force: true });
}
