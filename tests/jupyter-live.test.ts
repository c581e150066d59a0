// The live path, in the Jupyter front end that is installed (JupyterLab's server from
// the setup's .venv, else Debian's classic notebook): notebook 01 run from the
// browser draws every figure.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SELECTORS, Server, figureCells, figuresIn, findFrontEnd, openNotebook, runAll, startServer, waitUntilIdle } from "./helpers/frontend";
import { CHROMIUM, CHROMIUM_ARGS, ROOT } from "./helpers/notebooks";

const FRONT_END = findFrontEnd();
const NOTEBOOK = "01-function-and-loss.ipynb";

describe.runIf(FRONT_END && CHROMIUM)(`the live notebook (${FRONT_END?.name ?? "no front end"})`, () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.stop()));

  it("runs notebook 01 from the browser and draws every figure", async () => {
    const { chromium } = await import("playwright-core");
    const server = await startServer(FRONT_END!, join(ROOT, "notebooks"), { ...process.env, JUPYTER_PATH: join(ROOT, ".jupyter") });
    servers.push(server);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      await openNotebook(page, server, NOTEBOOK);
      await runAll(page, server);
      await waitUntilIdle(page, server, 300_000);
      const figs = await figuresIn(page);
      expect(figs.total).toBeGreaterThan(0);
      expect(figs.drawn).toBe(figs.total);
      expect(figs.messages).toEqual([]);
      expect((await figureCells(page, server)).length).toBeGreaterThan(0);
      const errors = await page.evaluate((sel) => document.querySelectorAll(sel).length, SELECTORS[server.frontEnd.name].errorOutput);
      expect(errors).toBe(0);
    } finally {
      await browser.close();
    }
  }, 360_000);
});
