import { describe, expect, it } from "vitest";
import { kernelSpec } from "../scripts/jupyter";
import { chooseJupyterInstall, manualInstructions } from "../scripts/setup";

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
