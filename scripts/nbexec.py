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
import signal
import sys
import tempfile
import time

import nbformat
import zmq
from jupyter_client.manager import start_new_kernel

# What tslab prints for errors that do not fail the cell (see tslab's main.ts).
ASYNC_ERROR = re.compile(r"^(UncaughtException|UnhandledPromiseRejection):", re.M)

# The probe cells (scripts/kernel-idle.ts, installed by scripts/tslab-preload): one takes
# the baseline of Node's active resources before the first cell, one waits after the last
# until the notebook's timers and I/O are done. Each prints one line after MARKER.
MARKER = "__course_probe__ "
BASELINE_PROBE = 'console.log("%s" + ((globalThis as any).__courseKernel?.takeBaseline() ?? "null"));' % MARKER
SETTLE_PROBE = ('{ const k = (globalThis as any).__courseKernel; '
                'console.log("%s" + (k ? await k.settle(%%d) : "null")); }' % MARKER)
NO_PROBE = ("the kernel has no idle probe: it was started without scripts/tslab-preload "
            "(its kernel.json must set NODE_OPTIONS=--require …/dist/scripts/tslab-preload.js; "
            "`npm run setup` writes that kernel, `npm run build` the preload)")


class Probe:
    """The output of one probe cell: its marker line, and what else it printed."""

    def __init__(self, mirror_to=None):
        self.mirror_to = mirror_to  # cell index that also shows its other output (as Jupyter would)
        self.marker = None
        self.stderr = []

    def result(self):
        if self.marker is None:
            return None
        try:
            return json.loads(self.marker)
        except ValueError:
            return None


class Outputs:
    """Routes kernel messages to cells by parent msg_id, late messages included.

    Stream text is kept as a list of chunks per output and joined once (text_of,
    finish): appending to a str would copy it each time, quadratic in the output.
    """

    def __init__(self, nb):
        self.nb = nb
        self.cell_of = {}  # msg_id -> cell index
        self.probes = {}  # msg_id -> Probe
        self.displays = {}  # display_id -> list of output dicts to update
        self.chunks = {}  # id(stream output) -> (output, [text, …]) while running

    def add(self, msg):
        parent = msg.get("parent_header", {}).get("msg_id")
        t = msg["msg_type"]
        c = msg["content"]
        probe = self.probes.get(parent)
        if probe is not None:
            if t == "stream":
                if c.get("text", "").startswith(MARKER):
                    probe.marker = c["text"][len(MARKER):].strip()
                    return
                if c.get("name") == "stderr":
                    probe.stderr.append(c.get("text", ""))
            if probe.mirror_to is None:
                return
            idx = probe.mirror_to
        elif parent in self.cell_of:
            idx = self.cell_of[parent]
        else:
            return
        outs = self.nb.cells[idx].outputs
        if t == "stream":
            last = outs[-1] if outs else None
            if last is not None and last.get("output_type") == "stream" and last.get("name") == c["name"] and id(last) in self.chunks:
                self.chunks[id(last)][1].append(c["text"])
            else:
                out = nbformat.v4.new_output("stream", name=c["name"], text="")
                self.chunks[id(out)] = (out, [c["text"]])
                outs.append(out)
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

    def text_of(self, out):
        entry = self.chunks.get(id(out))
        if entry is None or entry[0] is not out:
            return out.get("text", "")
        joined = "".join(entry[1])
        entry[1][:] = [joined]  # joined once; later chunks are appended to it
        return joined

    def stderr_of(self, cell):
        return "".join(self.text_of(o) for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == "stderr")

    def finish(self):
        """Write the joined text into every stream output (before the notebook is saved)."""
        for out, chunks in self.chunks.values():
            out["text"] = "".join(chunks)
        self.chunks.clear()


def stderr_of(cell):
    """A cell's stderr text, once Outputs.finish() has joined it."""
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == "stderr")


def error_text(outputs, cell):
    parts = []
    for o in cell.outputs:
        if o.get("output_type") == "error":
            s = f"{o.get('ename', '')}: {o.get('evalue', '')}".strip(": ")
            if s:
                parts.append(s)
    err = outputs.stderr_of(cell).strip()
    if err:
        parts.append(err)
    return "\n".join(parts) or "(the kernel reported an error but sent no text)"


class KernelDied(Exception):
    pass


def exit_code(km):
    """The kernel process's exit code (negative: killed by that signal), or None."""
    proc = getattr(getattr(km, "provisioner", None), "process", None) or getattr(km, "kernel", None)
    try:
        return proc.poll() if proc is not None else None
    except Exception:
        return None


def death_message(code, when, log_tail):
    """What we know about a kernel that went away `when` ("during cell 3", …)."""
    if code is None:
        what = f"the kernel process ended {when} (exit code unknown)"
    elif code == 0:
        what = (f"the kernel process exited with code 0 {when}: did a cell call process.exit()? "
                "A notebook must not end its kernel")
    elif code > 0:
        what = (f"the kernel process exited with code {code} {when}: a cell called process.exit({code}), "
                "or the kernel crashed (its last output is below, if any)")
    else:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {"SIGKILL": " (out of memory? Linux's OOM killer sends SIGKILL)",
                "SIGABRT": " (V8 aborts when the JavaScript heap is full: see its last output below)"}.get(name, "")
        what = f"the kernel process was killed by {name} {when}{hint}"
    if log_tail:
        what += "\nthe kernel process's last output:\n" + log_tail
    return what


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
                raise KernelDied(exit_code(km))
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


def tail(path, lines=20):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "\n".join(f.read()[-20000:].strip().splitlines()[-lines:])
    except OSError:
        return ""


def run(nb, kernel_name, cwd, cell_timeout, idle_timeout=60.0):
    """Execute in place; returns (ok, error, cell_number)."""
    # No receive limit on our sockets: past 1,000 queued messages ZeroMQ drops the rest,
    # and a lost "idle" status would leave us waiting for a cell that has finished.
    zmq.Context.instance().setsockopt(zmq.RCVHWM, 0)
    # The kernel process's own stderr (V8's fatal errors go there, not to a cell).
    log = tempfile.NamedTemporaryFile(prefix="nbexec-kernel-", suffix=".log", delete=False)
    km = kc = None
    outputs = Outputs(nb)
    try:
        km, kc = start_new_kernel(kernel_name=kernel_name, cwd=cwd, startup_timeout=120, stderr=log)

        def execute_probe(code, probe, timeout, when):
            msg_id = kc.execute(code, store_history=False, allow_stdin=False)
            outputs.probes[msg_id] = probe
            try:
                if not drain(km, kc, outputs, msg_id, time.monotonic() + timeout):
                    return None, f"the kernel did not answer the runner's probe {when} within {timeout:.0f} s"
            except KernelDied as e:
                return None, death_message(e.args[0], when, tail(log.name))
            return shell_reply(kc, msg_id, 30), None

        # tslab numbers every request, the probe too: cells count from the one after it.
        baseline = Probe()
        reply, err = execute_probe(BASELINE_PROBE, baseline, 120, "before the first cell")
        if err:
            return False, err, None
        if not isinstance(baseline.result(), dict):
            return False, NO_PROBE, None
        offset = reply.get("execution_count") or 0
        expected_count = offset + 1

        code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        last_run = None  # (number, index) of the last cell sent to the kernel
        for number, idx in enumerate(code_cells, start=1):
            cell = nb.cells[idx]
            cell.outputs = []
            cell.execution_count = None
            if not cell.source.strip():
                continue
            msg_id = kc.execute(cell.source, store_history=True, allow_stdin=False)
            outputs.cell_of[msg_id] = idx
            last_run = (number, idx)
            try:
                finished = drain(km, kc, outputs, msg_id, time.monotonic() + cell_timeout)
            except KernelDied as e:
                return False, death_message(e.args[0], f"during cell {number}", tail(log.name)), number
            if not finished:
                km.interrupt_kernel()
                return False, f"timed out after {cell_timeout:g} s (--cell-timeout)", number
            reply = shell_reply(kc, msg_id, 30)
            count = reply.get("execution_count")
            cell.execution_count = count - offset if isinstance(count, int) else None
            status = reply.get("status")
            if status == "error":
                return False, error_text(outputs, cell), number
            if status != "ok":
                return False, f"the kernel did not run this cell (status '{status}')", number
            if count != expected_count:
                return False, (f"the kernel silently skipped this cell (execution count {cell.execution_count}, "
                               f"expected {expected_count - offset})"), number
            expected_count += 1
            # Async errors raised by this cell, or by a callback of an earlier one.
            for j in code_cells[: number]:
                text = outputs.stderr_of(nb.cells[j])
                m = ASYNC_ERROR.search(text)
                if m:
                    return False, text[m.start():].strip(), code_cells.index(j) + 1
        if last_run is None:
            return True, None, None

        # Wait until the notebook's timers and I/O are done (bounded), so a callback that
        # fails late is reported while we still listen. Its output goes to the last cell,
        # as in Jupyter.
        last_number, last_idx = last_run
        before = len(outputs.stderr_of(nb.cells[last_idx]))
        t_end = time.monotonic()
        probe = Probe(mirror_to=last_idx)
        bound_ms = int(round(idle_timeout * 1000))
        _, err = execute_probe(SETTLE_PROBE % bound_ms, probe, idle_timeout + 60, "after the last cell")
        waited = time.monotonic() - t_end
        if err:
            return False, err, last_number
        for number, j in enumerate(code_cells, start=1):
            text = outputs.stderr_of(nb.cells[j])
            m = ASYNC_ERROR.search(text)
            if m:
                if j == last_idx and m.start() >= before:
                    return False, (f"after the last cell (cell {number}) had finished, within {waited:.1f} s: "
                                   + text[m.start():].strip()), number
                return False, text[m.start():].strip(), number
        res = probe.result()
        if not isinstance(res, dict):
            return False, NO_PROBE, last_number
        if res.get("pending"):
            return False, (f"after the last cell (cell {last_number}): the notebook was still busy at the "
                           f"--idle-timeout bound of {idle_timeout:g} s, with {', '.join(res['pending'])} pending "
                           "(Node's active resources beyond the kernel's own). A timer or interval that never ends "
                           "(setInterval without clearInterval?) or I/O that never finishes: the run cannot vouch "
                           "for errors it raises later. End it in the notebook."), last_number
        if res.get("asyncErrors"):
            return False, (f"Node raised {res['asyncErrors']} unhandled rejection(s) or uncaught exception(s) "
                           "whose text did not reach the runner"), last_number
        return True, None, None
    finally:
        outputs.finish()
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            km.shutdown_kernel(now=True)
        log.close()
        os.unlink(log.name)


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


def positive_seconds(text):
    """A flag's value in seconds: a finite number > 0."""
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not (0 < v < float("inf")):
        raise argparse.ArgumentTypeError(f"expected seconds, a number > 0, got {text!r}")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook")
    ap.add_argument("--out-ipynb", required=True)
    ap.add_argument("--out-html", required=True)
    ap.add_argument("--kernel", default="tslab-course")
    ap.add_argument("--cell-timeout", type=positive_seconds, default=600)
    ap.add_argument("--idle-timeout", type=positive_seconds, default=60,
                    help="seconds to wait after the last cell for the notebook's timers and I/O to end (default 60)")
    ap.add_argument("--mathjax-url", default="assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe")
    ap.add_argument("--require-js-url", default="assets/require.min.js")
    ap.add_argument("--plotly-url", default="assets/plotly.min.js")
    args = ap.parse_args()

    nb = nbformat.read(args.notebook, as_version=4)
    t0 = time.monotonic()
    try:
        ok, error, cell = run(nb, args.kernel, os.path.dirname(os.path.abspath(args.notebook)), args.cell_timeout, args.idle_timeout)
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
