"""The chapters as a reader meets them in JupyterLab (with jupyterlab-myst), in Chromium.

The test starts its own JupyterLab on 127.0.0.1 (a free port, a random token, no browser,
settings and workspaces in a temporary folder, chapters copied there so that nothing in the
checkout changes, and ``$CNN_BOOK_OUTPUT`` pointing the chapters' writes to that folder too).
It opens every chapter with no kernel at all (``read/``: copies without a kernelspec, opened
with "No Kernel") and checks that the prose is rendered as MyST, with the numbers stored in
the notebook; then it runs every cell of the two quickest chapters (``run/``: plain copies)
and checks that none fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser_support import ROOT, ForeignRequests, chapter_notebooks

sys.path.insert(0, str(ROOT / "tools"))
from inline_eval import expressions_in, plain_text  # noqa: E402

CHAPTERS = chapter_notebooks()
#: The two quickest chapters (about 10 s and 5 s of cell time on the 2-core machine).
RUN_ALL = ["01_convolution", "04_losses"]
START_TIMEOUT_S = 120
RUN_TIMEOUT_MS = 900_000

#: JupyterLab settings for the test: every cell rendered (no windowing), no autosave, no
#: update checks or news.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"checkForUpdates": False,
                                                                        "fetchNews": "false"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server of our own; yields its base URL and token, and stops it at the end."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    (tmp / "root" / "read").mkdir(parents=True)
    (tmp / "root" / "run").mkdir(parents=True)
    for path in CHAPTERS:
        shutil.copy2(path, tmp / "root" / "run" / path.name)
        nb = nbformat.read(path, as_version=4)
        nb.metadata.pop("kernelspec", None)  # with no kernel or language named,
        nb.metadata.pop("language_info", None)  # JupyterLab asks which kernel to start
        nbformat.write(nb, tmp / "root" / "read" / path.name)
    for name, values in SETTINGS.items():
        path = tmp / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "ws"), "IPYTHONDIR": str(tmp / "ipython"),
           "CNN_BOOK_OUTPUT": str(tmp / "output")}
    log = (tmp / "jupyterlab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={tmp / 'root'}", "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n"
                            + (tmp / "jupyterlab.log").read_text(), pytrace=False)
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT_S} s:\n"
                            + (tmp / "jupyterlab.log").read_text(), pytrace=False)
            time.sleep(0.5)
        yield {"base": base, "token": token, "output": tmp / "output"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def context(playwright_browser, lab):
    ctx = playwright_browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(120_000)
    guard = ForeignRequests(lab["base"])
    ctx.route("**/*", guard.handle)
    ctx.guard = guard
    yield ctx
    ctx.close()


# Wait until the current notebook is loaded and every markdown cell is rendered.
RENDERED_JS = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    if (!w || !w.content || !w.context || !w.context.isReady) return false;
    const md = w.content.widgets.filter(c => c.model.type === 'markdown');
    return md.length > 0 && md.every(c => c.rendered && c.node.querySelector('.myst, .jp-MarkdownOutput'));
}"""

# Each markdown cell as rendered: by jupyterlab-myst (a `.myst` widget) or not, its text
# (collapsed dropdowns included; code blocks and KaTeX's hidden MathML left out), its formulas.
MARKDOWN_JS = """() => {
    const w = window.jupyterapp.shell.currentWidget;
    return w.content.widgets.filter(c => c.model.type === 'markdown').map(c => {
        const out = c.node.querySelector('.myst, .jp-MarkdownOutput');
        const copy = out.cloneNode(true);
        copy.querySelectorAll('pre, .katex-mathml').forEach(e => e.remove());
        return {myst: out.classList.contains('myst'), text: copy.textContent,
                katex: out.querySelectorAll('.katex').length,
                codes: [...out.querySelectorAll('code')].map(e => e.textContent)};
    });
}"""


def _open(context, lab, path: str):
    """Open notebook ``path`` (under the server's root) in a fresh workspace; wait until rendered."""
    page = context.new_page()
    page.goto(f"{lab['base']}/lab/tree/{path}?reset&token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    page.wait_for_function(RENDERED_JS)
    page.wait_for_timeout(1000)  # math and inline expressions are drawn after the cell
    return page


def _markdown_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_prose_renders_with_its_stored_numbers(context, lab, notebook):
    cells = _markdown_cells(notebook)
    glued = [i for i, c in enumerate(cells) if "{glue" in c.source]
    assert not glued, (f"{notebook.name}: markdown cells {glued} use {{glue}}, which JupyterLab cannot "
                       "render (it shows the bare name): write the number as an {eval} expression")
    page = _open(context, lab, f"read/{notebook.name}")
    no_kernel = page.locator(".jp-Dialog button", has_text="No Kernel")
    no_kernel.click()
    kernel = page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.name")
    assert kernel is None, f"{notebook.name}: a kernel ({kernel}) was started; the check needs none"
    rendered = page.evaluate(MARKDOWN_JS)
    assert len(rendered) == len(cells), f"{len(rendered)} markdown cells shown, {len(cells)} in the file"
    for i, (cell, shown) in enumerate(zip(cells, rendered, strict=True)):
        assert shown["myst"], f"{notebook.name}, markdown cell {i}: not rendered by jupyterlab-myst"
        text = shown["text"]
        for raw in ("{glue", "{eval", "```{", ":::{", "$$"):
            assert raw not in text, f"{notebook.name}, markdown cell {i}: raw {raw!r} in {text[:300]!r}"
        if "$" in cell.source.replace("\\$", ""):
            assert shown["katex"] > 0, f"{notebook.name}, markdown cell {i}: math not rendered"
        # jupyterlab-myst shows an expression it has no stored value for as code
        missing = [e for e in expressions_in(cell.source) if e in shown["codes"]]
        assert not missing, f"{notebook.name}, markdown cell {i}: no stored value shown for {missing}"
        for item in cell.metadata.get("user_expressions", []):
            value = plain_text(item["result"])
            assert value in text, (f"{notebook.name}, markdown cell {i}: the stored value {value!r} of "
                                   f"{item['expression']!r} is not shown")
    assert not context.guard.take(), "JupyterLab requested another host"
    page.close()


# Run every cell of the current notebook; wait (at most `limit` ms) for the kernel to finish.
RUN_ALL_JS = """async (limit) => {
    const app = window.jupyterapp, w = app.shell.currentWidget;
    await w.sessionContext.ready;
    app.shell.activateById(w.id);
    const started = performance.now();
    await app.commands.execute('notebook:run-all-cells');
    while (w.sessionContext.session?.kernel?.status !== 'idle'
           || [...w.node.querySelectorAll('.jp-InputArea-prompt')].some(p => p.innerText.includes('*'))) {
        if (performance.now() - started > limit) {
            return {timeout: true, status: w.sessionContext.session?.kernel?.status || 'none'};
        }
        await new Promise(r => setTimeout(r, 500));
    }
    const cells = [];
    for (const cell of w.content.model.cells) {
        if (cell.type !== 'code') continue;
        const tags = cell.getMetadata('tags') || [];
        const outputs = cell.outputs.toJSON().map(o => ({
            type: o.output_type, name: o.name || null, ename: o.ename || null, evalue: o.evalue || null}));
        cells.push({count: cell.executionCount, tags, outputs});
    }
    return {timeout: false, seconds: (performance.now() - started) / 1000, cells};
}"""


@pytest.mark.parametrize("name", RUN_ALL)
def test_running_every_cell_of_a_chapter_raises_no_error(context, lab, name):
    page = _open(context, lab, f"run/{name}.ipynb")
    result = page.evaluate(RUN_ALL_JS, RUN_TIMEOUT_MS)
    assert not result["timeout"], (f"{name}: cells still running after {RUN_TIMEOUT_MS / 1000:.0f} s "
                                   f"(kernel {result['status']})")
    print(f"{name}: all cells run in JupyterLab in {result['seconds']:.1f} s")
    errors = [(i, o["ename"], o["evalue"]) for i, c in enumerate(result["cells"]) for o in c["outputs"]
              if o["type"] == "error" and "raises-exception" not in c["tags"]]
    assert not errors, f"{name}: cells raised {errors}"
    not_run = [i for i, c in enumerate(result["cells"]) if c["count"] is None]
    assert not not_run, f"{name}: code cells {not_run} did not run"
    assert not context.guard.take(), "JupyterLab requested another host"
    page.close()
