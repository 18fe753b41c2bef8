"""One look for every figure: light/dark themes, CJK text without manual font setup, one-call saving.

Importing this module registers a CJK font as a *fallback* family, so Chinese tokens (Tang poems, jieba
words) render in every matplotlib figure: Latin text keeps DejaVu Sans, and each glyph DejaVu lacks is
drawn from the CJK font. The font is an installed one (Noto Sans CJK, Source Han Sans, WenQuanYi, ...) or,
when none is installed, the Noto Sans CJK SC file that the ``mplfonts`` package ships. We only *read* that
file; we never run ``mplfonts init``, which rewrites matplotlib's own installation.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import matplotlib

from lmlab.i18n import lang

# installed families known to cover simplified Chinese, best first
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Sarasa Gothic SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
    "SimHei", "Noto Sans CJK JP", "Droid Sans Fallback",
)
MPLFONTS_FILE = "NotoSansCJKsc-Regular.otf"

# Okabe–Ito: distinguishable for colour-blind readers and in grey-scale print
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
_BASE = {
    "figure.dpi": 100, "savefig.dpi": 100, "savefig.bbox": "tight", "figure.figsize": (6.0, 3.6),
    "font.size": 10, "axes.titlesize": 11, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.3, "lines.linewidth": 1.6, "legend.frameon": False,
    "image.cmap": "viridis", "svg.fonttype": "path", "axes.unicode_minus": False,
}
THEMES: dict[str, dict[str, Any]] = {
    "light": {"figure.facecolor": "white", "axes.facecolor": "white", "savefig.facecolor": "white",
              "text.color": "#222222", "axes.labelcolor": "#222222", "axes.edgecolor": "#444444",
              "xtick.color": "#444444", "ytick.color": "#444444", "grid.color": "#888888"},
    "dark": {"figure.facecolor": "#1e1e1e", "axes.facecolor": "#1e1e1e", "savefig.facecolor": "#1e1e1e",
             "text.color": "#e6e6e6", "axes.labelcolor": "#e6e6e6", "axes.edgecolor": "#aaaaaa",
             "xtick.color": "#cccccc", "ytick.color": "#cccccc", "grid.color": "#777777",
             "legend.labelcolor": "#e6e6e6"},
}
DARK_PALETTE = ("#56B4E9", "#E69F00", "#009E73", "#F0E442", "#CC79A7", "#D55E00", "#0072B2", "#FFFFFF")


def _mplfonts_file() -> Path | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec("mplfonts")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / MPLFONTS_FILE
    return path if path.exists() else None


@functools.lru_cache(maxsize=1)
def find_cjk_font() -> tuple[str, str] | None:
    """(family name, file) of a CJK font: an installed one first, else the file mplfonts ships."""
    from matplotlib import font_manager

    by_name = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in by_name and "mplfonts" not in by_name[family]:
            return family, by_name[family]
    path = _mplfonts_file()
    if path is None:
        return None
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name(), str(path)


def ensure_cjk_font() -> str | None:
    """Add the CJK font to matplotlib's fallback chain; returns its family name (None: none found)."""
    found = find_cjk_font()
    if found is None:
        return None
    family = found[0]
    rc = matplotlib.rcParams
    sans = [f for f in rc["font.sans-serif"] if f != family]
    rc["font.sans-serif"] = sans[:1] + [family] + sans[1:]
    families = [f for f in rc["font.family"] if f != family]
    if lang() == "zh":  # the Chinese edition: CJK first, so the words around $math$ in a label draw too
        rc["font.family"] = [family, *families]  # (mathtext takes one font for them; this one has Latin)
    else:
        rc["font.family"] = [*families, family]  # per-glyph fallback: DejaVu first, CJK for what it lacks
    return family


def use_lab_style(theme: str = "light") -> str | None:
    """Apply the lab's look (``"light"`` or ``"dark"``) and the CJK fallback; returns the CJK family."""
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}; use 'light' or 'dark'")
    from cycler import cycler

    rc = matplotlib.rcParams
    rc.update(_BASE)
    rc.update(THEMES[theme])
    rc["axes.prop_cycle"] = cycler(color=list(DARK_PALETTE if theme == "dark" else PALETTE))
    rc["font.family"] = ["sans-serif"]
    return ensure_cjk_font()


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int | None = None) -> Path:
    """Save a figure as .png (small, for notebooks and slides), .svg or .pdf; the folder is created.

    Written atomically: if the write fails (a full disk), the previous file at ``path`` is intact."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".png", ".svg", ".pdf"}:
        raise ValueError(f"cannot save a figure as {path.name!r}; use .png, .svg or .pdf "
                         "(animations: lmlab.viz.animate.save_animation(..., 'name.gif'))")
    # no timestamps or software tags: the same figure gives the same bytes
    metadata = {".png": {"Software": None}, ".svg": {"Date": None}, ".pdf": {"CreationDate": None}}[suffix]
    from lmlab.atomic import atomic_write

    with atomic_write(path, "wb") as f:  # a failed write leaves the previous figure whole
        fig.savefig(f, format=suffix[1:], dpi=dpi or matplotlib.rcParams["savefig.dpi"], metadata=metadata)
    return path


ensure_cjk_font()
