// Preloaded into every tslab kernel of this checkout (kernel.json sets
// NODE_OPTIONS=--require <this file>), before tslab opens its sockets.
//
// Why: tslab sends each Jupyter message with `socket.send(...)` and never awaits it.
// zeromq ≥ 6 completes up to 512 sends in a row synchronously and then makes one
// asynchronous; another send in that same event-loop turn fails with EBUSY ("Socket
// is busy writing"), as a promise rejection nobody handles. The message is lost —
// a stream chunk, a display, or the "idle" status that ends a cell — and the kernel
// hangs or dies. A cell that prints 3,000 lines in a loop is enough to trigger it.
//
// Also: a ZeroMQ publisher silently drops messages once 1,000 are queued for a slow
// reader (its send high-water mark). tslab sends one message per console.log, so a
// loop that prints thousands of lines lost some of them. The iopub publisher here has
// no such limit.
//
// Fix: one queue per socket. A send starts at once when none is in flight (the fast
// path tslab was written for); otherwise it waits for the one in flight. Order is
// kept, nothing is dropped.
//
// It also installs the runner's idle probe (kernel-idle.ts).
import { dirname } from "node:path";
import { installProbe } from "./kernel-idle";

type SendFn = (this: object, ...args: unknown[]) => Promise<void>;

function patch(): void {
  let zmq: Record<string, { prototype: { send?: SendFn; __courseQueued?: boolean } } | undefined>;
  try {
    // The zeromq that tslab itself loads (resolved from tslab's folder).
    const tslabDir = dirname(require.resolve("tslab/package.json"));
    zmq = require(require.resolve("zeromq", { paths: [tslabDir] }));
  } catch {
    return; // not a tslab kernel of this checkout: nothing to do
  }
  const Publisher = zmq.Publisher as unknown as (new (opts?: object) => object) | undefined;
  if (Publisher && !(Publisher as { __courseUnbounded?: boolean }).__courseUnbounded) {
    class UnboundedPublisher extends Publisher {
      static __courseUnbounded = true;
      constructor(opts?: object) {
        super({ sendHighWaterMark: 0, ...opts }); // 0 = no limit
      }
    }
    (zmq as Record<string, unknown>).Publisher = UnboundedPublisher;
  }
  const inFlight = new WeakMap<object, Promise<void>>();
  for (const name of ["Publisher", "Router", "Dealer", "Reply", "Request", "Push", "Pair", "XPublisher"]) {
    const proto = zmq[name]?.prototype;
    const send = proto?.send;
    if (!proto || typeof send !== "function" || proto.__courseQueued) continue;
    proto.__courseQueued = true;
    // An own property: the inherited native `send` is read-only, so plain assignment throws.
    Object.defineProperty(proto, "send", { configurable: true, writable: true, value: function queuedSend(this: object, ...args: unknown[]): Promise<void> {
      const prev = inFlight.get(this);
      const result = prev ? prev.then(() => send.apply(this, args)) : send.apply(this, args);
      const settled = result.then(
        () => undefined,
        () => undefined,
      );
      inFlight.set(this, settled);
      // Forget the queue once it drains, so the next send takes the fast path again.
      void settled.then(() => {
        if (inFlight.get(this) === settled) inFlight.delete(this);
      });
      return result;
    } });
  }
}

try {
  patch();
} catch (e) {
  // Never stop the kernel from starting; say what went wrong instead.
  console.error(`tslab-preload: could not queue zeromq sends (${String(e)}); long outputs may hang the kernel`);
}

// The runner's idle probe (see kernel-idle.ts): a late rejection must fail the run.
try {
  installProbe();
} catch (e) {
  console.error(`tslab-preload: could not install the runner's idle probe (${String(e)})`);
}
