// The live path, in the Jupyter front end that is installed (JupyterLab's server from
// the setup's .venv, else Debian's classic notebook):
// - notebook 01 run from the browser draws every figure; after a page reload (the
//   kernel keeps running, so it does not send plotly.js again) a re-run figure cell
//   says in its place what to do, and doing it draws the figure;
// - an executed notebook the course runner wrote opens trusted: its figures are drawn
//   without "Trust Notebook" (and are not, as a check of the check, when the server
//   looks in another Jupyter data dir, where it has no signature).
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SELECTORS, Server, executeInKernel, figureCells, figuresIn, findFrontEnd, openNotebook, runAll, runCell, startServer, waitUntilIdle } from "./helpers/frontend";
import { CHROMIUM, CHROMIUM_ARGS, ROOT, figureCount, runCourse, tempDir, writeNotebook } from "./helpers/notebooks";

const FRONT_END = findFrontEnd();
const NOTEBOOK = "01-function-and-loss.ipynb";
const launch = async () => (await import("playwright-core")).chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

describe.runIf(FRONT_END && CHROMIUM)(`the live notebook (${FRONT_END?.name ?? "no front end"})`, () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.stop()));

  it("runs notebook 01 from the browser, draws every figure, and after a reload a figure says what to do, which draws it", async () => {
    const server = await startServer(FRONT_END!, join(ROOT, "notebooks"), { ...process.env, JUPYTER_PATH: join(ROOT, ".jupyter") });
    servers.push(server);
    const browser = await launch();
    try {
      const page = await browser.newPage();
      page.on("dialog", (d) => void d.accept()); // "leave page?" on reload
      await openNotebook(page, server, NOTEBOOK);
      await runAll(page, server);
      await waitUntilIdle(page, server, 300_000);
      const figs = await figuresIn(page);
      expect(figs.total).toBeGreaterThan(0);
      expect(figs.drawn).toBe(figs.total);
      expect(figs.messages).toEqual([]);
      const errors = await page.evaluate((sel) => document.querySelectorAll(sel).length, SELECTORS[server.frontEnd.name].errorOutput);
      expect(errors).toBe(0);
      const cell = (await figureCells(page, server))[0];
      expect(cell).toBeGreaterThanOrEqual(0);

      // Reload mid-session: same kernel, outputs gone, plotly.js no longer in the page.
      await openNotebook(page, server, NOTEBOOK);
      expect(await page.evaluate(() => "Plotly" in window)).toBe(false);
      await runCell(page, server, cell);
      await waitUntilIdle(page, server, 120_000);
      const after = await figuresIn(page);
      expect(after.total).toBeGreaterThan(0);
      expect(after.drawn).toBe(0);
      expect(after.messages.length).toBe(after.total);
      expect(after.messages[0]).toMatch(/reloaded/);

      // Do what it says: the code it shows, then the cell again.
      const code = await page.evaluate(() => document.querySelector(".course-plot-missing code")?.textContent ?? "");
      expect(code).toMatch(/resendPlotly\(\)/);
      await executeInKernel(page, server, code);
      await runCell(page, server, cell);
      await waitUntilIdle(page, server, 120_000);
      const redrawn = await figuresIn(page);
      expect(redrawn).toEqual({ total: after.total, drawn: after.total, messages: [] });
    } finally {
      await browser.close();
    }
  }, 900_000);

  describe("an executed notebook from the course runner", () => {
    const nbDir = tempDir("live-nb-");
    const out = tempDir("live-site-");
    const dataDir = tempDir("live-jupyter-data-"); // the "user's" Jupyter data dir: the runner signs there
    const env = { ...process.env, JUPYTER_DATA_DIR: dataDir, JUPYTER_PATH: join(ROOT, ".jupyter") };
    beforeAll(async () => {
      const plot = join(ROOT, "dist", "lib", "plot");
      writeNotebook(join(nbDir, "01-figures.ipynb"), ["# Figures", `import { show, line } from ${JSON.stringify(plot)};`, "show({ data: [line([1, 2, 3], [2, 4, 6])] })", "show({ data: [line([1, 2, 3], [3, 2, 1])] })"]);
      const r = await runCourse(["--notebooks", nbDir, "--out", out], 300_000, env);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }, 300_000);

    async function open(serverEnv: NodeJS.ProcessEnv) {
      const server = await startServer(FRONT_END!, out, serverEnv);
      servers.push(server);
      const browser = await launch();
      try {
        const page = await browser.newPage();
        await openNotebook(page, server, "01-figures.ipynb");
        // Saved outputs render with the notebook; wait until each figure drew or said why not.
        await page
          .waitForFunction(() => [...document.querySelectorAll("div.course-plot")].every((p) => p.classList.contains("js-plotly-plot") || p.querySelector(".course-plot-missing")), null, { timeout: 30_000 })
          .catch(() => undefined);
        return await figuresIn(page);
      } finally {
        await browser.close();
        server.stop();
      }
    }

    it("opens trusted: every figure drawn, no trust step", async () => {
      const figs = await open(env);
      expect(figs).toEqual({ total: figureCount(join(out, "01-figures.ipynb")), drawn: figureCount(join(out, "01-figures.ipynb")), messages: [] });
    }, 300_000);

    it("(the check can fail) is not trusted where its signature is unknown: no figure drawn", async () => {
      const figs = await open({ ...env, JUPYTER_DATA_DIR: tempDir("other-jupyter-data-") });
      expect(figs.total).toBe(figureCount(join(out, "01-figures.ipynb")));
      expect(figs.drawn).toBe(0);
    }, 300_000);
  });
});
