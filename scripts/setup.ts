// Runs after `npm install` / `npm ci` (the "prepare" script), and as `npm run setup`.
//   1. Make sure Jupyter (nbformat, nbconvert, jupyter_client + a notebook UI) is there:
//      - already importable by .venv/bin/python, /usr/bin/python3 or python3: done;
//      - else, where pip reaches a package index: a project-local venv in .venv;
//      - else, where apt-get exists and we are root: Debian's packages;
//      - else: stop and print the exact commands to run.
//   2. Register this checkout's tslab kernel (node_modules/.bin/tslab) with Jupyter under
//      the course's own name, `tslab-course` (a user's own `tslab` kernel is never touched):
//      in the per-user kernels folder (for JupyterLab / the classic notebook) and in
//      .jupyter/ (for `npm run course`), and print what was written.
// Set COURSE_SKIP_JUPYTER=1 to skip step 1.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { KERNEL_DISPLAY_NAME, KERNEL_NAME, KernelWrite, ROOT, findJupyterPython, projectJupyterDir, registerKernel, userJupyterDir } from "./jupyter";

const DEBIAN_PACKAGES = ["jupyter-nbconvert", "python3-nbclient", "python3-ipykernel", "jupyter-client", "jupyter-notebook"];
const PIP_PACKAGES = ["jupyterlab", "nbclient", "nbconvert", "ipykernel"];

function run(cmd: string, args: string[], timeoutMs?: number): boolean {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", timeout: timeoutMs });
  return r.status === 0;
}

function has(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Can pip reach a package index? (A refusal answers at once; give it 20 s.) */
function pipReachesIndex(): boolean {
  const r = spawnSync("python3", ["-m", "pip", "index", "versions", "nbclient", "--disable-pip-version-check"], { stdio: "ignore", timeout: 20_000 });
  return r.status === 0;
}

export type JupyterInstall = "venv" | "debian" | "manual";

/** How to get Jupyter here: pip into .venv, Debian's packages, or ask the user. */
export function chooseJupyterInstall(can: { pip: () => boolean; apt: boolean; root: boolean }): JupyterInstall {
  if (can.pip()) return "venv";
  if (can.apt && can.root) return "debian";
  return "manual";
}

/** The commands printed when nothing can be installed automatically. */
export function manualInstructions(): string {
  return [
    "Jupyter is missing and could not be installed automatically. Run one of:",
    `  python3 -m venv .venv && .venv/bin/python -m pip install ${PIP_PACKAGES.join(" ")}`,
    `  sudo apt-get update && sudo apt-get install -y ${DEBIAN_PACKAGES.join(" ")}`,
    "then `npm run setup` again.",
  ].join("\n");
}

function installJupyter(): boolean {
  const how = chooseJupyterInstall({
    pip: () => has("python3") && pipReachesIndex(),
    apt: has("apt-get"),
    root: typeof process.getuid === "function" && process.getuid() === 0,
  });
  if (how === "venv") {
    console.log("Installing JupyterLab into a project-local venv (.venv) with pip …");
    const venv = join(ROOT, ".venv");
    return run("python3", ["-m", "venv", venv]) && run(join(venv, "bin", "python"), ["-m", "pip", "install", ...PIP_PACKAGES]);
  }
  if (how === "debian") {
    console.log("pip cannot reach a package index here; installing Jupyter from Debian's packages …");
    return run("apt-get", ["update"]) && run("apt-get", ["install", "-y", ...DEBIAN_PACKAGES]);
  }
  return false;
}

/** What setup tells the user it wrote (and replaced, and left alone). */
export function describeRegistration(writes: KernelWrite[], root = ROOT): string[] {
  const lines = [`Registered the Jupyter kernel "${KERNEL_NAME}" ("${KERNEL_DISPLAY_NAME}": this checkout's tslab, ${root}):`];
  for (const w of writes) {
    const how = w.replaced ? `replaced; it ran ${w.replaced}` : w.existed ? "updated" : "new";
    lines.push(`  wrote ${w.file} (${how})`);
  }
  lines.push(`A kernel named "tslab" (tslab's own \`tslab install\`) is left as it is. In Jupyter, pick "${KERNEL_DISPLAY_NAME}".`);
  return lines;
}

function main(): number {
  if (process.env.COURSE_SKIP_JUPYTER !== "1" && !findJupyterPython()) {
    if (!installJupyter() || !findJupyterPython()) {
      console.error(manualInstructions());
      return 1;
    }
  }
  const py = findJupyterPython();
  if (py) console.log(`Jupyter: ${py}`);
  if (!existsSync(join(ROOT, "node_modules", ".bin", "tslab"))) {
    console.error("node_modules/.bin/tslab is missing: run `npm install` first");
    return 1;
  }
  for (const line of describeRegistration([registerKernel(userJupyterDir()), registerKernel(projectJupyterDir())])) console.log(line);
  return 0;
}

if (require.main === module) process.exit(main());
