"""A real browser on the real lab: the README's ``lmlab lab`` JupyterLab on 127.0.0.1, Debian's Chromium
headless through Playwright, every request beyond 127.0.0.1 blocked. It opens notebook 00, runs all cells and
waits for the live training view, an ipywidgets control and image outputs to appear in the page."""

from __future__ import annotations

import contextlib
import json
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

from lmlab.cli.lab import free_port

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = ("Chromium is needed for the browser test: install Debian's package with "
                "'sudo apt-get install -y chromium' "
                "(python3 scripts/bootstrap.py test does it when run as root)")

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return found



@pytest.fixture
def lab_url(tmp_path):
    """Start ``lmlab lab --no-browser --port P`` on a copy of notebook 00; yield the printed URL."""
    with _lab(tmp_path, ["00_welcome"]) as (url, _log):
        yield url


@contextlib.contextmanager
def _lab(tmp_path: Path, notebooks: list[str]):
    """``lmlab lab --no-browser --port P`` on copies of ``notebooks``: (the printed URL, the log's path)."""
    work = tmp_path / "notebooks"
    work.mkdir()
    for name in notebooks:  # the browser saves; keep the repo clean
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", work)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LMLAB_", "JUPYTER_"))}
    env.update(HOME=str(home), LMLAB_PRESET="smoke", LMLAB_OFFLINE="1", LMLAB_DEVICE="cpu",
               CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(ROOT))
    port = free_port()
    log = (tmp_path / "lab.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "lmlab", "lab", "--no-browser", "--port", str(port),
                             "--dir", str(work)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, "lmlab lab exited early:\n" + (tmp_path / "lab.log").read_text()
            text = (tmp_path / "lab.log").read_text()
            match = re.search(r"open (http://127\.0\.0\.1:\d+/lab\?token=\S+)", text)
            if match:
                url = match.group(1)
                try:
                    status = url.replace("/lab?", "/api/status?")
                    with urllib.request.urlopen(status, timeout=5) as resp:  # noqa: S310 - localhost
                        if resp.status == 200:
                            break
                except OSError:
                    pass
            time.sleep(1)
        else:
            pytest.fail("JupyterLab did not come up in 120 s:\n" + (tmp_path / "lab.log").read_text())
        yield url, tmp_path / "lab.log"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the lab and the JupyterLab server it started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_notebook_runs_in_a_real_browser(lab_url, tmp_path):
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def only_localhost(route):
        if re.match(r"^(https?|wss?)://127\.0\.0\.1(:\d+)?/", route.request.url) or \
                route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    notebook_url = lab_url.replace("/lab?", "/lab/tree/00_welcome.ipynb?")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-background-networking",
                                          "--disable-dev-shm-usage"])
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.route("**/*", only_localhost)
            page.goto(notebook_url, wait_until="domcontentloaded", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            # the kernel must be connected before "Run All" means anything
            page.wait_for_function(
                "() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status')"
                " === 'idle'", timeout=120_000)
            _run_all_and_check(page, tmp_path)
        finally:
            browser.close()
    # the lab worked with every outside request refused; list them for whoever reads the log
    print(f"blocked {len(blocked)} requests beyond 127.0.0.1: {sorted(set(blocked))[:10]}")


def _run_all_and_check(page, tmp_path: Path) -> None:
    try:
        _run_all_and_check_inner(page, tmp_path)
    except BaseException:
        # leave evidence: what the page showed when the wait gave up
        page.screenshot(path=str(tmp_path / "failure.png"))
        text = page.locator("body").text_content() or ""
        (tmp_path / "failure.txt").write_text(text)
        print(f"page text at failure (screenshot: {tmp_path / 'failure.png'}):\n{text[-3000:]}")
        raise


def _accept_kernel_dialog(page, wait_ms: int) -> None:
    """JupyterLab may ask which kernel to start; the notebook's own (Python 3) is the default choice."""
    accept = page.locator(".jp-Dialog button.jp-mod-accept")
    try:
        accept.wait_for(timeout=wait_ms)
    except Exception:  # no dialog: the kernel started by itself
        return
    accept.click()


def _run_all_and_check_inner(page, tmp_path: Path) -> None:
    _accept_kernel_dialog(page, 5_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu .lm-Menu-item").filter(
        has_text=re.compile(r"^Run All Cells")).first.click()
    _accept_kernel_dialog(page, 10_000)

    outputs = page.locator(".jp-Notebook .jp-OutputArea-output")
    live = outputs.filter(has_text=re.compile(r"live view · iteration \d+"))
    live.first.wait_for(timeout=240_000)
    page.locator(".jp-Notebook .widget-slider").first.wait_for(timeout=240_000)
    # the last cell's Chinese bar chart: all cells ran
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-OutputArea-output img').length >= 4",
        timeout=240_000)
    page.wait_for_function(
        "() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status')"
        " === 'idle'", timeout=120_000)
    page.screenshot(path=str(tmp_path / "lab.png"), full_page=False)

    # the live view: one PNG image right above its status line, in the training cell
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="run = start(BigramRecipe(")
    assert cell.locator(".jp-OutputArea-output img").count() == 1
    # text_content, not inner_text: JupyterLab skips rendering cells scrolled out of view
    assert re.search(r"live view · iteration 60 · train loss \d", cell.text_content() or "")
    src = cell.locator(".jp-OutputArea-output img").first.get_attribute("src") or ""
    assert src.startswith("data:image/png") or src.startswith("blob:")
    assert page.locator(".jp-Notebook .widget-slider").count() >= 1
    errors = page.locator(".jp-Notebook .jp-OutputArea-output[data-mime-type="
                          "'application/vnd.jupyter.stderr']", has_text="Traceback")
    assert errors.count() == 0, errors.first.text_content()
    assert "✗ welcome.uniform_loss" in (page.locator(".jp-Notebook").text_content() or "")


# --- notebooks 06 and 07 as a newcomer meets them: no pink stderr box, every widget once, a quiet server ---

# widgets a cell shows: (cell source marker, CSS selector of one widget part, how many of it the cell shows)
WIDGETS = {
    "06_seq2seq": [("button.on_click(answer)", ".widget-button", 1)],
    "07_bert": [("fill_mask_widget(zh_model", ".widget-text", 1),
                ("fill_mask_widget(en_model", ".widget-text", 1),
                ("projector.widget()", ".widget-dropdown", 1)],
}
SERVER_NOISE = ("is not trusted", "without encryption", "websocket_ping_timeout", "Traceback")


@pytest.mark.timeout(1800)  # two whole notebooks in a real browser; each has its own 900-s wait below
def test_notebooks_06_and_07_show_no_stderr_and_each_widget_once(tmp_path):
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with _lab(tmp_path, list(WIDGETS)) as (url, log), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-background-networking",
                                          "--disable-dev-shm-usage"])
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.route("**/*", lambda route: route.continue_() if re.match(
                r"^(https?|wss?)://127\.0\.0\.1(:\d+)?/|^(data|blob):", route.request.url) else route.abort())
            for name, widgets in WIDGETS.items():
                try:
                    _run_notebook(page, url.replace("/lab?", f"/lab/tree/{name}.ipynb?"))
                    _check_notebook(page, name, widgets)
                except BaseException:
                    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=False)
                    print(f"{name}: page at failure in {tmp_path / f'{name}.png'}")
                    raise
                _shut_down_kernels(url)  # one notebook's kernel at a time on a small machine
        finally:
            browser.close()
        text = log.read_text()
        noise = [n for n in SERVER_NOISE if n in text]
        assert not noise, f"the lab's log has {noise}:\n{text[-3000:]}"


def _run_notebook(page, notebook_url: str) -> None:
    page.goto(notebook_url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    idle = ("() => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) "
            ".jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') === 'idle'")
    page.wait_for_function(idle, timeout=120_000)
    _accept_kernel_dialog(page, 3_000)
    assert page.locator(".jp-toast-container", has_text="Jupyter news").count() == 0, "the news toast is back"
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu .lm-Menu-item").filter(has_text=re.compile(r"^Run All Cells")).first.click()
    # done when no cell waits or runs ([*] or an empty prompt) and the kernel is idle; the smoke preset on a
    # loaded 2-core machine takes minutes
    page.wait_for_function(
        "() => { const p = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim());"
        " return p.length > 0 && p.every(t => /^\\[\\d+\\]:$/.test(t)); }", timeout=900_000)
    page.wait_for_function(idle, timeout=120_000)


def _check_notebook(page, name: str, widgets: list[tuple[str, str, int]]) -> None:
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    stderr = panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    boxes = [stderr.nth(i).text_content() for i in range(stderr.count())]
    assert not boxes, f"{name}: {len(boxes)} stderr box(es): {[b[:300] for b in boxes]}"
    for marker, selector, n in widgets:
        cell = panel.locator(".jp-CodeCell", has_text=marker)
        assert cell.count() == 1, f"{name}: {cell.count()} cells contain {marker!r}"
        shown = cell.locator(f".jp-OutputArea-output {selector}").count()
        assert shown == n, f"{name}: the cell with {marker!r} shows {shown} of {selector}, not {n}"
    if name == "06_seq2seq":  # the couplet widget answered, with characters or a note saying why not
        answer = panel.locator(".jp-CodeCell", has_text="button.on_click(answer)").locator(
            ".jp-OutputArea-output", has_text="→").first.text_content() or ""
        line = next(s for s in answer.splitlines() if "→" in s)
        assert line.split("→", 1)[1].strip() or "note:" in answer, f"a silent empty answer: {answer!r}"
    if name == "07_bert":
        projector = panel.locator(".jp-CodeCell", has_text="projector.widget()")
        points = projector.locator("svg g#lmlab-points > path").count()
        named = projector.locator("svg g#lmlab-points > path > title").count()
        assert points > 10 and named == points, f"{named} of the projector's {points} points named on hover"
        view = panel.locator(".lmlab-model_view svg").first
        height = view.evaluate("e => e.getBoundingClientRect().height")
        assert 100 < height < 1000, f"bertviz's model view of 2 x 2 heads is {height:.0f} px tall"


def _shut_down_kernels(url: str) -> None:
    base, token = url.split("/lab?token=")
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{base}/api/kernels", headers=headers),  # noqa: S310
                                timeout=10) as r:
        kernels = json.loads(r.read())
    for k in kernels:
        urllib.request.urlopen(urllib.request.Request(f"{base}/api/kernels/{k['id']}", method="DELETE",  # noqa: S310
                                                      headers=headers), timeout=30).close()
