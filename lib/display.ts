// Showing things from a notebook cell.
//
// Inside the tslab kernel we send rich outputs (HTML) through tslab's display API;
// anywhere else (tests, CLIs) the same calls fall back to plain text on stdout, so
// library code never has to know where it runs.

interface TslabDisplay {
  html(s: string): void;
  text(s: string): void;
  markdown(s: string): void;
}
interface TslabModule {
  display: TslabDisplay;
  newDisplay(): TslabDisplay;
}

let cached: TslabModule | null | undefined;

/** tslab's module when this process is a tslab kernel, else null. */
function tslab(): TslabModule | null {
  if (cached !== undefined) return cached;
  // tslab sets process.argv to [node, .../tslab, "kernel", ...] in its kernel process.
  const inKernel = process.argv.some((a) => a === "kernel") && process.argv.some((a) => /tslab/.test(a));
  cached = null;
  if (inKernel) {
    try {
      cached = require("tslab") as TslabModule;
    } catch {
      cached = null;
    }
  }
  return cached;
}

/** True when running inside a tslab (Jupyter) kernel. */
export function inNotebook(): boolean {
  return tslab() !== null;
}

/** Show an HTML fragment in the cell output; outside a notebook print `fallbackText`. */
export function showHtml(html: string, fallbackText?: string): void {
  const t = tslab();
  if (t) t.display.html(html);
  else if (fallbackText !== undefined) console.log(fallbackText);
}

/** Show Markdown (rendered by Jupyter, MathJax included). */
export function showMarkdown(md: string): void {
  const t = tslab();
  if (t) t.display.markdown(md);
  else console.log(md);
}

/**
 * A display area that can be overwritten in place: the live progress line of a long
 * fit. In a notebook each update replaces the previous one (update_display_data);
 * elsewhere updates are throttled to one printed line per `minIntervalMs`.
 */
export interface LiveDisplay {
  update(text: string): void;
  /** The last text, always shown (also outside a notebook). */
  done(text: string): void;
}

export function liveDisplay(minIntervalMs = 1000): LiveDisplay {
  const t = tslab();
  if (t) {
    const d = t.newDisplay();
    return {
      update: (text) => d.html(`<pre class="live">${escapeHtml(text)}</pre>`),
      done: (text) => d.html(`<pre class="live">${escapeHtml(text)}</pre>`),
    };
  }
  let last = 0;
  return {
    update(text) {
      const now = Date.now();
      if (now - last >= minIntervalMs) {
        last = now;
        console.log(text);
      }
    },
    done: (text) => console.log(text),
  };
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
