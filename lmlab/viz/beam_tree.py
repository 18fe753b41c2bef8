"""A beam search drawn as a tree: one column per step, the kept prefixes as nodes (with their total
log-probability), a line to each node's parent, the hypotheses that ended with </s> in red."""

from __future__ import annotations

from typing import Any

from lmlab.i18n import _


def beam_tree_figure(tree: Any, vocab: Any, title: str = "beam search") -> Any:
    """A matplotlib Figure of ``lmlab.models.seq2seq.decode.BeamTree``."""
    from matplotlib.figure import Figure

    from lmlab.viz.style import ensure_cjk_font

    ensure_cjk_font()  # Chinese tokens get a font

    width = max([len(s) for s in tree.steps] + [1])
    fig = Figure(figsize=(1.2 + 1.3 * (len(tree.steps) + 1), 0.8 + 0.7 * width), dpi=100,
                 layout="constrained")
    ax = fig.subplots()
    ax.scatter([0], [0], color="#555555")
    ax.annotate("<s>", (0, 0), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=9)
    prev_y = [0.0]  # y of each kept node of the previous step
    for t, (kept, ended) in enumerate(zip(tree.steps, tree.ended, strict=True), start=1):
        ys = [-i for i in range(len(kept))]
        for (parent, token, logp), y in zip(kept, ys, strict=True):
            ax.plot([t - 1, t], [prev_y[parent], y], color="#0072B2", linewidth=1)
            ax.scatter([t], [y], color="#0072B2", zorder=3)
            ax.annotate(f"{vocab.token(token)} {logp:.2f}", (t, y), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=9)
        for k, (parent, logp) in enumerate(ended):
            y = prev_y[parent] + 0.35 + 0.2 * k
            ax.plot([t - 1, t - 0.35], [prev_y[parent], y], color="#D55E00", linewidth=1, linestyle="--")
            ax.annotate(f"</s> {logp:.2f}", (t - 0.35, y), color="#D55E00", fontsize=8, ha="center")
        prev_y = ys
    ax.set_xticks(range(len(tree.steps) + 1))
    ax.set_xlabel(_("output position"))
    ax.set_yticks([])
    ax.set_title(title + _(" (label: token, total log p; red: ended with </s>)"), fontsize=10)
    return fig
