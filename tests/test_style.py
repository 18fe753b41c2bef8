"""Figures: CJK tokens render without missing glyphs, themes apply, saving and GIF export work."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from lmlab.viz import style  # noqa: E402
from lmlab.viz.animate import figures_to_gif, save_animation  # noqa: E402

CHINESE = ["床前", "明月", "光", "疑是", "地上", "霜", "。"]


def _draw_tokens(fig: Figure) -> None:
    ax = fig.subplots()
    ax.bar(range(len(CHINESE)), range(1, len(CHINESE) + 1))
    ax.set_xticks(range(len(CHINESE)), CHINESE)
    ax.set_title("静夜思 — attention to 月")


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_chinese_tokens_render_without_missing_glyphs(tmp_path, suffix):
    family = style.use_lab_style()
    assert family, "no CJK font found: install fonts-noto-cjk or the mplfonts package"
    fig = Figure(figsize=(4, 2.5))
    _draw_tokens(fig)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = style.save_figure(fig, tmp_path / f"poem{suffix}")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing
    assert out.stat().st_size > 0


def test_without_the_fallback_the_same_figure_does_warn(tmp_path):
    """Guards the test above: it would catch a missing glyph if the CJK fallback were absent."""
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig = Figure(figsize=(4, 2.5))
        _draw_tokens(fig)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.savefig(tmp_path / "tofu.png")
    assert any("missing from font" in str(w.message) for w in caught)


def test_cjk_glyphs_are_drawn_with_ink(tmp_path):
    style.use_lab_style()
    fig = Figure(figsize=(1.2, 0.8), dpi=100)
    fig.text(0.1, 0.3, "明月", fontsize=24)
    style.save_figure(fig, tmp_path / "moon.png")
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tofu = Figure(figsize=(1.2, 0.8), dpi=100)
        tofu.text(0.1, 0.3, "明月", fontsize=24)
        tofu.savefig(tmp_path / "tofu.png")
    assert Image.open(tmp_path / "moon.png").tobytes() != Image.open(tmp_path / "tofu.png").tobytes()


def test_themes_and_bad_theme():
    style.use_lab_style("dark")
    assert matplotlib.rcParams["figure.facecolor"] == "#1e1e1e"
    style.use_lab_style("light")
    assert matplotlib.rcParams["figure.facecolor"] == "white"
    with pytest.raises(ValueError, match="'sepia'.*light.*dark"):
        style.use_lab_style("sepia")


def test_save_figure_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"'x\.jpg'.*\.png"):
        style.save_figure(Figure(), tmp_path / "x.jpg")


def test_png_is_small_and_reproducible(tmp_path):
    style.use_lab_style()
    paths = []
    for name in ("a.png", "b.png"):
        fig = Figure()
        fig.subplots().plot([0, 1, 2], [3, 1, 2])
        paths.append(style.save_figure(fig, tmp_path / "sub" / name))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].stat().st_size < 60_000


def test_gif_from_figures_and_from_animation(tmp_path):
    figs = []
    for k in range(3):
        fig = Figure(figsize=(2, 2))
        fig.subplots().plot(range(5), [k * x for x in range(5)])
        figs.append(fig)
    gif = figures_to_gif(figs, tmp_path / "grow.gif", fps=4)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 3

    from matplotlib.animation import FuncAnimation

    fig = Figure(figsize=(2, 2))
    ax = fig.subplots()
    (line,) = ax.plot([], [])
    ax.set(xlim=(0, 4), ylim=(0, 16))
    anim = FuncAnimation(fig, lambda k: line.set_data(range(k + 1), [x * x for x in range(k + 1)]),
                         frames=4)
    gif = save_animation(anim, tmp_path / "anim.gif", fps=4)
    with Image.open(gif) as im:
        assert im.n_frames == 4
    with pytest.raises(ValueError, match="GIF"):
        figures_to_gif(figs, tmp_path / "x.mp4")
