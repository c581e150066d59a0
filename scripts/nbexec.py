#!/usr/bin/env python3
"""Execute one notebook on the tslab kernel, cell by cell, and export it to HTML.

Why not `jupyter nbconvert --execute`: tslab reports failures in ways nbclient does
not see. It prints type errors and thrown errors to the cell's stderr and sends an
empty error value; it prints uncaught exceptions and unhandled promise rejections to
stderr while the cell still "succeeds" (and, when they fire late, into the output of
whichever cell runs next); after an error it silently skips requests that arrive
within 200 ms. And nbconvert writes nothing when a cell fails. So this runner talks
to the kernel itself, keeps every message (late ones too), treats each of those
cases as a failure with the real text, and always writes the executed notebook and
its HTML so the error can be read.

Prints one JSON line on stdout: {"ok": bool, "error": str|null, "cell": int|null,
"seconds": float}. Exit code 0 when ok, 1 when a cell failed, 2 on usage errors.
"""
import argparse
import json
import os
import queue
import re
import sys
import time

import nbformat
import zmq
from jupyter_client.manager import start_new_kernel

# What tslab prints for errors that do not fail the cell (see tslab's main.ts).
ASYNC_ERROR = re.compile(r"^(UncaughtException|UnhandledPromiseRejection):", re.M)
SENTINEL = "await new Promise((resolve) => setTimeout(resolve, 300));"


class Outputs:
    """Routes kernel messages to cells by parent msg_id, late messages included."""

    def __init__(self, nb):
        self.nb = nb
        self.cell_of = {}  # msg_id -> cell index (or -1 for the sentinel)
        self.displays = {}  # display_id -> list of output dicts to update
        self.sentinel_stderr = []

    def add(self, msg):
        parent = msg.get("parent_header", {}).get("msg_id")
        if parent not in self.cell_of:
            return
        idx = self.cell_of[parent]
        t = msg["msg_type"]
        c = msg["content"]
        if idx < 0:
            if t == "stream" and c.get("name") == "stderr":
                self.sentinel_stderr.append(c.get("text", ""))
            return
        outs = self.nb.cells[idx].outputs
        if t == "stream":
            if outs and outs[-1].get("output_type") == "stream" and outs[-1].get("name") == c["name"]:
                outs[-1]["text"] += c["text"]
            else:
                outs.append(nbformat.v4.new_output("stream", name=c["name"], text=c["text"]))
        elif t in ("display_data", "execute_result"):
            kw = {"data": c.get("data", {}), "metadata": c.get("metadata", {})}
            if t == "execute_result":
                out = nbformat.v4.new_output("execute_result", execution_count=c.get("execution_count"), **kw)
            else:
                out = nbformat.v4.new_output("display_data", **kw)
            outs.append(out)
            did = c.get("transient", {}).get("display_id")
            if did:
                # A new display_data with a known id also updates the earlier ones.
                for o in self.displays.get(did, []):
                    o["data"], o["metadata"] = kw["data"], kw["metadata"]
                self.displays.setdefault(did, []).append(out)
        elif t == "update_display_data":
            did = c.get("transient", {}).get("display_id")
            for o in self.displays.get(did, []):
                o["data"], o["metadata"] = c.get("data", {}), c.get("metadata", {})
        elif t == "error":
            outs.append(nbformat.v4.new_output("error", ename=c.get("ename", ""), evalue=c.get("evalue", ""), traceback=c.get("traceback", [])))
        elif t == "clear_output":
            outs.clear()


def stderr_of(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == "stderr")


def error_text(cell):
    parts = []
    for o in cell.outputs:
        if o.get("output_type") == "error":
            s = f"{o.get('ename', '')}: {o.get('evalue', '')}".strip(": ")
            if s:
                parts.append(s)
    err = stderr_of(cell).strip()
    if err:
        parts.append(err)
    return "\n".join(parts) or "(the kernel reported an error but sent no text)"


class KernelDied(Exception):
    pass


def drain(km, kc, outputs, msg_id, deadline):
    """Read iopub until the kernel is idle for msg_id; True if it finished in time."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            msg = kc.get_iopub_msg(timeout=min(left, 1.0))
        except queue.Empty:
            if not km.is_alive():
                code = getattr(getattr(km, "provisioner", None), "exit_code", None)
                raise KernelDied(f"the kernel process died (exit code {code}; out of memory?)")
            continue
        outputs.add(msg)
        if (msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
                and msg.get("parent_header", {}).get("msg_id") == msg_id):
            return True


def shell_reply(kc, msg_id, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_shell_msg(timeout=1.0)
        except queue.Empty:
            continue
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg["content"]
    return {"status": "error", "ename": "Timeout", "evalue": "no reply from the kernel"}


def run(nb, kernel_name, cwd, cell_timeout):
    """Execute in place; returns (ok, error, cell_number)."""
    # No receive limit on our sockets: past 1,000 queued messages ZeroMQ drops the rest,
    # and a lost "idle" status would leave us waiting for a cell that has finished.
    zmq.Context.instance().setsockopt(zmq.RCVHWM, 0)
    km, kc = start_new_kernel(kernel_name=kernel_name, cwd=cwd, startup_timeout=120)
    outputs = Outputs(nb)
    expected_count = 1
    try:
        code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        for number, idx in enumerate(code_cells, start=1):
            cell = nb.cells[idx]
            cell.outputs = []
            cell.execution_count = None
            if not cell.source.strip():
                continue
            msg_id = kc.execute(cell.source, store_history=True, allow_stdin=False)
            outputs.cell_of[msg_id] = idx
            try:
                finished = drain(km, kc, outputs, msg_id, time.monotonic() + cell_timeout)
            except KernelDied as e:
                err = stderr_of(cell).strip()
                return False, f"{e}" + (f"\n{err}" if err else ""), number
            if not finished:
                km.interrupt_kernel()
                return False, f"timed out after {cell_timeout} s", number
            reply = shell_reply(kc, msg_id, 30)
            cell.execution_count = reply.get("execution_count")
            status = reply.get("status")
            if status == "error":
                return False, error_text(cell), number
            if status != "ok":
                return False, f"the kernel did not run this cell (status '{status}')", number
            if cell.execution_count != expected_count:
                return False, (f"the kernel silently skipped this cell (execution count {cell.execution_count}, "
                               f"expected {expected_count})"), number
            expected_count += 1
            # Async errors raised by this cell, or by a callback of an earlier one.
            for j in code_cells[: number]:
                m = ASYNC_ERROR.search(stderr_of(nb.cells[j]))
                if m:
                    text = stderr_of(nb.cells[j])[m.start():].strip()
                    where = code_cells.index(j) + 1
                    return False, text, where
        # Let callbacks scheduled by the last cells fire, then look once more.
        msg_id = kc.execute(SENTINEL, silent=True, store_history=False)
        outputs.cell_of[msg_id] = -1
        try:
            drain(km, kc, outputs, msg_id, time.monotonic() + 30)
        except KernelDied as e:
            return False, f"after the last cell: {e}", len(code_cells)
        for number, j in enumerate(code_cells, start=1):
            m = ASYNC_ERROR.search(stderr_of(nb.cells[j]))
            if m:
                return False, stderr_of(nb.cells[j])[m.start():].strip(), number
        late = "".join(outputs.sentinel_stderr)
        if ASYNC_ERROR.search(late):
            return False, "after the last cell: " + late.strip(), len(code_cells)
        return True, None, None
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# The <script> lib/plot.ts marks as carrying the plotly bundle (PLOTLY_MARK there).
PLOTLY_SCRIPT = re.compile(r"<script\b[^>]*\bdata-course-plotly\b[^>]*>.*?</script>\s*", re.S)


def title_of(nb):
    """The notebook's first '# ' heading (the page title), else None."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return None


def export_html(nb, path, mathjax_url, require_js_url, plotly_url):
    """The page: outputs as they are, except plotly's bundle, which the page loads
    once from plotly_url instead of carrying a copy."""
    import copy

    from nbconvert import HTMLExporter

    page_nb = copy.deepcopy(nb)
    has_plots = False
    for cell in page_nb.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html")
            if html is None:
                continue
            text = "".join(html) if isinstance(html, list) else html
            has_plots = has_plots or 'class="course-plot"' in text
            out["data"]["text/html"] = PLOTLY_SCRIPT.sub("", text)
    exporter = HTMLExporter(template_name="lab")
    exporter.mathjax_url = mathjax_url
    exporter.require_js_url = require_js_url
    resources = {"metadata": {"name": title_of(nb) or os.path.splitext(os.path.basename(path))[0]}}
    body, _ = exporter.from_notebook_node(page_nb, resources=resources)
    body = share_styles(body, os.path.dirname(os.path.abspath(path)))
    if has_plots:
        # Before </head>: a plain script, run before the figures' scripts in <body>.
        tag = f'<script type="text/javascript" src="{plotly_url}"></script>\n'
        i = body.find("</head>")
        body = body[:i] + tag + body[i:] if i >= 0 else tag + body
    with open(path, "w", encoding="utf-8") as f:
        f.write(body)


# nbconvert's lab template inlines half a megabyte of JupyterLab CSS into every page.
STYLE = re.compile(r'<style type="text/css">(.*?)</style>', re.S)


def share_styles(body, site_dir):
    """Move each large inline stylesheet into assets/nbconvert-<hash>.css (the same file
    for every page of a run) and link it, so pages share it instead of each carrying it."""
    import hashlib

    def link(m):
        css = m.group(1)
        if len(css) < 20000:
            return m.group(0)
        name = f"nbconvert-{hashlib.sha256(css.encode('utf-8')).hexdigest()[:16]}.css"
        dst = os.path.join(site_dir, "assets", name)
        if not os.path.exists(dst):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "w", encoding="utf-8") as f:
                f.write(css)
        return f'<link rel="stylesheet" type="text/css" href="assets/{name}">'

    return STYLE.sub(link, body)


def write_signed(nb, path):
    """Write the executed notebook and sign it in the user's Jupyter data dir (nbformat's
    NotebookNotary, as Jupyter does on save), so it opens trusted: its figures' scripts run.
    Returns a warning when signing failed (the notebook is written anyway)."""
    nbformat.write(nb, path)
    try:
        from nbformat.sign import NotebookNotary

        notary = NotebookNotary()
        notary.sign(nb)
        return None
    except Exception as e:  # a read-only data dir, no sqlite, …
        return f"could not sign {path} ({type(e).__name__}: {e}); open it and choose Trust Notebook"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook")
    ap.add_argument("--out-ipynb", required=True)
    ap.add_argument("--out-html", required=True)
    ap.add_argument("--kernel", default="tslab")
    ap.add_argument("--cell-timeout", type=float, default=600)
    ap.add_argument("--mathjax-url", default="assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe")
    ap.add_argument("--require-js-url", default="assets/require.min.js")
    ap.add_argument("--plotly-url", default="assets/plotly.min.js")
    args = ap.parse_args()

    nb = nbformat.read(args.notebook, as_version=4)
    t0 = time.monotonic()
    try:
        ok, error, cell = run(nb, args.kernel, os.path.dirname(os.path.abspath(args.notebook)), args.cell_timeout)
    except Exception as e:  # the kernel did not start, died, …
        ok, error, cell = False, f"{type(e).__name__}: {e}", None
    seconds = time.monotonic() - t0
    nb.metadata.setdefault("course", {})["run"] = {"ok": ok, "seconds": round(seconds, 2)}
    warning = write_signed(nb, args.out_ipynb)
    if warning:
        print(warning, file=sys.stderr)
    export_html(nb, args.out_html, args.mathjax_url, args.require_js_url, args.plotly_url)
    print(json.dumps({"ok": ok, "error": error, "cell": cell, "seconds": round(seconds, 2)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
