"""Animations as GIF (Pillow) or MP4 (the ffmpeg that the imageio-ffmpeg package ships, not a system one):
from a ``FuncAnimation``, or from a list of figures (one per frame)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ANIMATION_FORMATS = (".gif", ".mp4")


def _animation_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() not in ANIMATION_FORMATS:
        raise ValueError(f"animations are saved as GIF or MP4; got {path.name!r}, use a name ending in "
                         ".gif or .mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def ffmpeg_exe() -> str:
    """The ffmpeg binary inside the imageio-ffmpeg package (no system ffmpeg needed)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise FileNotFoundError("MP4 needs the imageio-ffmpeg package: pip install imageio-ffmpeg "
                                "(or save as .gif)") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def save_animation(animation: Any, path: str | os.PathLike, *, fps: int = 5, dpi: int = 80) -> Path:
    """Save a ``matplotlib.animation.Animation`` as .gif (Pillow) or .mp4 (packaged ffmpeg)."""
    import matplotlib
    from matplotlib.animation import FFMpegWriter, PillowWriter

    from lmlab.atomic import atomic_write

    path = _animation_path(path)
    gif = path.suffix.lower() == ".gif"
    # the writer opens the file by name and reads the format from its ending: the temporary keeps it
    with atomic_write(path, "wb", suffix=".part" + path.suffix) as f:  # a failed write keeps the old file
        part = Path(f.name)
        f.close()  # atomic_write renames it over path once the save succeeded
        if gif:
            animation.save(part, writer=PillowWriter(fps=fps), dpi=dpi)
        else:
            with matplotlib.rc_context({"animation.ffmpeg_path": ffmpeg_exe()}):
                animation.save(part, writer=FFMpegWriter(fps=fps, codec="libx264",
                                                         extra_args=["-pix_fmt", "yuv420p"]), dpi=dpi)
    return path


def _frames(figures: Iterable[Any], dpi: int) -> list[Any]:
    from PIL import Image

    frames = []
    for fig in figures:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        buf.seek(0)
        frames.append(Image.open(buf).convert("RGB"))
    if not frames:
        raise ValueError("no figures to animate; pass at least one")
    size = frames[0].size
    # bbox='tight' can change a frame's size by a pixel; a video needs one size (even, for H.264)
    size = (size[0] - size[0] % 2, size[1] - size[1] % 2)
    return [f if f.size == size else f.resize(size) for f in frames]


def save_frames(figures: Iterable[Any], path: str | os.PathLike, *, fps: int = 5, dpi: int = 80,
                loop: int = 0) -> Path:
    """Join figures (e.g. one per training snapshot) into a looping .gif or an .mp4; one figure per frame."""
    from lmlab.atomic import atomic_write

    path = _animation_path(path)
    frames = _frames(figures, dpi)
    if path.suffix.lower() == ".gif":
        from PIL import Image

        frames = [f.quantize(colors=128, method=Image.Quantize.MEDIANCUT) for f in frames]
        with atomic_write(path, "wb") as f:  # a failed write leaves the previous GIF whole
            frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 / fps),
                           loop=loop, optimize=True)
        return path
    import imageio_ffmpeg
    import numpy as np

    ffmpeg_exe()  # a clear message when the package is missing
    with atomic_write(path, "wb", suffix=".part.mp4") as f:  # ffmpeg writes by name; renamed when done
        part = f.name
        f.close()
        writer = imageio_ffmpeg.write_frames(part, frames[0].size, fps=fps, codec="libx264",
                                             pix_fmt_out="yuv420p", macro_block_size=2)
        writer.send(None)  # start ffmpeg
        try:
            for frame in frames:
                writer.send(np.ascontiguousarray(np.asarray(frame)))
        finally:
            writer.close()
    return path


def figures_to_gif(figures: Iterable[Any], path: str | os.PathLike, *, fps: int = 5, dpi: int = 80,
                   loop: int = 0) -> Path:
    """Join figures into a looping GIF (``save_frames`` also writes .mp4)."""
    if Path(path).suffix.lower() != ".gif":
        raise ValueError(f"figures_to_gif writes GIF; got {Path(path).name!r}: use a .gif name, or "
                         "save_frames(...) for .mp4")
    return save_frames(figures, path, fps=fps, dpi=dpi, loop=loop)
