// Finding Jupyter and registering this checkout's tslab kernel. Shared by the
// setup script (npm install) and the notebook runner.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./root";

export { ROOT };
const MODULES = ["nbformat", "nbconvert", "jupyter_client"];

/** Python interpreters to try, in order: the project's venv, Debian's, then PATH's. */
export function pythonCandidates(root = ROOT): string[] {
  return [join(root, ".venv", "bin", "python"), "/usr/bin/python3", "python3"];
}

/** The first Python that can import nbformat, nbconvert and jupyter_client, or null. */
export function findJupyterPython(root = ROOT): string | null {
  for (const py of pythonCandidates(root)) {
    if (py.startsWith("/") && !existsSync(py)) continue;
    const r = spawnSync(py, ["-c", `import ${MODULES.join(", ")}`], { stdio: "ignore" });
    if (r.status === 0) return py;
  }
  return null;
}

/**
 * kernel.json for this checkout's tslab (node_modules/.bin/tslab, never a global one),
 * with scripts/tslab-preload (queued zeromq sends: see that file) loaded first.
 */
export function kernelSpec(root = ROOT): object {
  return {
    argv: [join(root, "node_modules", ".bin", "tslab"), "kernel", "--config-path", "{connection_file}"],
    display_name: "TypeScript (tslab, course)",
    language: "typescript",
    env: { NODE_OPTIONS: `--require ${join(root, "dist", "scripts", "tslab-preload.js")}` },
  };
}

/** Write the kernel spec into `<dataDir>/kernels/tslab/kernel.json`; returns its path. */
export function writeKernelSpec(dataDir: string, root = ROOT): string {
  const dir = join(dataDir, "kernels", "tslab");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "kernel.json");
  writeFileSync(file, JSON.stringify(kernelSpec(root), null, 2) + "\n");
  return file;
}

/** The project-local Jupyter data dir the runner puts first on JUPYTER_PATH. */
export function projectJupyterDir(root = ROOT): string {
  return join(root, ".jupyter");
}

/** Jupyter's per-user data dir (where JupyterLab looks for kernels). */
export function userJupyterDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  if (process.platform === "darwin") return join(homedir(), "Library", "Jupyter");
  return join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "jupyter");
}
