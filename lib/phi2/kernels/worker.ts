// A kernel worker: one of the compute threads (compute.ts), the main thread being
// another. It instantiates the kernels on each arena (shared wasm memories the
// main thread creates), helps fill the weights, and runs MATMUL commands. See
// protocol.ts for the handshake.

import { parentPort, workerData } from "node:worker_threads";
import { Arena, kernelModule, relaxedModule } from "./wasm";
import { ComputeThread } from "./compute";
import { Prefaulter } from "./prefault";
import { Ctrl, ERROR_SLOT, NOT_F16, Op, SPIN_MS, type FromWorker, type ToWorker, type WorkerInit } from "./protocol";

const init = workerData as WorkerInit;
const port = parentPort!;
const ctrl = new Int32Array(init.ctrl);
const errorText = new Uint8Array(init.errorText, init.index * ERROR_SLOT, ERROR_SLOT);
const kernels = kernelModule(init.wasm);
const relaxed = init.relaxedWasm === null ? null : relaxedModule(init.relaxedWasm);
if (init.relaxedWasm !== null && !relaxed) throw new Error(`${init.relaxedWasm}: usable on the main thread but not in worker ${init.index}`);
const thread = new ComputeThread(init.index, init.threads, ctrl, new Int32Array(init.calls), new Prefaulter(init.prefault), init.int8Dot);
let seen = init.seq0;

function reportError(e: unknown): void {
  const text = new TextEncoder().encode(e instanceof Error ? e.message : String(e)).subarray(0, ERROR_SLOT - 1);
  errorText.fill(0);
  errorText.set(text);
  Atomics.or(ctrl, Ctrl.ERRORS, 1 << init.index);
}

/**
 * Until SEQ moves on from `seen`: spin for SPIN_MS (decoding sends a command every
 * few hundred µs, and a sleeping thread costs the main thread a wake-up system call
 * and this one a reschedule), then sleep in Atomics.wait, counted in SLEEPING so
 * that the main thread knows to wake it.
 */
function awaitCommand(): void {
  const until = performance.now() + SPIN_MS;
  for (let i = 1; Atomics.load(ctrl, Ctrl.SEQ) === seen; i++) {
    if ((i & 1023) !== 0 || performance.now() < until) continue;
    Atomics.add(ctrl, Ctrl.SLEEPING, 1);
    Atomics.wait(ctrl, Ctrl.SEQ, seen);
    Atomics.sub(ctrl, Ctrl.SLEEPING, 1);
  }
  seen = Atomics.load(ctrl, Ctrl.SEQ);
}

/** Run MATMUL commands until told to YIELD (a message waits) or EXIT. */
function serve(): void {
  for (;;) {
    awaitCommand();
    const op = Atomics.load(ctrl, Ctrl.OP);
    if (op === Op.YIELD) return;
    if (op === Op.EXIT) process.exit(0);
    try {
      thread.matmul(Atomics.load(ctrl, Ctrl.CALLS), Atomics.load(ctrl, Ctrl.T));
    } catch (e) {
      reportError(e);
      Atomics.store(ctrl, Ctrl.NEXT, 1 << 30); // the others stop taking items
    }
    Atomics.add(ctrl, Ctrl.DONE, 1);
    Atomics.notify(ctrl, Ctrl.DONE);
  }
}

port.on("message", (m: ToWorker) => {
  let reply: FromWorker = { type: "done", id: m.id, ...NOT_F16 };
  try {
    if (m.type === "arena") {
      thread.arenas[m.index] = new Arena(kernels, { memory: m.memory, maxBytes: m.maxBytes, slots: init.threads, relaxed });
    } else if (m.type === "fill") {
      reply = { type: "done", id: m.id, ...thread.fill(m) };
    } else if (m.type === "register") {
      if (m.extract) thread.finishRows(m.meta, m.r0, m.r1);
      thread.weights.set(m.handle, m.meta);
    } else {
      thread.xShared = new Float32Array(m.x);
      thread.outShared = new Float32Array(m.out);
    }
  } catch (e) {
    reply = { type: "error", id: m.id, message: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
  serve();
});

serve();
