// The live path: notebook 01 opened in the classic Jupyter notebook (Debian's
// jupyter-notebook, which loads require.js), every cell run from the browser, and
// every plotly figure drawn in the page. JupyterLab cannot be installed here.
import { ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CHROMIUM, ROOT } from "./helpers/notebooks";

const NOTEBOOK_BIN = ["/usr/bin/jupyter-notebook"].find((p) => existsSync(p));

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

async function waitForServer(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`the notebook server did not answer at ${url}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.runIf(NOTEBOOK_BIN && CHROMIUM)("the classic notebook, live", () => {
  let server: ChildProcess | undefined;
  afterAll(() => {
    server?.kill("SIGTERM");
  });

  it("runs notebook 01 from the browser and draws every figure", async () => {
    const { chromium } = await import("playwright-core");
    const port = await freePort();
    server = spawn(
      NOTEBOOK_BIN as string,
      ["--no-browser", `--port=${port}`, "--ip=127.0.0.1", "--NotebookApp.token=", "--NotebookApp.password=", `--notebook-dir=${join(ROOT, "notebooks")}`, "--allow-root"],
      { env: { ...process.env, JUPYTER_PATH: join(ROOT, ".jupyter") }, stdio: "ignore" },
    );
    await waitForServer(`http://127.0.0.1:${port}/api`, 60_000);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"] });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/notebooks/01-function-and-loss.ipynb`);
      type J = { notebook: { kernel?: { is_connected(): boolean }; set_autosave_interval(ms: number): void; execute_all_cells(): void } };
      await page.waitForFunction(() => (window as unknown as { Jupyter?: J }).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 60_000 });
      await page.evaluate(() => {
        const nb = (window as unknown as { Jupyter: J }).Jupyter.notebook;
        nb.set_autosave_interval(0); // never write outputs into the committed notebook
        nb.execute_all_cells();
      });
      await page.waitForFunction(() => document.querySelectorAll(".course-plot.js-plotly-plot").length >= 6, null, { timeout: 120_000 });
      const [total, drawn] = await page.evaluate(() => [document.querySelectorAll(".course-plot").length, document.querySelectorAll(".course-plot.js-plotly-plot").length]);
      expect(drawn).toBe(total);
      const errors = await page.evaluate(() => document.querySelectorAll(".output_error, .output_stderr").length);
      expect(errors).toBe(0);
    } finally {
      await browser.close();
    }
  }, 240_000);
});
