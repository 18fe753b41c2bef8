"""Embedding views: projections, static figures (with Chinese labels), evolution GIF, HTML projector, CLI."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from lmlab.models.word2vec import WordVectors
from lmlab.viz.embeddings import (
    Projector,
    evolution_frames,
    evolution_gif,
    parse_query,
    pca,
    plot_analogies,
    plot_neighbors,
    plot_words,
    project,
    save_projector_html,
    svg_with_names,
)
from lmlab.viz.style import save_figure


def vectors(n: int = 40, dim: int = 10, seed: int = 0) -> WordVectors:
    rng = np.random.default_rng(seed)
    words = ["king", "queen", "man", "woman", "春", "夏", "秋", "冬"] + [f"w{i}" for i in range(n - 8)]
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    rows[1] = rows[0] - rows[2] + rows[3]  # queen = king - man + woman
    return WordVectors(words, rows)


def test_pca_recovers_the_dominant_direction():
    rng = np.random.default_rng(1)
    X = np.outer(rng.normal(size=200), [3.0, 4.0, 0.0]) + 0.01 * rng.normal(size=(200, 3))
    coords, mean, comps = pca(X, 2)
    np.testing.assert_allclose(np.abs(comps[0]), [0.6, 0.8, 0.0], atol=1e-2)
    assert coords.shape == (200, 2) and coords[:, 0].var() > 100 * coords[:, 1].var()


@pytest.mark.parametrize("method,dim", [("pca", 2), ("pca", 3), ("tsne", 2)])
def test_project_shapes(method, dim):
    wv = vectors()
    assert project(wv, wv.words, method=method, dim=dim).shape == (40, dim)


def test_project_bad_input_is_named():
    wv = vectors()
    with pytest.raises(ValueError, match="unknown projection 'mds'"):
        project(wv, wv.words, method="mds")
    with pytest.raises(KeyError, match="'emperor' is not in the vocabulary"):
        project(wv, ["king", "emperor", "man"])


@pytest.mark.parametrize("dim", [2, 3])
def test_static_views_save_png_and_svg_with_chinese_labels(tmp_path, dim):
    wv = vectors()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "Glyph ... missing from font" warning fails the test
        fig = plot_words(project(wv, wv.words, dim=dim), wv.words,
                         groups={"seasons": ["春", "夏", "秋", "冬"], "royal": ["king", "queen"]})
        png = save_figure(fig, tmp_path / f"w{dim}.png")
        svg = save_figure(fig, tmp_path / f"w{dim}.svg")
    assert png.stat().st_size > 5_000 and svg.stat().st_size < 2_000_000


def test_neighbors_and_analogy_figures(tmp_path):
    wv = vectors()
    fig = plot_neighbors(wv, "king", topn=5)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][-1] == wv.most_similar("king", topn=1)[0][0]
    fig = plot_analogies(wv, [("man", "king", "woman")])
    assert "man:king :: woman:queen" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    save_figure(fig, tmp_path / "a.png")


def test_evolution_frames_share_the_last_basis_and_make_a_gif(tmp_path):
    rng = np.random.default_rng(0)
    final = rng.normal(size=(6, 5)).astype(np.float32)
    snaps = [(0.0, 0.01 * rng.normal(size=(6, 5))), (0.5, final / 2), (1.0, final)]
    frames = evolution_frames(snaps, list("abcdef"))
    np.testing.assert_allclose(frames[1], frames[2] / 2, atol=1e-5)  # same axes: a scaled map stays put
    gif = evolution_gif(snaps, list("abcdef"), tmp_path / "evo.gif")
    from PIL import Image

    assert Image.open(gif).n_frames == 3
    with pytest.raises(ValueError, match="no snapshots"):
        evolution_frames([], [])


def test_projector_queries_and_html(tmp_path):
    wv = vectors()
    p = Projector(wv, n=20, groups={"seasons": ["春", "夏", "秋", "冬"]})
    asked, near = p.query("king - man + woman", topn=3)
    assert asked == ["king", "woman", "man"] and near[0][0] == "queen"
    with pytest.raises(ValueError, match="has no word"):
        p.query(" - ")
    p.figure("pca", 3, query="king")
    fig = p.figure("pca", 2, query="king - man + woman")  # analogy: two arrows, each ending in a star
    assert len([line for line in fig.axes[0].lines if line.get_color() == "#D55E00"]) == 2
    path = save_projector_html(wv, wv.words[:20], tmp_path / "p.html", groups={"royal": ["king", "queen"]})
    page = path.read_text(encoding="utf-8")
    data = json.loads(re.search(r"const D=(\{.*?\});\n", page).group(1))
    assert data["words"][:2] == ["king", "queen"] and len(data["xyz"][0]) == 3
    assert data["neighbors"]["king"][0][0] == wv.most_similar("king", topn=1)[0][0]
    assert "http" not in page  # offline: no scripts or fonts fetched
    path = save_projector_html(wv, wv.words[:6], tmp_path / "a.html", analogies=[("man", "king", "woman")])
    data = json.loads(re.search(r"const D=(\{.*?\});\n", path.read_text(encoding="utf-8")).group(1))
    (a, b, c, d, score), = data["analogies"]
    assert (a, b, c) == ("man", "king", "woman") and d == wv.most_similar(["king", "woman"], ["man"], 1)[0][0]
    assert {a, b, c, d} <= set(data["words"]) and -1 <= score <= 3  # the analogy's words join the map
    with pytest.raises(KeyError, match="'emperor' is not in the vocabulary"):
        save_projector_html(wv, wv.words[:6], tmp_path / "b.html", analogies=[("man", "emperor", "woman")])


def test_cli_viz_embeddings(tmp_path, capsys):
    from lmlab.cli import main

    vec = vectors().save_word2vec_format(tmp_path / "v.txt")
    assert main(["viz", "embeddings", str(vec), "--words", "king,queen;春,夏", "--top", "20",
                 "-o", str(tmp_path / "w.png")]) == 0
    assert (tmp_path / "w.png").stat().st_size > 5_000
    assert main(["viz", "embeddings", str(vec), "--top", "30", "-o", str(tmp_path / "p.html")]) == 0
    assert "const D=" in (tmp_path / "p.html").read_text(encoding="utf-8")
    assert main(["viz", "embeddings", str(vec), "--words", "king,emperor",
                 "-o", str(tmp_path / "x.png")]) == 2
    assert "'emperor' is not in" in capsys.readouterr().err
    assert main(["viz", "embeddings", str(vec), "-o", str(tmp_path / "x.jpg")]) == 2
    assert main(["viz", "embeddings", str(vec), "--top", "10", "--analogies", "man:king::woman",
                 "-o", str(tmp_path / "an.html")]) == 0
    assert '"analogies": [["man", "king", "woman"' in (tmp_path / "an.html").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["viz", "embeddings", str(vec), "--analogies", "man:king:woman",
                 "-o", str(tmp_path / "y.html")]) == 2
    assert "is not written a:b::c" in capsys.readouterr().err
    assert main(["viz", "embeddings", str(vec), "--analogies", "man:king::woman",
                 "-o", str(tmp_path / "y.png")]) == 2
    assert "use -o FILE.html" in capsys.readouterr().err


def test_projector_keeps_hyphenated_words_whole():
    rng = np.random.default_rng(1)
    words = ["well-known", "famous", "well", "known", "king", "man", "woman", "queen", "x-ray", "light"]
    wv = WordVectors(words, rng.normal(size=(len(words), 6)).astype(np.float32))
    p = Projector(wv, n=10)
    asked, near = p.query("well-known", topn=3)
    assert asked == ["well-known"] and "well-known" not in [w for w, _ in near]
    assert near == wv.most_similar("well-known", topn=3)  # one word, not well − known
    assert p.query("x-ray - light + famous")[0] == ["x-ray", "famous", "light"]
    # without spaces, a hyphen between known words that is not itself a word still subtracts
    assert p.query("king-man+woman")[0] == ["king", "woman", "man"]
    assert parse_query("king -man +woman", wv.index) == (["king", "woman"], ["man"])
    with pytest.raises(KeyError, match="'ill-known'"):  # an unknown hyphenated word is named whole
        p.query("ill-known")
    fig = p.figure("pca", 2, query="well-known")  # one word: highlighted, no analogy arrows
    assert not [line for line in fig.axes[0].lines if line.get_color() == "#D55E00"]


def test_a_crowded_projector_labels_a_readable_subset():
    rng = np.random.default_rng(1)
    names = [f"{'ABC'[i % 3]}{i}·床前明月光疑是" for i in range(120)]
    wv = WordVectors(names, rng.normal(size=(120, 16)).astype(np.float32))
    groups = {p: [n for n in names if n.startswith(p)] for p in "ABC"}
    p = Projector(wv, names, groups=groups, max_labels=30, placeholder="a poem's label")
    fig = p.figure("pca", 2)
    texts = fig.axes[0].texts
    assert 5 <= len(texts) <= 30  # not 120 labels on top of each other
    renderer = fig._get_renderer()
    boxes = [t.get_window_extent(renderer=renderer) for t in texts]
    overlapping = sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert overlapping == 0, f"{overlapping} pairs of labels overlap"
    # a query's answers are always labelled
    asked = p.figure("pca", 2, query=names[7]).axes[0].texts
    assert any(t.get_text().strip() == names[7] for t in asked)
    svg = svg_with_names(p.figure("pca", 2), p.words)  # the rest are named on hover
    assert svg.startswith("<svg") and svg.count("<title>") == 120 and f"<title>{names[99]}</title>" in svg
    pytest.importorskip("ipywidgets")
    assert p.widget().children[0].children[2].placeholder == "a poem's label"
    assert Projector(vectors(), n=10).placeholder == "a word, or king - man + woman"
