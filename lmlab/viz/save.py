"""One call saves anything a notebook draws, for slides: ``save(thing, "name.png")``.

The suffix picks the format. A matplotlib figure: .png, .svg, .pdf. An attention or embedding view (anything
with ``save``): .html as well. A list of figures or a matplotlib animation: .gif or .mp4. A ``Projector``:
.html (the offline page) or a static .png/.svg of its PCA view.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def save(thing: Any, path: str | os.PathLike, *, fps: int = 5, dpi: int | None = None) -> Path:
    """Save ``thing`` to ``path`` in the format its suffix names; returns the path written."""
    from matplotlib.animation import Animation
    from matplotlib.figure import Figure

    from lmlab.viz.animate import ANIMATION_FORMATS, save_animation, save_frames
    from lmlab.viz.style import save_figure

    path = Path(path)
    suffix = path.suffix.lower()
    if isinstance(thing, Animation):
        return save_animation(thing, path, fps=fps, dpi=dpi or 80)
    if isinstance(thing, Sequence) and thing and all(isinstance(f, Figure) for f in thing):
        return save_frames(thing, path, fps=fps, dpi=dpi or 80)
    if suffix in ANIMATION_FORMATS and not hasattr(thing, "frames"):
        raise ValueError(f"{path.name!r} is an animation format; pass a list of figures, a matplotlib "
                         "animation or a recorder with frames(), or save this as .png / .svg")
    if isinstance(thing, Figure) or hasattr(thing, "savefig"):
        return save_figure(thing, path, dpi=dpi)
    if hasattr(thing, "save_html") and hasattr(thing, "figure"):  # the embedding Projector
        if suffix == ".html":
            return Path(thing.save_html(path))
        return save_figure(thing.figure("pca", 2), path, dpi=dpi)
    if hasattr(thing, "frames") and suffix in ANIMATION_FORMATS:
        return save_frames(thing.frames(), path, fps=fps, dpi=dpi or 80)
    if hasattr(thing, "save"):  # attention views and recorders: .html / .png / .svg
        return Path(thing.save(path))
    raise TypeError(f"cannot save a {type(thing).__name__}; pass a matplotlib figure, a view with .save(), "
                    "a list of figures or an animation")
