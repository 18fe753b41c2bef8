"""HTML plumbing shared by every attention view: escaping, JSON inside <script>, and one ``save``.

Token text comes from users and corpora, so it is escaped everywhere it meets HTML: a token
``<script>alert(1)</script>`` shows as text, in a notebook, in a saved file and on a static site.
"""

from __future__ import annotations

import html
import json
import os
import uuid
from pathlib import Path
from typing import Any

from lmlab.i18n import N_, _

SAVE_FORMATS = (".html", ".png", ".svg")


def esc(text: Any) -> str:
    """Text for HTML content or attribute values: & < > " ' become entities."""
    return html.escape(str(text), quote=True)


def script_json(obj: Any) -> str:
    """JSON that is safe inside <script>: no '</script>', '<!--' or '&' can appear literally."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def new_id(prefix: str) -> str:
    """A DOM id unique on the page, so several views can live in one notebook."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def html_document(body: str, title: str) -> str:
    """A complete offline page: UTF-8, no external resource."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{esc(title)}</title>\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n</head>\n"
            "<body style=\"margin:16px;background:#fff;color:#222;\">\n"
            f"{body}\n</body>\n</html>\n")


def note_html(note: str) -> str:
    """A visible remark above a view (cropping, averaging)."""
    if not note:
        return ""
    return ('<div class="lmlab-note" style="font:13px sans-serif;color:#8a5300;background:#fff6e0;'
            f'border-left:3px solid #e0a000;padding:4px 8px;margin:4px 0;">{esc(note)}</div>')


class View:
    """A picture that shows itself in a notebook and saves to .html, .png or .svg with one call."""

    title = N_("attention")

    def to_html(self) -> str:
        """A self-contained HTML fragment (no network, no require.js)."""
        raise NotImplementedError

    def figure(self) -> Any:
        """The same picture as a matplotlib Figure, for slides and papers."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        maps = getattr(self, "maps", None)
        size = (f": {maps.n_layer} layers x {maps.n_head} heads, {maps.n_tokens} tokens"
                if maps is not None else "")
        return f"<{type(self).__name__} ({self.title}{size}); .save('x.html' | 'x.png' | 'x.svg')>"

    def save(self, path: str | os.PathLike, dpi: int | None = None) -> Path:
        """Write ``path``; the suffix picks the format: .html (self-contained, offline), .png or .svg."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in SAVE_FORMATS:
            raise ValueError(f"cannot save a view as {path.name!r}; use a name ending in "
                             f"{', '.join(SAVE_FORMATS)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".html":
            from lmlab.atomic import atomic_write

            with atomic_write(path) as f:  # all or nothing: a failed write leaves the previous file
                f.write(html_document(self.to_html(), _(self.title)))
            return path
        from lmlab.viz.style import save_figure

        fig = self.figure()
        save_figure(fig, path, dpi=dpi)
        return path
