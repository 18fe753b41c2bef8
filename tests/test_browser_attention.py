"""Attention views in a real browser with the network cut: Debian's Chromium, headless, via Playwright.

Every request that is not 127.0.0.1, file: or data: is blocked and recorded. We check that token labels
are drawn (SVG text), in three places: a saved HTML file holding several views, a page that mimics the
classic notebook (require.js and its own jQuery already loaded), and JupyterLab 4 running notebook 04.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from lmlab.cli.lab import free_port

ROOT = Path(__file__).resolve().parent.parent
EVIL = "</script><script>window.__pwned=1</script>"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _maps():
    from lmlab.viz.attention import as_attention_maps

    torch.manual_seed(0)
    tokens = ["床", "前", "明", "月", "光", EVIL, "Ġthe", "⏎"]
    w = torch.softmax(torch.randn(2, 3, 8, 8), -1).tril()
    return as_attention_maps(w / w.sum(-1, keepdim=True), tokens, causal=True)


def _svg_texts(page, root: str) -> list[str]:
    return page.eval_on_selector_all(f"{root} svg text", "els => els.map(e => e.textContent)")


def test_saved_page_with_several_views_draws_offline(offline, tmp_path):
    from lmlab.viz.attention import NextTokenView, grid_view, head_view, model_view
    from lmlab.viz.attention._html import html_document

    maps = _maps()
    views = [head_view(maps), head_view(maps, layer=1), model_view(maps), grid_view(maps, head=2),
             NextTokenView(torch.tensor([2.0, 1.0, 0.5]), ["a", EVIL, "詩"])]
    path = tmp_path / "views.html"
    path.write_text(html_document("".join(v.to_html() for v in views), "views"), encoding="utf-8")
    head_view(maps).save(tmp_path / "single.html")

    page = offline.page()
    page.goto(path.as_uri())
    page.wait_for_function("() => document.querySelectorAll('.lmlab-head_view svg text').length >= 32")
    heads = page.locator(".lmlab-head_view")
    assert heads.count() == 2
    for k in range(2):  # each head view draws its own 2 x 8 token labels (bertviz #45: several views)
        texts = heads.nth(k).locator("svg text").all_text_contents()
        assert texts.count("床") == 2 and texts.count(EVIL) == 2 and " the" in texts
    page.wait_for_function("() => document.querySelectorAll('.lmlab-model_view svg rect').length > 6")
    grid = _svg_texts(page, ".lmlab-grid-view")
    assert "layer 0, head 2 (row: query, column: key)" in grid and grid.count(EVIL) == 2
    bars = page.locator(".lmlab-next-token .lmlab-bars .lmlab-token").all_text_contents()
    assert bars[:3] == ["a", EVIL, "詩"]
    assert page.evaluate("() => window.__pwned") is None  # the token was text, never markup
    # interactive: the grid's head-average checkbox redraws the detail with the mean of heads
    page.locator(".lmlab-grid-view .lmlab-avg").check()
    assert "layer 0, mean of heads (row: query, column: key)" in _svg_texts(page, ".lmlab-grid-view")

    single = offline.page()
    single.goto((tmp_path / "single.html").as_uri())
    single.wait_for_function("() => document.querySelectorAll('svg text').length >= 16")
    assert offline.blocked == [] and offline.errors == []


def test_view_in_a_classic_notebook_page(offline, tmp_path):
    """Classic notebook pages already have require.js and their own jQuery: both must keep working."""
    from lmlab.viz.attention import head_view
    from lmlab.viz.attention._assets import JQUERY, package_file

    require = package_file("nbclassic", "static/components/requirejs/require.js", "require.js")
    jquery = package_file(*JQUERY)
    page_html = tmp_path / "classic.html"
    page_html.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><script src="{jquery.as_uri()}"></script>'
        f'<script src="{require.as_uri()}"></script></head><body><div id="output"></div></body></html>',
        encoding="utf-8")
    page = offline.page()
    page.goto(page_html.as_uri())
    page.evaluate("() => { window.pageJQuery = window.jQuery; define('probe', [], () => 42); }")
    # the classic notebook inserts HTML outputs with jQuery, which runs their scripts
    page.evaluate("html => window.$('#output').html(html)", head_view(_maps()).to_html())
    page.wait_for_function("() => document.querySelectorAll('#output svg text').length >= 16")
    assert page.evaluate("() => window.jQuery === window.pageJQuery && window.$ === window.pageJQuery")
    assert page.evaluate("() => new Promise(ok => require(['probe'], v => ok(v)))") == 42
    assert offline.blocked == [] and offline.errors == []



@pytest.fixture
def lab_url(tmp_path):
    """``lmlab lab --no-browser --port P`` on a copy of notebook 04, offline preset smoke; yields the URL."""
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / "04_attention.ipynb", work)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LMLAB_", "JUPYTER_"))}
    env.update(HOME=str(home), LMLAB_PRESET="smoke", LMLAB_OFFLINE="1", LMLAB_DEVICE="cpu",
               CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    log_path = tmp_path / "lab.log"
    log = log_path.open("w+")
    cmd = [sys.executable, "-m", "lmlab", "lab", "--no-browser", "--port", str(free_port()),
           "--dir", str(work)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, "lmlab lab exited early:\n" + log_path.read_text()
            match = re.search(r"open (http://127\.0\.0\.1:\d+/lab\?token=\S+)", log_path.read_text())
            if match:
                try:
                    with urllib.request.urlopen(match.group(1).replace("/lab?", "/api/status?"), timeout=5):
                        break
                except OSError:
                    pass
            time.sleep(1)
        else:
            pytest.fail("JupyterLab did not come up in 120 s:\n" + log_path.read_text())
        yield match.group(1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_notebook_04_draws_bertviz_in_jupyterlab(offline, lab_url, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = offline.page()
    page.goto(lab_url.replace("/lab?", "/lab/tree/04_attention.ipynb?"), wait_until="domcontentloaded",
              timeout=120_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    idle = ("() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status')"
            " === 'idle'")
    page.wait_for_function(idle, timeout=120_000)
    # the last cell lists the exported files: every cell has run (cells far below the viewport may be
    # rendered lazily, so we look for the text in the DOM rather than for a visible element)
    done = ("() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')]"
            ".some(e => e.textContent.includes('steps.png'))")
    dialog = page.locator(".jp-Dialog")

    def answer_kernel_dialog() -> bool:
        """A fresh JupyterLab may ask which kernel to use: keep Python 3 (the dialog's default)."""
        if not dialog.count():
            return False
        text = dialog.first.inner_text()
        assert "kernel" in text.lower(), f"unexpected dialog in JupyterLab: {text}"
        dialog.first.locator(".jp-mod-accept").click()
        page.wait_for_function(idle, timeout=120_000)
        return True

    for _ in range(10):  # the question comes shortly after the notebook opens, if at all
        if answer_kernel_dialog():
            break
        time.sleep(1)
    need_run, deadline = True, time.monotonic() + 600
    while not page.evaluate(done):
        if answer_kernel_dialog():
            need_run = True  # the kernel changed under a running notebook: run everything again
        if need_run:
            try:
                page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click(timeout=5_000)
                menu = page.locator(".lm-Menu .lm-Menu-item")
                menu.filter(has_text=re.compile(r"^Run All Cells")).first.click(timeout=5_000)
                need_run = False
            except PlaywrightTimeout:
                pass  # a dialog opened in between: the next round answers it, then runs all
        if time.monotonic() > deadline:
            page.screenshot(path=str(tmp_path / "lab04-failed.png"))
            tracebacks = page.locator(".jp-Notebook .jp-OutputArea-output", has_text="Traceback")
            pytest.fail("notebook 04 did not finish in JupyterLab in 600 s"
                        + (": " + tracebacks.first.text_content() if tracebacks.count() else ""))
        time.sleep(3)
    page.wait_for_function(idle, timeout=120_000)
    page.screenshot(path=str(tmp_path / "lab04.png"))

    gpt_view = page.locator(".jp-Notebook .lmlab-head_view").first
    labels = gpt_view.locator("svg text").all_text_contents()
    assert len(labels) >= 2 * 30 and all(len(t) <= 1 or t in "⏎␣" for t in labels)  # characters
    minilm = page.locator(".jp-Notebook .lmlab-head_view", has_text="all-MiniLM-L6-v2").first
    assert {"[CLS]", "cat", "[SEP]", "happy"} <= set(minilm.locator("svg text").all_text_contents())
    assert minilm.locator("select#filter option").count() == 5  # the sentence-pair filter
    assert page.locator(".jp-Notebook .lmlab-model_view svg rect").count() > 72
    assert page.locator(".jp-Notebook .lmlab-grid-view .lmlab-detail svg text").count() > 10
    errors = page.locator(".jp-Notebook .jp-OutputArea-output[data-mime-type="
                          "'application/vnd.jupyter.stderr']", has_text="Traceback")
    assert errors.count() == 0, errors.first.inner_text()
    # JupyterLab's own bundles (/static/) may log an error of their own (e.g. around the kernel dialog);
    # any error raised by a script in an output cell shows no /static/ frame
    ours = [e for e in offline.errors if "/static/" not in e]
    assert ours == [], ours
    assert all("127.0.0.1" not in u for u in offline.blocked)
