// The Jupyter front end the browser tests drive: JupyterLab's server where it is
// installed (the setup's .venv), else Debian's classic notebook (6.x). Both are driven
// through their own application objects, not through pixel positions:
//   JupyterLab  window.jupyterapp (served with --expose-app-in-browser), its commands
//               ("notebook:run-all-cells", "notebook:run-cell") and the NotebookPanel
//               (sessionContext, content.activeCellIndex).
//   classic     window.Jupyter.notebook (execute_all_cells, execute_cells, kernel).
// COURSE_TEST_FRONTEND=lab|classic picks one when both are there.
import { ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { ROOT } from "./notebooks";

export type FrontEndName = "lab" | "classic";

export interface FrontEnd {
  name: FrontEndName;
  bin: string;
}

const LAB_BINS = [join(ROOT, ".venv", "bin", "jupyter-lab"), "/usr/local/bin/jupyter-lab", "/usr/bin/jupyter-lab"];
// Only Debian's notebook 6 is the classic notebook (pip's notebook ≥ 7 is built on JupyterLab).
const CLASSIC_BINS = ["/usr/bin/jupyter-notebook"];

/** The installed front end to test against, or null when there is none. */
export function findFrontEnd(env: NodeJS.ProcessEnv = process.env): FrontEnd | null {
  const lab = LAB_BINS.find((p) => existsSync(p));
  const classic = CLASSIC_BINS.find((p) => existsSync(p));
  const want = env.COURSE_TEST_FRONTEND;
  if (want === "classic") return classic ? { name: "classic", bin: classic } : null;
  if (want === "lab") return lab ? { name: "lab", bin: lab } : null;
  if (lab) return { name: "lab", bin: lab };
  if (classic) return { name: "classic", bin: classic };
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitForServer(url: string, ms: number, server: ChildProcess, log: () => string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`the Jupyter server exited (${server.exitCode}):\n${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`the Jupyter server did not answer at ${url}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface Server {
  frontEnd: FrontEnd;
  base: string;
  stop(): void;
}

/** Start the front end's server on a free port, serving `rootDir`, without token or browser. */
export async function startServer(fe: FrontEnd, rootDir: string, env: NodeJS.ProcessEnv): Promise<Server> {
  const port = await freePort();
  const common = ["--no-browser", `--port=${port}`, "--ip=127.0.0.1"];
  if (process.getuid?.() === 0) common.push("--allow-root");
  const args =
    fe.name === "lab"
      ? [...common, "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", `--ServerApp.root_dir=${rootDir}`, "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
      : [...common, "--NotebookApp.token=", "--NotebookApp.password=", `--notebook-dir=${rootDir}`];
  const labEnv: NodeJS.ProcessEnv = {};
  if (fe.name === "lab") {
    // A clean JupyterLab: no restored workspace, and every cell kept in the DOM
    // (JupyterLab 4 may detach off-screen cells, whose figures would then not count).
    const settings = mkdtempSync(join(tmpdir(), "lab-settings-"));
    mkdirSync(join(settings, "@jupyterlab", "notebook-extension"), { recursive: true });
    writeFileSync(join(settings, "@jupyterlab", "notebook-extension", "tracker.jupyterlab-settings"), JSON.stringify({ windowingMode: "none" }));
    labEnv.JUPYTERLAB_SETTINGS_DIR = settings;
    labEnv.JUPYTERLAB_WORKSPACES_DIR = mkdtempSync(join(tmpdir(), "lab-workspaces-"));
  }
  const child = spawn(fe.bin, args, { env: { ...env, ...labEnv }, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (log = (log + d).slice(-4000)));
  const base = `http://127.0.0.1:${port}/`;
  try {
    await waitForServer(`${base}api`, 90_000, child, () => log);
  } catch (e) {
    child.kill("SIGTERM");
    throw e;
  }
  return { frontEnd: fe, base, stop: () => void child.kill("SIGTERM") };
}

type Lab = {
  commands: { execute(id: string, args?: object): Promise<unknown>; isToggled(id: string): boolean };
  shell: { currentWidget: LabPanel | null };
};
type LabPanel = {
  context?: { path: string; ready: Promise<void> };
  sessionContext?: { session?: { kernel?: { status: string; connectionStatus: string; requestExecute(c: { code: string }): { done: Promise<unknown> } } | null } | null };
  content?: { activeCellIndex: number; widgets: { model: { type: string } }[] };
};
type Classic = {
  notebook: {
    notebook_path?: string;
    kernel?: { is_connected(): boolean; execute(code: string, callbacks?: object): string };
    set_autosave_interval(ms: number): void;
    execute_all_cells(): void;
    execute_cells(indices: number[]): void;
    get_cells(): { cell_type: string }[];
    trusted?: boolean;
  };
};

/**
 * Open a notebook (path relative to the server's root) and wait until its kernel is
 * connected and idle. Autosave is switched off, so a test never writes outputs into it.
 */
export async function openNotebook(page: Page, server: Server, path: string): Promise<void> {
  if (server.frontEnd.name === "lab") {
    await page.goto(`${server.base}lab/tree/${path}`);
    await page.waitForFunction(
      (p) => {
        const app = (window as unknown as { jupyterapp?: Lab }).jupyterapp;
        const w = app?.shell.currentWidget;
        const k = w?.sessionContext?.session?.kernel;
        return w?.context?.path === p && k?.connectionStatus === "connected" && k.status === "idle";
      },
      path,
      { timeout: 120_000, polling: 250 },
    );
    await page.evaluate(async () => {
      const app = (window as unknown as { jupyterapp: Lab }).jupyterapp;
      if (app.commands.isToggled("docmanager:toggle-autosave")) await app.commands.execute("docmanager:toggle-autosave");
    });
  } else {
    await page.goto(`${server.base}notebooks/${path}`);
    await page.waitForFunction(() => (window as unknown as { Jupyter?: Classic }).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 120_000 });
    await page.evaluate(() => (window as unknown as { Jupyter: Classic }).Jupyter.notebook.set_autosave_interval(0));
  }
}

/** Run every cell (as Run All does). */
export async function runAll(page: Page, server: Server): Promise<void> {
  if (server.frontEnd.name === "lab") {
    await page.evaluate(() => void (window as unknown as { jupyterapp: Lab }).jupyterapp.commands.execute("notebook:run-all-cells"));
  } else {
    await page.evaluate(() => (window as unknown as { Jupyter: Classic }).Jupyter.notebook.execute_all_cells());
  }
}

/** Run one cell, by its index among all cells. */
export async function runCell(page: Page, server: Server, index: number): Promise<void> {
  if (server.frontEnd.name === "lab") {
    await page.evaluate(async (i) => {
      const app = (window as unknown as { jupyterapp: Lab }).jupyterapp;
      const panel = app.shell.currentWidget as LabPanel;
      (panel.content as { activeCellIndex: number }).activeCellIndex = i;
      await app.commands.execute("notebook:run-cell");
    }, index);
  } else {
    await page.evaluate((i) => (window as unknown as { Jupyter: Classic }).Jupyter.notebook.execute_cells([i]), index);
  }
}

/** Send code to the notebook's kernel (as a cell would run it) and wait until it ran. */
export async function executeInKernel(page: Page, server: Server, code: string): Promise<void> {
  if (server.frontEnd.name === "lab") {
    await page.evaluate(async (c) => {
      const panel = (window as unknown as { jupyterapp: Lab }).jupyterapp.shell.currentWidget as LabPanel;
      await panel.sessionContext?.session?.kernel?.requestExecute({ code: c }).done;
    }, code);
  } else {
    await page.evaluate(
      (c) =>
        new Promise<void>((resolve) => {
          const k = (window as unknown as { Jupyter: Classic }).Jupyter.notebook.kernel;
          k?.execute(c, { shell: { reply: () => resolve() } });
        }),
      code,
    );
  }
}

/**
 * Wait until no cell is running or queued (no "[*]" prompt) and the figures have
 * settled (each drawn or showing its message) and stopped changing for `quietMs`: a
 * cell's reply can come before its large display message has been rendered.
 */
export async function waitUntilIdle(page: Page, server: Server, timeoutMs: number, quietMs = 8000): Promise<void> {
  const prompt = server.frontEnd.name === "lab" ? ".jp-InputPrompt" : ".input_prompt";
  const end = Date.now() + timeoutMs;
  let last = "";
  let since = Date.now();
  for (;;) {
    if (Date.now() > end) throw new Error(`cells still running (or figures still changing) after ${timeoutMs / 1000} s`);
    const state = await page.evaluate((sel) => {
      const busy = [...document.querySelectorAll(sel)].some((e) => (e.textContent ?? "").includes("*"));
      const plots = [...document.querySelectorAll("div.course-plot")];
      const settled = plots.every((p) => p.classList.contains("js-plotly-plot") || p.querySelector(".course-plot-missing"));
      return busy || !settled ? "busy" : `${plots.length}/${document.querySelectorAll(".js-plotly-plot").length}/${document.querySelectorAll(".course-plot-missing").length}`;
    }, prompt);
    if (state !== last || state === "busy") {
      last = state;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
    await page.waitForTimeout(500);
  }
}

/** The output area of every cell, as the front end marks it (for counting errors). */
export const SELECTORS: Record<FrontEndName, { cell: string; errorOutput: string }> = {
  lab: { cell: ".jp-Notebook .jp-Cell", errorOutput: '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]' },
  classic: { cell: "#notebook-container .cell", errorOutput: ".output_error, .output_stderr" },
};

/** Figures in the page: divs, drawn by plotly, and those that show a message instead. */
export async function figuresIn(page: Page): Promise<{ total: number; drawn: number; messages: string[] }> {
  return page.evaluate(() => ({
    total: document.querySelectorAll("div.course-plot").length,
    drawn: document.querySelectorAll("div.course-plot.js-plotly-plot").length,
    messages: [...document.querySelectorAll(".course-plot-missing")].map((e) => (e as HTMLElement).innerText),
  }));
}

/** Indices of the cells whose outputs hold a figure. */
export async function figureCells(page: Page, server: Server): Promise<number[]> {
  return page.evaluate((sel) => [...document.querySelectorAll(sel)].flatMap((c, i) => (c.querySelector("div.course-plot") ? [i] : [])), SELECTORS[server.frontEnd.name].cell);
}
