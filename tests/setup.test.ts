import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findJupyterPython, KERNEL_DISPLAY_NAME, KERNEL_NAME, kernelSpec, registerKernel } from "../scripts/jupyter";
import { chooseJupyterInstall, describeRegistration, manualInstructions } from "../scripts/setup";
import { ROOT, run, tempDir } from "./helpers/notebooks";

describe("setup: where Jupyter comes from", () => {
  it("prefers a project venv when pip reaches an index", () => {
    expect(chooseJupyterInstall({ pip: () => true, apt: true, root: true })).toBe("venv");
  });
  it("uses Debian's packages when pip cannot, apt exists and we are root (this machine, CI)", () => {
    expect(chooseJupyterInstall({ pip: () => false, apt: true, root: true })).toBe("debian");
  });
  it("asks the user otherwise, with the exact commands", () => {
    expect(chooseJupyterInstall({ pip: () => false, apt: true, root: false })).toBe("manual");
    expect(chooseJupyterInstall({ pip: () => false, apt: false, root: true })).toBe("manual");
    const text = manualInstructions();
    expect(text).toContain("python3 -m venv .venv && .venv/bin/python -m pip install jupyterlab");
    expect(text).toContain("sudo apt-get install -y jupyter-nbconvert python3-nbclient python3-ipykernel jupyter-client");
  });
});

describe("setup: the kernel of this checkout", () => {
  it("runs this checkout's tslab with the zeromq preload, never a global one", () => {
    const spec = kernelSpec("/x/course") as { argv: string[]; env: { NODE_OPTIONS: string } };
    expect(spec.argv[0]).toBe("/x/course/node_modules/.bin/tslab");
    expect(spec.argv.slice(1)).toEqual(["kernel", "--config-path", "{connection_file}"]);
    expect(spec.env.NODE_OPTIONS).toBe("--require /x/course/dist/scripts/tslab-preload.js");
  });
});

describe("setup: the course's own kernel name", () => {
  it("writes kernels/tslab-course and leaves a user's own tslab kernel byte for byte", () => {
    const data = tempDir("jupyter-data-");
    mkdirSync(join(data, "kernels", "tslab"), { recursive: true });
    const theirs = '{"argv": ["/usr/local/bin/tslab", "kernel", "--config-path", "{connection_file}"], "display_name": "TypeScript"}\n';
    writeFileSync(join(data, "kernels", "tslab", "kernel.json"), theirs);
    const w = registerKernel(data, "/x/course");
    expect(w).toEqual({ file: join(data, "kernels", "tslab-course", "kernel.json"), replaced: null, existed: false });
    expect(JSON.parse(readFileSync(w.file, "utf8"))).toEqual(kernelSpec("/x/course"));
    expect(readFileSync(join(data, "kernels", "tslab", "kernel.json"), "utf8")).toBe(theirs);
    expect(readdirSync(join(data, "kernels")).sort()).toEqual(["tslab", "tslab-course"]);
  });
  it("says when it replaced another checkout's kernel, and what it wrote", () => {
    const data = tempDir("jupyter-data-");
    registerKernel(data, "/old/checkout");
    const again = registerKernel(data, "/x/course");
    expect(again.replaced).toBe("/old/checkout/node_modules/.bin/tslab");
    expect(registerKernel(data, "/x/course")).toMatchObject({ replaced: null, existed: true });
    const text = describeRegistration([again], "/x/course").join("\n");
    expect(text).toContain(`Registered the Jupyter kernel "tslab-course" ("TypeScript (tslab, course)": this checkout's tslab, /x/course)`);
    expect(text).toContain(`wrote ${again.file} (replaced; it ran /old/checkout/node_modules/.bin/tslab)`);
    expect(text).toContain('A kernel named "tslab"');
  });
});

describe("committed notebooks name the course's kernel", () => {
  const NOTEBOOKS = readdirSync(join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();
  const meta = (f: string) => JSON.parse(readFileSync(join(ROOT, "notebooks", f), "utf8")).metadata;

  it.each(NOTEBOOKS)("%s: metadata.kernelspec is the kernel spec's name, display name and language", (f) => {
    const spec = kernelSpec() as { display_name: string; language: string };
    expect(meta(f).kernelspec).toEqual({ name: KERNEL_NAME, display_name: spec.display_name, language: spec.language });
    expect(spec.display_name).toBe(KERNEL_DISPLAY_NAME);
  });

  // Jupyter saves kernelspec from the kernel spec and language_info from the kernel's
  // kernel_info reply: both as committed means saving a clean notebook changes no metadata.
  it("metadata.language_info is what the registered kernel reports", async () => {
    const python = findJupyterPython();
    expect(python, "Jupyter's Python (npm run setup)").toBeTruthy();
    const data = tempDir("jupyter-data-");
    registerKernel(data, ROOT); // ROOT of the tests: scripts/root.ts resolves from dist/
    const script = [
      "import json, os",
      "from jupyter_client.manager import start_new_kernel",
      `km, kc = start_new_kernel(kernel_name=${JSON.stringify(KERNEL_NAME)}, startup_timeout=120)`,
      "try:",
      "    print(json.dumps(kc.kernel_info(reply=True, timeout=60)['content']['language_info']))",
      "finally:",
      "    kc.stop_channels(); km.shutdown_kernel(now=True)",
    ].join("\n");
    const r = await run("env", [`JUPYTER_PATH=${data}`, python as string, "-c", script], 150_000);
    expect(r.status, r.stderr).toBe(0);
    const reported = JSON.parse(r.stdout.trim().split("\n").pop() as string);
    for (const f of NOTEBOOKS) expect({ f, language_info: meta(f).language_info }).toEqual({ f, language_info: reported });
  }, 150_000);
});
