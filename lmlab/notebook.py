"""One call at the top of every notebook: device, preset and figure style, printed for the reader."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from lmlab.device import Precision, pick_device, pick_precision
from lmlab.presets import resolve_preset


@dataclass(frozen=True)
class LabContext:
    device: torch.device
    precision: Precision
    preset: str
    theme: str = "light"
    cjk_font: str | None = None


def setup(preset: str | None = None, device: str | None = None, seed: int = 1337,
          theme: str | None = None, lang: str | None = None) -> LabContext:
    """Pick device, numerics and preset (argument > $LMLAB_PRESET > device), apply the figure style
    (``theme`` or $LMLAB_THEME: light/dark, CJK font fallback, small PNG figures) and say what was chosen.
    ``lang`` ("en" or "zh", else $LMLAB_LANG) is the language of lmlab's messages and figure labels; the
    Chinese notebooks pass ``lang="zh"``."""
    from lmlab.device import seed_everything
    from lmlab.i18n import _, set_lang
    from lmlab.threads import apply_thread_share
    from lmlab.viz.style import use_lab_style

    if lang is not None:
        set_lang(lang)
    share = apply_thread_share()  # a class server's fair share of the CPU (LMLAB_THREADS, cgroup quota)
    dev = pick_device(device)
    theme = theme or os.environ.get("LMLAB_THEME") or "light"
    cjk = use_lab_style(theme)
    _inline_png()
    ctx = LabContext(device=dev, precision=pick_precision(dev), preset=resolve_preset(preset, dev),
                     theme=theme, cjk_font=cjk)
    seed_everything(seed)
    print(f"lmlab: device={ctx.device.type}, precision={ctx.precision.name}, preset={ctx.preset} "
          + _("(change with LMLAB_PRESET=smoke|class|full)"))
    if share.limited:
        print(_("lmlab: CPU threads: {n} (from {source})").format(n=share.threads, source=share.source))
    if cjk is None:
        print(_("lmlab: note: no CJK font found, Chinese labels will show as boxes; "
                "install fonts-noto-cjk or 'pip install mplfonts'"))
    return ctx


def _inline_png() -> None:
    """Inline figures as PNG: a few kB each, where SVG of a busy plot grows to megabytes."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or "IPKernelApp" not in getattr(shell, "config", {}):
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    shell.run_line_magic("matplotlib", "inline")
    set_matplotlib_formats("png")
