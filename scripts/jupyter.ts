// Finding Jupyter and registering this checkout's tslab kernel, under the course's own
// name `tslab-course`. Shared by the setup script (npm install) and the notebook runner.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
 * The course's own kernel name: a user's `tslab` kernel is never touched, and the
 * notebooks' metadata.kernelspec names this one.
 */
export const KERNEL_NAME = "tslab-course";
export const KERNEL_DISPLAY_NAME = "TypeScript (tslab, course)";

/**
 * kernel.json for this checkout's tslab (node_modules/.bin/tslab, never a global one),
 * with scripts/tslab-preload (queued zeromq sends: see that file) loaded first.
 */
export function kernelSpec(root = ROOT): object {
  return {
    argv: [join(root, "node_modules", ".bin", "tslab"), "kernel", "--config-path", "{connection_file}"],
    display_name: KERNEL_DISPLAY_NAME,
    language: "typescript",
    env: { NODE_OPTIONS: `--require ${join(root, "dist", "scripts", "tslab-preload.js")}` },
  };
}

/** Write the kernel spec into `<dataDir>/kernels/tslab-course/kernel.json`; returns its path. */
export function writeKernelSpec(dataDir: string, root = ROOT): string {
  return registerKernel(dataDir, root).file;
}

export interface KernelWrite {
  file: string;
  /** The tslab this file ran before (argv[0]), when it was another: a checkout's kernel was replaced. */
  replaced: string | null;
  /** Whether the file existed before. */
  existed: boolean;
}

/**
 * Write this checkout's `tslab-course` kernel into `<dataDir>/kernels/` and say what was
 * there before. Only that folder is written: a kernel named `tslab` (the user's own,
 * from `tslab install`) is never touched.
 */
export function registerKernel(dataDir: string, root = ROOT): KernelWrite {
  const dir = join(dataDir, "kernels", KERNEL_NAME);
  const file = join(dir, "kernel.json");
  const spec = kernelSpec(root) as { argv: string[] };
  let replaced: string | null = null;
  const existed = existsSync(file);
  if (existed) {
    try {
      const old = JSON.parse(readFileSync(file, "utf8")) as { argv?: unknown };
      const was = Array.isArray(old.argv) ? String(old.argv[0]) : "(no argv)";
      if (was !== spec.argv[0]) replaced = was;
    } catch {
      replaced = "(an unreadable kernel.json)";
    }
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(spec, null, 2) + "\n");
  return { file, replaced, existed };
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
