"""The offline HTML projector in a real browser (Debian's Chromium, headless, network cut): words with
markup show as text, the analogy is listed and drawn, clicking it selects the answer's neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from lmlab.models.word2vec import WordVectors
from lmlab.viz.embeddings import save_projector_html

pytestmark = [pytest.mark.slow, pytest.mark.browser]

EVIL = "<img src=x onerror=window.__pwned=1>"


def _vectors() -> WordVectors:
    rng = np.random.default_rng(0)
    words = ["king", "queen", "man", "woman", "<unk>", EVIL] + [f"w{i}" for i in range(20)]
    rows = rng.normal(size=(len(words), 8)).astype(np.float32)
    rows[1] = rows[0] - rows[2] + rows[3]  # queen = king - man + woman
    return WordVectors(words, rows)


def test_projector_page_escapes_words_and_draws_the_analogy(offline, tmp_path):
    wv = _vectors()
    path = save_projector_html(wv, wv.words, tmp_path / "p.html", dim=2,
                               analogies=[("man", "king", "woman")])
    page = offline.page()
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('#an li').length === 1")
    assert page.inner_text("#an li").split() == ["■", "man", ":", "king", "::", "woman", ":", "queen",
                                                 page.inner_text("#an li .s")]
    # the arrow man -> king is drawn: pixels of the first palette colour near its middle
    colour = page.evaluate("""() => {
        const [x1, y1] = proj(D.xyz[idx["man"]]), [x2, y2] = proj(D.xyz[idx["king"]]);
        let hits = 0;
        for (const t of [0.3, 0.4, 0.5, 0.6, 0.7]) {
            const x = Math.round(x1 + t * (x2 - x1)), y = Math.round(y1 + t * (y2 - y1));
            const p = ctx.getImageData(x, y, 1, 1).data;
            const near = (v, want) => Math.abs(v - want) < 40;
            if (near(p[0], 0x00) && near(p[1], 0x72) && near(p[2], 0xB2)) hits++;
        }
        return hits;
    }""")
    assert colour >= 3
    page.click("#an li")  # selects the answer: its neighbours are listed
    assert page.input_value("#q") == "queen"
    page.fill("#q", "<unk>")
    page.wait_for_function("document.querySelectorAll('#nn li').length > 0")
    assert page.inner_text("#nn").count("\n") >= 2
    options = page.evaluate("[...document.querySelectorAll('#wl option')].map(o => o.value)")
    assert options == wv.words  # every word, markup included, is a plain value
    page.fill("#q", EVIL)
    page.wait_for_function("document.querySelectorAll('#nn li').length > 0")
    assert page.evaluate("window.__pwned") is None  # markup stays text, never runs
    page.fill("#q", "<b>nope</b>")
    assert page.inner_text("#nn") == "<b>nope</b> is not on this map"
    assert offline.blocked == [] and offline.errors == []
