// The pieces of `npm run fetch-phi2`, with a fake Hub (this machine is offline):
// file selection, resume offsets, progress line, verification, and a broken
// download resumed by a second run.
import { afterAll, describe, expect, test } from "vitest";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { fetchModel, gitBlobSha1File, LOCK_NAME, lockFolder, planDownload, selectFiles, verifyFile, type HubClient, type HubEntry } from "../lib/phi2/fetch";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phi2-fetch-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("selectFiles keeps config, tokenizer and safetensors; takes sizes and hashes from the listing", () => {
  const entries: HubEntry[] = [
    { type: "file", path: "config.json", size: 735, oid: "a".repeat(40) },
    { type: "file", path: "model-00001-of-00002.safetensors", size: 135, oid: "b".repeat(40), lfs: { oid: "c".repeat(64), size: 4995584424 } },
    { type: "file", path: "pytorch_model.bin", size: 135, lfs: { oid: "d".repeat(64), size: 5 } },
    { type: "file", path: "tokenizer.json", size: 2114924, oid: "e".repeat(40) },
    { type: "directory", path: "onnx", size: 0 },
    { type: "file", path: ".gitattributes", size: 1519 },
  ];
  expect(selectFiles(entries)).toEqual([
    { path: "config.json", size: 735, gitSha1: "a".repeat(40) },
    { path: "model-00001-of-00002.safetensors", size: 4995584424, sha256: "c".repeat(64) },
    { path: "tokenizer.json", size: 2114924, gitSha1: "e".repeat(40) },
  ]);
});

test("planDownload: resume from the .part's size, start over when it is too big, skip when done", () => {
  expect(planDownload(100, null, null)).toMatchObject({ action: "download", offset: 0 });
  expect(planDownload(100, null, 40)).toMatchObject({ action: "download", offset: 40 });
  expect(planDownload(100, null, 100)).toMatchObject({ action: "download", offset: 100 }); // complete .part: verify + rename
  expect(planDownload(100, null, 140)).toMatchObject({ action: "download", offset: 0 });
  expect(planDownload(100, 100, null)).toEqual({ action: "done" });
  expect(planDownload(100, 60, null)).toMatchObject({ action: "download", offset: 0 });
});

test("git blob sha1 is git's (`git hash-object` of 'hello\\n' is ce0136…)", async () => {
  const f = path.join(tmp, "hello.txt");
  fs.writeFileSync(f, "hello\n");
  expect(await gitBlobSha1File(f)).toBe("ce013625030ba8dba906f756967f9e9ca394464a");
  expect(await verifyFile(f, { path: "hello.txt", size: 6, gitSha1: "ce013625030ba8dba906f756967f9e9ca394464a" })).toBeNull();
  expect(await verifyFile(f, { path: "hello.txt", size: 7 })).toMatch(/6 bytes, the Hub says 7/);
  expect(await verifyFile(f, { path: "hello.txt", size: 6, sha256: "0".repeat(64) })).toMatch(/sha256 5891b5b5.* the Hub says 0000/);
});

describe("fetchModel with a fake Hub", () => {
  const weights = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);
  const config = new TextEncoder().encode('{"model_type": "phi"}');
  const listing: HubEntry[] = [
    { type: "file", path: "config.json", size: config.length },
    { type: "file", path: "model.safetensors", size: 134, lfs: { oid: sha256(weights), size: weights.length } },
  ];
  const content: Record<string, Uint8Array> = { "config.json": config, "model.safetensors": weights };

  /** A Hub whose downloads of `model.safetensors` break after `breakAfter` bytes (once). */
  function fakeHub(breakAfter: number | null, requested: number[]): HubClient {
    let broken = false;
    return {
      async *listFiles() {
        yield* listing;
      },
      async blob(_repo, file) {
        const data = content[file];
        const blob = new Blob([data]);
        return {
          size: blob.size,
          slice(start = 0) {
            requested.push(start); // the Range the real Hub would be asked for
            const rest = data.subarray(start);
            return {
              stream() {
                let sent = 0;
                return new ReadableStream<Uint8Array>({
                  pull(ctl) {
                    if (breakAfter !== null && !broken && file === "model.safetensors" && start + sent >= breakAfter) {
                      broken = true;
                      ctl.error(new Error("connection reset"));
                      return;
                    }
                    if (sent >= rest.length) return ctl.close();
                    const n = Math.min(10_000, rest.length - sent);
                    ctl.enqueue(rest.slice(sent, sent + n));
                    sent += n;
                  },
                });
              },
            };
          },
        } as unknown as Blob;
      },
    };
  }

  test("a broken download is resumed from where it stopped, then verified", async () => {
    const dir = path.join(tmp, "model");
    const requested: number[] = [];
    await expect(fetchModel({ dir, client: fakeHub(120_000, requested) })).rejects.toThrow(/connection reset/);
    const partSize = fs.statSync(path.join(dir, "model.safetensors.part")).size;
    expect(partSize).toBe(120_000);
    expect(fs.readFileSync(path.join(dir, "config.json"))).toEqual(Buffer.from(config));

    const progress: number[] = [];
    await fetchModel({ dir, client: fakeHub(null, requested), onProgress: (done) => progress.push(done) });
    expect(requested).toEqual([0, 0, 120_000]); // run 1: config, weights (broken); run 2: config only verified, weights resumed at 120000
    expect(new Uint8Array(fs.readFileSync(path.join(dir, "model.safetensors")))).toEqual(weights);
    expect(fs.existsSync(path.join(dir, "model.safetensors.part"))).toBe(false);
    expect(progress.at(-1)).toBe(config.length + weights.length);
  });

  test("a download that does not match the Hub's sha256 is rejected and its .part removed", async () => {
    const dir = path.join(tmp, "model-bad");
    const good = listing[1].lfs!.oid;
    listing[1].lfs!.oid = "0".repeat(64);
    try {
      await expect(fetchModel({ dir, client: fakeHub(null, []) })).rejects.toThrow(/model\.safetensors failed verification: .*sha256/);
      expect(fs.existsSync(path.join(dir, "model.safetensors.part"))).toBe(false);
      expect(fs.existsSync(path.join(dir, "model.safetensors"))).toBe(false);
    } finally {
      listing[1].lfs!.oid = good;
    }
  });
});

describe("file names from the Hub are untrusted too", () => {
  test("a listed name with a backslash or '..' is refused; subfolders are skipped", () => {
    const ok: HubEntry = { type: "file", path: "config.json", size: 1, oid: "a".repeat(40) };
    expect(() => selectFiles([ok, { type: "file", path: "..\\..\\evil.safetensors", size: 5, lfs: { oid: "c".repeat(64), size: 5 } }])).toThrow(
      /listing names "\.\.\\\\\.\.\\\\evil\.safetensors", which contains a path separator .* refusing to download/,
    );
    expect(() => selectFiles([ok, { type: "file", path: "x..safetensors", size: 5 }])).toThrow(/"x\.\.safetensors", which contains "\.\."/);
    expect(selectFiles([ok, { type: "file", path: "onnx/model.safetensors", size: 5 }, { type: "file", path: "../up.safetensors", size: 5 }])).toEqual([
      { path: "config.json", size: 1, gitSha1: "a".repeat(40) },
    ]);
  });

  test("fetchModel with such a listing writes nothing outside the folder", async () => {
    const dir = path.join(tmp, "evil", "model");
    const client: HubClient = {
      async *listFiles() {
        yield { type: "file", path: "..\\outside.safetensors", size: 3, lfs: { oid: "c".repeat(64), size: 3 } };
      },
      async blob() {
        throw new Error("must not download");
      },
    };
    await expect(fetchModel({ dir, client })).rejects.toThrow(/contains a path separator/);
    expect(fs.existsSync(path.join(tmp, "evil"))).toBe(false);
  });

  test("a .part that is a symlink is refused, not appended through", async () => {
    const dir = path.join(tmp, "linked");
    fs.mkdirSync(dir, { recursive: true });
    const outside = path.join(tmp, "outside.bin");
    fs.writeFileSync(outside, "keep");
    fs.symlinkSync(outside, path.join(dir, "config.json.part"));
    const client: HubClient = {
      async *listFiles() {
        yield { type: "file", path: "config.json", size: 2 };
        yield { type: "file", path: "model.safetensors", size: 2, lfs: { oid: "c".repeat(64), size: 2 } };
      },
      async blob() {
        return new Blob(["{}"]);
      },
    };
    await expect(fetchModel({ dir, client })).rejects.toThrow(`${path.join(dir, "config.json.part")}: a symlink; refusing to write to it`);
    expect(fs.readFileSync(outside, "utf8")).toBe("keep");
    expect(fs.existsSync(path.join(dir, LOCK_NAME))).toBe(false); // released after the failure
  });
});

describe("one download at a time per folder (a lock file)", () => {
  test("a second download into the same folder is refused while the first runs, naming the lock file", async () => {
    const dir = path.join(tmp, "locked");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const data = new Uint8Array(1000).fill(7);
    const client = (wait: boolean): HubClient => ({
      async *listFiles() {
        yield { type: "file", path: "model.safetensors", size: data.length, lfs: { oid: sha256(data), size: data.length } };
      },
      async blob() {
        if (wait) await gate;
        return new Blob([data]);
      },
    });
    const first = fetchModel({ dir, client: client(true) });
    await new Promise((r) => setTimeout(r, 50));
    const lock = path.join(dir, LOCK_NAME);
    await expect(fetchModel({ dir, client: client(false) })).rejects.toThrow(
      new RegExp(`another download into .*locked is running \\(pid ${process.pid} since .*; lock file ${lock.replace(/[.]/g, "\\.")}\\)`),
    );
    release();
    await first;
    expect(new Uint8Array(fs.readFileSync(path.join(dir, "model.safetensors")))).toEqual(data);
    expect(fs.existsSync(lock)).toBe(false); // removed at the end
  });

  test("a lock left by a killed download is reported as stale, naming the file", () => {
    const dir = path.join(tmp, "stale");
    fs.mkdirSync(dir, { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString(); // exited: its pid is free
    fs.writeFileSync(path.join(dir, LOCK_NAME), JSON.stringify({ pid: Number(dead), started: "2026-01-01T00:00:00.000Z" }));
    expect(() => lockFolder(dir)).toThrow(
      `${path.join(dir, LOCK_NAME)}: a stale download lock (pid ${dead} is not running since 2026-01-01T00:00:00.000Z), left by a download that was killed; if no other download into this folder is running, delete that file and run again`,
    );
    fs.writeFileSync(path.join(dir, LOCK_NAME), "");
    expect(() => lockFolder(dir)).toThrow(/stale download lock \(no readable pid\)/);
    fs.rmSync(path.join(dir, LOCK_NAME));
    const unlock = lockFolder(dir);
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_NAME), "utf8")).pid).toBe(process.pid);
    unlock();
    expect(fs.existsSync(path.join(dir, LOCK_NAME))).toBe(false);
  });
});
