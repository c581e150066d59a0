// One bandwidth worker: fill a buffer in its own wasm memory, then stream-sum it
// once per round the main thread starts (see bandwidth.ts).

import { workerData } from "node:worker_threads";
import { Arena, kernelModule } from "./wasm";
import { BwCtrl, type BandwidthWorkerInit } from "./bandwidth";

const init = workerData as BandwidthWorkerInit;
const ctrl = new Int32Array(init.ctrl);
let sink = 0;
try {
  const arena = new Arena(kernelModule(init.wasm));
  const ptr = arena.alloc(init.bytes);
  arena.u8(ptr, init.bytes).fill(1); // touch every page: the OS maps memory lazily
  Atomics.add(ctrl, BwCtrl.READY, 1);
  Atomics.notify(ctrl, BwCtrl.READY);
  for (let round = 0; ; ) {
    Atomics.wait(ctrl, BwCtrl.GO, round);
    round = Atomics.load(ctrl, BwCtrl.GO);
    if (round < 0) break;
    sink += arena.k.streamSum(ptr, init.bytes);
    Atomics.add(ctrl, BwCtrl.DONE, 1);
    Atomics.notify(ctrl, BwCtrl.DONE);
  }
} catch {
  Atomics.store(ctrl, BwCtrl.FAILED, 1);
  Atomics.notify(ctrl, BwCtrl.READY);
  Atomics.notify(ctrl, BwCtrl.DONE);
}
if (sink === 0.5) console.log(sink); // keep the sums observable
