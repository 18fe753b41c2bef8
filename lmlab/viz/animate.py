"""Animations as GIFs (Pillow, no ffmpeg needed): from a FuncAnimation, or from a list of figures."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _gif_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"animations are saved as GIF; got {path.name!r}, use a name ending in .gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_animation(animation: Any, path: str | os.PathLike, *, fps: int = 5, dpi: int = 80) -> Path:
    """Save a ``matplotlib.animation.Animation`` as a GIF with Pillow's writer."""
    from matplotlib.animation import PillowWriter

    from lmlab.atomic import atomic_write

    path = _gif_path(path)
    # the writer opens the file by name and reads the format from its ending: the temporary ends in .gif
    with atomic_write(path, "wb", suffix=".part.gif") as f:  # a failed write leaves the previous GIF whole
        part = Path(f.name)
        f.close()  # atomic_write renames it over path once the save succeeded
        animation.save(part, writer=PillowWriter(fps=fps), dpi=dpi)
    return path


def figures_to_gif(figures: Iterable[Any], path: str | os.PathLike, *, fps: int = 5, dpi: int = 80,
                   loop: int = 0) -> Path:
    """Join figures (e.g. one per training snapshot) into a looping GIF; each figure becomes a frame."""
    from PIL import Image

    path = _gif_path(path)
    frames = []
    for fig in figures:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        buf.seek(0)
        frames.append(Image.open(buf).convert("RGB"))
    if not frames:
        raise ValueError("figures_to_gif got no figures; pass at least one")
    size = frames[0].size
    # bbox='tight' can change a frame's size by a pixel; a GIF needs one size
    frames = [f if f.size == size else f.resize(size) for f in frames]
    frames = [f.quantize(colors=128, method=Image.Quantize.MEDIANCUT) for f in frames]
    from lmlab.atomic import atomic_write

    with atomic_write(path, "wb") as f:  # a failed write leaves the previous GIF whole
        frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 / fps),
                       loop=loop, optimize=True)
    return path
