// Is the kernel's DAMON (data access monitor) running, and with which actions? The
// bench prints it beside the load average: on the course's CI machine (a virtual
// machine whose kernel runs a DAMON "pageout" scheme) a mapped page of the page cache
// left unread for 0.7 s or more read at 1–4 GB/s on the next pass, against 16–32 with
// DAMON switched off (README: weight images). llama.cpp maps its GGUF, and
// `--image-map` maps the image, so both can meet it; memory that was read in cannot.

import * as fs from "node:fs";
import * as path from "node:path";

export interface DamonState {
  /** kdamond threads whose state is "on". */
  running: number;
  /** The actions of their schemes (pageout, lru_deprio, …), each once. */
  actions: string[];
}

const ADMIN = "/sys/kernel/mm/damon/admin";

/** What DAMON's sysfs interface at `root` says, or null where the kernel has none (or it cannot be read). */
export function damonState(root = ADMIN): DamonState | null {
  const read = (...parts: string[]) => fs.readFileSync(path.join(root, ...parts), "utf8").trim();
  const list = (...parts: string[]) => fs.readdirSync(path.join(root, ...parts)).filter((n) => /^\d+$/.test(n));
  try {
    let running = 0;
    const actions = new Set<string>();
    for (const k of list("kdamonds")) {
      if (read("kdamonds", k, "state") !== "on") continue;
      running++;
      for (const c of list("kdamonds", k, "contexts")) {
        for (const s of list("kdamonds", k, "contexts", c, "schemes")) actions.add(read("kdamonds", k, "contexts", c, "schemes", s, "action"));
      }
    }
    return { running, actions: [...actions].sort() };
  } catch {
    return null;
  }
}

/** One line for the bench: "off", "not in this kernel", or what runs. */
export function damonLine(s: DamonState | null): string {
  if (!s) return "not in this kernel (or not readable)";
  if (s.running === 0) return "off";
  return `on (${s.running} monitor${s.running > 1 ? "s" : ""}${s.actions.length ? `; schemes: ${s.actions.join(", ")}` : ""}): mapped memory (--image-map: our image and llama.cpp's GGUF) may read slowly after a pause (README: weight images)`;
}
