"""Word vectors as pictures: projections (PCA, t-SNE, UMAP if installed) in 2-D or 3-D, labelled and
grouped; neighbours; analogy arrows; how the map evolves during training (GIF); an interactive projector.

Every static view is a matplotlib figure (``save_figure(fig, "words.png")``); ``Projector`` is the
notebook widget and ``save_projector_html`` the same projector as one offline HTML file.

    coords = project(wv, words, method="tsne", dim=2)
    fig = plot_words(coords, words, groups={"seasons": ["spring", "summer"]})
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lmlab.choices import PROJECTIONS
from lmlab.i18n import _
from lmlab.viz.style import ensure_cjk_font

ensure_cjk_font()  # Chinese labels draw with a CJK font, not boxes

METHODS = PROJECTIONS  # lmlab.choices: the CLI offers the same


def _rows(vectors: Any, words: Sequence[str]) -> np.ndarray:
    """(N, D) matrix of the given words from WordVectors (or a plain matrix passed with its words)."""
    if isinstance(vectors, np.ndarray):
        if len(vectors) != len(words):
            raise ValueError(f"{len(words)} words but {len(vectors)} vectors; pass one vector per word")
        return vectors.astype(np.float32)
    missing = [w for w in words if w not in vectors.index]
    if missing:
        raise KeyError(f"word {missing[0]!r} is not in the vocabulary ({len(vectors.words)} words); "
                       f"{len(missing)} of the {len(words)} words are missing")
    return vectors.vectors[[vectors.index[w] for w in words]]


def pca(X: np.ndarray, dim: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre X and keep its top ``dim`` principal directions: (coordinates, mean, components)."""
    mean = X.mean(axis=0)
    _, _, Vt = np.linalg.svd(X - mean, full_matrices=False)
    components = Vt[:dim]  # (dim, D)
    # make the sign deterministic: the largest loading of each component is positive
    signs = np.sign(components[np.arange(dim), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    return (X - mean) @ components.T, mean, components


def project(vectors: Any, words: Sequence[str], method: str = "pca", dim: int = 2, seed: int = 0,
            perplexity: float | None = None) -> np.ndarray:
    """(N, dim) coordinates of ``words``: PCA (linear, distances along axes mean something), t-SNE or
    UMAP (non-linear, keep neighbourhoods; distances between clusters mean little)."""
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim}")
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    X = _rows(vectors, words)
    if len(X) < dim + 1:
        raise ValueError(f"need at least {dim + 1} words to project to {dim}-D, got {len(X)}")
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-8)  # cosine geometry
    if method == "pca":
        return pca(X, dim)[0]
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = perplexity or max(2.0, min(30.0, (len(X) - 1) / 3))
        # exact gradients are faster than Barnes-Hut below ~1000 points (and 3-D Barnes-Hut is slow)
        return TSNE(n_components=dim, perplexity=perplexity, init="pca", random_state=seed, metric="cosine",
                    max_iter=500, method="exact" if len(X) <= 1000 else "barnes_hut").fit_transform(X)
    try:
        import umap
    except ImportError as err:
        raise ValueError("method 'umap' needs the umap-learn package (pip install umap-learn); "
                         "use 'pca' or 'tsne'") from err
    return umap.UMAP(n_components=dim, random_state=seed, metric="cosine").fit_transform(X)


def _group_of(words: Sequence[str], groups: Mapping[str, Sequence[str]] | None) -> list[str | None]:
    lookup = {w: g for g, members in (groups or {}).items() for w in members}
    return [lookup.get(w) for w in words]


def plot_words(coords: np.ndarray, words: Sequence[str], *, groups: Mapping[str, Sequence[str]] | None = None,
               highlight: Sequence[str] = (), title: str = "", ax: Any = None, labels: bool = True,
               max_labels: int = 150) -> Any:
    """Scatter of 2-D or 3-D coordinates with word labels; words in ``groups`` are coloured by group."""
    from matplotlib.figure import Figure

    from lmlab.viz.style import PALETTE

    dim = coords.shape[1]
    if ax is None:
        fig = Figure(figsize=(6.5, 5.0), layout="constrained")
        ax = fig.add_subplot(projection="3d" if dim == 3 else None)
    fig = ax.figure
    member = _group_of(words, groups)
    names = list(groups or {})
    colors = ["#bbbbbb" if g is None else PALETTE[names.index(g) % len(PALETTE)] for g in member]
    pts = [coords[:, k] for k in range(dim)]
    points = ax.scatter(*pts, c=colors, s=[28 if g is not None else 10 for g in member],
                        **({"depthshade": False} if dim == 3 else {"linewidths": 0}))
    points.set_gid(POINTS_GID)  # found again in the SVG, to give every point its name on hover
    labelled = [i for i, g in enumerate(member) if g is not None or words[i] in highlight]
    others = [i for i in range(len(words)) if i not in set(labelled)]
    if len(labelled) > max_labels:  # too many to read: the highlighted ones, then a spread-out few
        shown = [i for i in labelled if words[i] in highlight]
        labelled = readable_subset(coords, words, labelled, shown, max_labels)
    labelled += others[: max(0, max_labels - len(labelled))]
    if labels:
        for i in labelled:
            strong = member[i] is not None or words[i] in highlight
            # highlighted words: larger and coloured (the CJK fallback font has no bold face)
            ax.text(*[p[i] for p in pts], f" {words[i]}", fontsize=10 if words[i] in highlight else
                    9 if strong else 7, color="#D55E00" if words[i] in highlight else
                    "#222222" if strong else "#777777")
    for g in names:
        ax.scatter([], [], c=PALETTE[names.index(g) % len(PALETTE)], label=g)
    if names:
        ax.legend(loc="best", fontsize="small")
    ax.set_title(title)
    if dim == 2:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


POINTS_GID = "lmlab-points"


def svg_with_names(fig: Any, words: Sequence[str]) -> str:
    """``fig`` (drawn by :func:`plot_words`, 2-D) as inline SVG in which every point carries its word as a
    ``<title>``: the browser shows it on hover, so the labels left off a crowded map are still there."""
    import io
    import re

    buf = io.StringIO()  # in memory: nothing is written to disk
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # inline in HTML: no XML declaration or DOCTYPE
    start = svg.index(f'<g id="{POINTS_GID}"')
    end = svg.index("</g>", start)
    names = iter(words)

    def titled(m: re.Match) -> str:
        return f"<{m.group(1)}{m.group(2)}><title>{html.escape(next(names, ''))}</title></{m.group(1)}>"

    group = re.sub(r"<(path|use)\b([^>]*?)/>", titled, svg[start:end])
    return svg[:start] + group + svg[end:]


def readable_subset(coords: np.ndarray, labels: Sequence[str], candidates: Sequence[int], keep: Sequence[int],
                    max_labels: int) -> list[int]:
    """At most ``max_labels`` of ``candidates`` whose labels do not overlap: ``keep`` first, then each
    candidate in turn that sits clear of those already chosen (a label runs right from its point)."""
    span = np.ptp(coords[:, :2], axis=0)
    xy = (coords[:, :2] - coords[:, :2].min(axis=0)) / np.where(span > 0, span, 1)
    # a label's width as a share of the axes (the projector's, 9 pt): 1/66 per Latin letter, twice per CJK one
    width = [0.015 * (1 + sum(2 if ord(c) > 0x2E80 else 1 for c in label)) for label in labels]

    def clear(i: int, j: int) -> bool:
        left, right = (i, j) if xy[i, 0] <= xy[j, 0] else (j, i)
        return xy[right, 0] - xy[left, 0] > width[left] or abs(xy[i, 1] - xy[j, 1]) > 0.05

    chosen = list(dict.fromkeys(keep))
    order = np.random.default_rng(0).permutation(len(candidates))  # every group and region gets its turn
    for i in (candidates[k] for k in order):
        if len(chosen) >= max_labels:
            break
        if i not in chosen and all(clear(i, j) for j in chosen):
            chosen.append(i)
    return chosen


def plot_neighbors(vectors: Any, word: str, topn: int = 10, ax: Any = None) -> Any:
    """Horizontal bars: the ``topn`` nearest words to ``word`` by cosine."""
    from matplotlib.figure import Figure

    from lmlab.eval.word_vectors import nearest_neighbors

    pairs = nearest_neighbors(vectors, word, topn)
    if ax is None:
        fig = Figure(figsize=(4.2, 0.28 * topn + 0.8), layout="constrained")
        ax = fig.add_subplot()
    ax.barh([w for w, _ in pairs][::-1], [s for _, s in pairs][::-1], color="#0072B2")
    ax.set(xlabel=_("cosine similarity"), title=_("nearest to {word!r}").format(word=word),
           xlim=(min(0, pairs[-1][1]), 1))
    return ax.figure


def plot_analogies(vectors: Any, analogies: Sequence[tuple[str, str, str]], *, method: str = "pca",
                   extra: Sequence[str] = (), title: str = "a : b :: c : ?", ax: Any = None) -> Any:
    """For each (a, b, c): arrows a→b and c→d, with d = argmax cos(d, b − a + c) (3CosAdd); parallel
    arrows of equal length are what "meaning as geometry" looks like."""
    from matplotlib.figure import Figure

    from lmlab.eval.word_vectors import analogy
    from lmlab.viz.style import PALETTE

    quads = [(a, b, c, analogy(vectors, a, b, c)[0][0]) for a, b, c in analogies]
    words = list(dict.fromkeys([w for q in quads for w in q] + list(extra)))
    coords = project(vectors, words, method=method, dim=2) if method != "pca" else _pca_of(vectors, words)
    at = dict(zip(words, coords, strict=True))
    if ax is None:
        fig = Figure(figsize=(6.0, 4.8), layout="constrained")
        ax = fig.add_subplot()
    ax.scatter(coords[:, 0], coords[:, 1], s=12, c="#999999")
    for k, (a, b, c, d) in enumerate(quads):
        color = PALETTE[k % len(PALETTE)]
        for src, dst, dashed in ((a, b, False), (c, d, True)):
            ax.annotate("", xy=at[dst], xytext=at[src], arrowprops={
                "arrowstyle": "->", "color": color, "lw": 1.6, "linestyle": "--" if dashed else "-"})
        ax.plot([], [], color=color, label=f"{a}:{b} :: {c}:{d}")
    for w, (x, y) in at.items():
        ax.annotate(w, (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
    ax.legend(fontsize="small", loc="best")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax.figure


def _pca_of(vectors: Any, words: Sequence[str]) -> np.ndarray:
    # analogies are linear: project on the PCA of the words themselves, without cosine normalisation
    return pca(_rows(vectors, words), 2)[0]


def evolution_frames(snapshots: Sequence[tuple[float, np.ndarray]], words: Sequence[str]) -> list[np.ndarray]:
    """2-D coordinates of each snapshot, all in the PCA basis of the last one (so the axes stay put
    and the motion shows learning rather than a spinning projection)."""
    if not snapshots:
        raise ValueError("no snapshots: train with snapshot_words=[...] and snapshots_per_epoch > 0")
    _coords, mean, components = pca(snapshots[-1][1], 2)
    frames = []
    for _epoch, rows in snapshots:
        if rows.shape[0] != len(words):
            raise ValueError(f"snapshots hold {rows.shape[0]} words but {len(words)} were given")
        frames.append((rows - rows.mean(axis=0)) @ components.T)
    return frames


def plot_evolution(snapshots: Sequence[tuple[float, np.ndarray]], words: Sequence[str], *,
                   groups: Mapping[str, Sequence[str]] | None = None, step: int = -1,
                   ax: Any = None) -> Any:
    """One frame of the training evolution (``step`` indexes the snapshots); see ``evolution_gif``."""
    frames = evolution_frames(snapshots, words)
    fig = plot_words(frames[step], words, groups=groups, ax=ax,
                     title=_("epoch {epoch:.2f}").format(epoch=snapshots[step][0]))
    lim = np.abs(np.concatenate(frames)).max() * 1.1
    fig.axes[0].set(xlim=(-lim, lim), ylim=(-lim, lim))
    return fig


def evolution_gif(snapshots: Sequence[tuple[float, np.ndarray]], words: Sequence[str],
                  path: str | os.PathLike, *, groups: Mapping[str, Sequence[str]] | None = None,
                  fps: int = 3) -> Path:
    """The evolution as an animation, one frame per snapshot: a looping .gif, or an .mp4 for slides."""
    from lmlab.viz.animate import save_frames

    figs = [plot_evolution(snapshots, words, groups=groups, step=k) for k in range(len(snapshots))]
    return save_frames(figs, path, fps=fps)


def evolution_slider(snapshots: Sequence[tuple[float, np.ndarray]], words: Sequence[str], *,
                     groups: Mapping[str, Sequence[str]] | None = None) -> Any:
    """A notebook slider over the snapshots (ipywidgets); the figure is redrawn as one PNG."""
    import ipywidgets as widgets

    out = widgets.Output()
    slider = widgets.IntSlider(value=len(snapshots) - 1, min=0, max=len(snapshots) - 1,
                               description="snapshot", continuous_update=False)

    def draw(change: Any = None) -> None:
        from IPython.display import display

        out.clear_output(wait=True)
        with out:
            display(plot_evolution(snapshots, words, groups=groups, step=slider.value))

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, out])


def parse_query(text: str, vocabulary: Any = ()) -> tuple[list[str], list[str]]:
    """ "king - man + woman" -> (["king", "woman"], ["man"]): the words added and the words subtracted.

    "+" always separates words. "-" subtracts when it stands apart ("king - man") or starts a word
    ("king -man"); inside a word it is a hyphen ("well-known" stays one word) unless that word is not in
    ``vocabulary`` and all its parts are ("king-man+woman").
    """
    pos: list[str] = []
    neg: list[str] = []
    sign = 1
    for chunk in text.replace("+", " + ").split():
        if chunk in {"+", "-"}:
            sign = 1 if chunk == "+" else -1
            continue
        if chunk.startswith("-") and chunk not in vocabulary:
            sign, chunk = -1, chunk[1:]
        parts = chunk.split("-")
        if chunk in vocabulary or len(parts) == 1 or not all(w and w in vocabulary for w in parts):
            parts = [chunk]  # a hyphenated word, or an unknown one (reported by its whole name)
        for k, word in enumerate(parts):
            (pos if (sign if k == 0 else -1) > 0 else neg).append(word)
        sign = 1
    if not pos:
        raise ValueError(f"query {text!r} has no word to start from; type a word or 'king - man + woman'")
    return pos, neg


class Projector:
    """An embedding projector for the notebook: pick the projection and 2-D/3-D, type a word to see
    its neighbours highlighted, type "king - man + woman" to see the analogy answered."""

    def __init__(self, vectors: Any, words: Sequence[str] | None = None, *, n: int = 300,
                 groups: Mapping[str, Sequence[str]] | None = None, max_labels: int = 60,
                 placeholder: str | None = None) -> None:
        self.vectors = vectors
        self.max_labels = max_labels  # more points than this: a spread-out subset is labelled
        self.placeholder = placeholder if placeholder is not None else _("a word, or king - man + woman")
        self.words = list(words) if words is not None else list(vectors.words[:n])
        self.groups = dict(groups or {})
        for members in self.groups.values():  # group members are always on the map
            self.words += [w for w in members if w in vectors.index and w not in self.words]
        self._coords: dict[tuple[str, int], np.ndarray] = {}

    def coords(self, method: str = "pca", dim: int = 2) -> np.ndarray:
        key = (method, dim)
        if key not in self._coords:
            self._coords[key] = project(self.vectors, self.words, method=method, dim=dim)
        return self._coords[key]

    def query(self, text: str, topn: int = 8) -> tuple[list[str], list[tuple[str, float]]]:
        """Parse "word" or "a - b + c": (the query words, the nearest words by cosine)."""
        pos, neg = parse_query(text, self.vectors.index)
        return pos + neg, self.vectors.most_similar(pos, negative=neg, topn=topn)

    def figure(self, method: str = "pca", dim: int = 2, query: str = "", topn: int = 8) -> Any:
        """The projector's picture for the given settings (what the widget shows)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 5), layout="constrained")
        ax = fig.add_subplot(1, 3, (1, 2), projection="3d" if dim == 3 else None)
        side = fig.add_subplot(1, 3, 3)
        highlight: list[str] = []
        arrows: list[tuple[str, str]] = []
        side.axis("off")
        if query.strip():
            try:
                asked, near = self.query(query, topn)
                pos, neg = parse_query(query, self.vectors.index)
                if len(pos) == 2 and len(neg) == 1:  # "b - a + c": draw a→b and c→answer
                    b, c, a = asked
                    arrows = [(a, b), (c, near[0][0])]
                highlight = [w for w in asked + [w for w, _ in near] if w in self.words]
                side.text(0, 1, f"{query}\n\n" + "\n".join(f"{s:+.3f}  {w}" for w, s in near),
                          va="top", family="monospace", fontsize=10, transform=side.transAxes)
            except (KeyError, ValueError) as err:
                side.text(0, 1, str(err).strip("'\""), va="top", wrap=True, color="#D55E00",
                          transform=side.transAxes)
        coords = self.coords(method, dim)
        plot_words(coords, self.words, groups=self.groups, highlight=highlight, ax=ax,
                   title=_("{n} words, {method} {dim}-D").format(n=len(self.words), method=method.upper(),
                                                                 dim=dim),
                   max_labels=self.max_labels)
        at = {w: coords[i] for i, w in enumerate(self.words)}
        for src, dst in arrows:
            if src in at and dst in at:  # analogy arrows: parallel when the analogy holds
                ax.plot(*[[at[src][k], at[dst][k]] for k in range(dim)], color="#D55E00", lw=1.8)
                ax.scatter(*[[at[dst][k]] for k in range(dim)], marker="*", s=90, color="#D55E00")
        return fig

    def widget(self) -> Any:
        """The interactive version (ipywidgets); the static figure is ``figure(...)``."""
        import ipywidgets as widgets
        from IPython.display import HTML, display

        method = widgets.Dropdown(options=[m for m in METHODS if m != "umap" or _has_umap()],
                                  value="pca", description="projection")
        dim = widgets.ToggleButtons(options=[("2-D", 2), ("3-D", 3)], value=2)
        text = widgets.Text(placeholder=self.placeholder, description="query",
                            layout=widgets.Layout(width="360px"),
                            continuous_update=False)
        out = widgets.Output()

        def draw(change: Any = None) -> None:
            out.clear_output(wait=True)
            with out:
                fig = self.figure(method.value, dim.value, text.value)
                # 2-D: inline SVG, every point named on hover (a PNG cannot); 3-D stays a picture
                display(HTML(svg_with_names(fig, self.words)) if dim.value == 2 else fig)

        for w in (method, dim, text):
            w.observe(draw, names="value")
        draw()
        return widgets.VBox([widgets.HBox([method, dim, text]), out])

    def save_html(self, path: str | os.PathLike, method: str = "pca", dim: int = 3,
                  analogies: Sequence[tuple[str, str, str]] = ()) -> Path:
        """The offline HTML projector of these words; ``analogies`` (a, b, c) are drawn as arrows."""
        return save_projector_html(self.vectors, self.words, path, groups=self.groups, method=method, dim=dim,
                                   analogies=analogies)


def _has_umap() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None


def save_projector_html(vectors: Any, words: Sequence[str], path: str | os.PathLike, *,
                        groups: Mapping[str, Sequence[str]] | None = None, method: str = "pca", dim: int = 3,
                        topn: int = 8, analogies: Sequence[tuple[str, str, str]] = ()) -> Path:
    """One self-contained, offline HTML file: drag to rotate (3-D), wheel to zoom, type a word to see its
    neighbours (computed here over the whole vocabulary and stored in the file). Each analogy (a, b, c)
    is answered here (d = the 3CosAdd answer) and drawn as arrows a→b and c→d; its words join the map."""
    from lmlab.eval.word_vectors import analogy, nearest_neighbors

    path = Path(path)
    if path.suffix.lower() != ".html":
        raise ValueError(f"save_projector_html writes .html, got {path.name!r}")
    quads = []
    for a, b, c in analogies:
        d, score = analogy(vectors, a, b, c)[0]
        quads.append([a, b, c, d, round(float(score), 3)])
    words = list(dict.fromkeys([*words, *(w for q in quads for w in q[:4])]))
    coords = project(vectors, words, method=method, dim=dim)
    coords = coords / max(float(np.abs(coords).max()), 1e-8)
    member = _group_of(words, groups)
    data = {
        "words": words, "xyz": np.round(coords, 4).tolist(), "dim": dim, "method": method,
        "group": member, "groups": list(groups or {}),
        "neighbors": {w: [[n, round(s, 3)] for n, s in nearest_neighbors(vectors, w, topn)] for w in words},
        "analogies": quads,
    }
    template = (Path(__file__).with_name("projector.html")).read_text(encoding="utf-8")
    page = template.replace("/*DATA*/null", json.dumps(data, ensure_ascii=False).replace("</", "<\\/"))
    page = page.replace("{{TITLE}}", html.escape(f"lmlab projector: {len(words)} words, {method.upper()}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    from lmlab.atomic import atomic_write

    with atomic_write(path) as f:  # all or nothing: a failed write leaves the previous file
        f.write(page)
    return path
