"""``lmlab site``: one command runs the notebooks and writes self-contained HTML a class browses offline."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.cli.site import math_svg, notebook_paths, render_math

ROOT = Path(__file__).resolve().parent.parent
REMOTE = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


@pytest.fixture
def bare(monkeypatch, tmp_path):
    """A fresh machine: empty home, no mirror, offline, CPU."""
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith("LMLAB_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    monkeypatch.setenv("LMLAB_DEVICE", "cpu")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return tmp_path


@pytest.mark.slow
def test_site_executes_and_renders_a_self_contained_page(bare, capsys):
    out = bare / "site"
    assert main(["site", "00_welcome", "--preset", "smoke", "--teacher", "--out", str(out)]) == 0
    page = (out / "00_welcome.html").read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="00_welcome.html"' in index and "Welcome to lmlab" in index and "smoke" in index
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', page)) >= 3  # figures are inline
    assert "live view · iteration 60" in page  # executed, with the live view's final state
    assert "not available here; using the built-in offline corpus" in page
    assert not REMOTE.search(page), REMOTE.search(page)
    assert "cdnjs" not in page  # no script imports from a CDN either
    assert 'class="lmlab-math"' in page  # formulas drawn as inline SVG
    assert "teacher build" in page
    assert "return math.log(vocab_size)" in page  # the teacher build shows the reference solution
    assert "interactive control is here" in page and "interactive(children=" not in page
    assert "executed in preset smoke" in page
    assert "00_welcome" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.browser
def test_site_page_loads_in_a_browser_with_no_network_request(bare):
    chromium = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if not chromium:
        pytest.fail("Chromium is needed: 'sudo apt-get install -y chromium' "
                    "(python3 scripts/bootstrap.py test installs it when run as root)", pytrace=False)
    out = bare / "site"
    assert main(["site", "00_welcome", "--no-execute", "--out", str(out)]) == 0
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto((out / "00_welcome.html").as_uri(), wait_until="load")
            page.wait_for_timeout(500)
            assert page.locator("img.lmlab-math").count() >= 5
            widths = page.eval_on_selector_all("img.lmlab-math", "els => els.map(e => e.naturalWidth)")
            assert all(w > 0 for w in widths)  # every formula picture decodes
            assert "Welcome to lmlab" in page.locator("h1").first.text_content()
            assert "student build" in page.locator(".lmlab-banner").text_content()
        finally:
            browser.close()
    outside = [u for u in requests if not u.startswith(("file:", "data:", "blob:"))]
    assert not outside, outside


def test_render_math_keeps_code_and_prices_and_draws_formulas():
    md = "cost $5 and $6; `x = $y$` stays; inline $\\alpha_t$ and\n$$\\frac{1}{N}\\sum_t x_t$$"
    out = render_math(md)
    assert "`x = $y$`" in out
    assert "cost $5 and $6" in out
    assert out.count('class="lmlab-math"') == 2
    assert math_svg(r"\begin{unknown}", display=False) is None  # unsupported TeX is left as text


def test_unknown_notebook_is_named(tmp_path):
    (tmp_path / "00_a.ipynb").write_text("{}")
    with pytest.raises(ValueError, match=r"no notebook '99_x'.*00_a"):
        notebook_paths(tmp_path, ["99_x"])
    with pytest.raises(FileNotFoundError, match="no notebooks"):
        notebook_paths(tmp_path / "empty", [])
    assert main(["site", "--notebooks", str(tmp_path), "99_x", "--out", str(tmp_path / "s")]) == 2


def _tiny_notebook(folder: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny\n\nnegatives from unigram$^{0.75}$, prices $5 and $6"),
                nbformat.v4.new_code_cell("from tqdm.auto import tqdm\n"
                                          "for _ in tqdm(range(40), desc='steps'):\n    pass")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "00_tiny.ipynb")


@pytest.mark.slow
def test_site_shows_final_progress_bars_inline_math_and_no_kernel_warning(bare, capfd):
    notebooks = bare / "nbs"
    _tiny_notebook(notebooks)
    out = bare / "site"
    assert main(["site", "--notebooks", str(notebooks), "--preset", "smoke", "--out", str(out)]) == 0
    page = (out / "00_tiny.html").read_text(encoding="utf-8")
    bars = [dict(re.findall(r'(\w+)="([\d.]+)"', attrs)) for attrs in re.findall(r"<progress([^>]*)>", page)]
    assert bars and all(float(b["value"]) == float(b["max"]) == 40 for b in bars), bars  # 100 %, not 0 %
    assert "40/40" in page and not re.search(r"(?<!\d)0/40", page)
    assert 'alt="^{0.75}"' in page and "unigram$^{0.75}$" not in page  # inline math after a word
    assert "prices $5 and $6" in page
    logs = capfd.readouterr()
    assert "without encryption" not in logs.out + logs.err
    assert "without encryption" not in page
