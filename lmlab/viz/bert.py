"""Pictures for the BERT notebook: the learning curve with its intervals, fill-in-the-blank guesses as
bars (and a widget to type lines), a layer probe."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.ticker import MaxNLocator, PercentFormatter

from lmlab.i18n import N_, _
from lmlab.viz.style import ensure_cjk_font

ensure_cjk_font()  # Chinese labels draw with a CJK font, not boxes

METHOD_STYLE = {"fine-tuned": ("C0", "o"), "random init": ("C3", "s"), "linear probe": ("C2", "^")}
# the names lmlab.models.bert.finetune gives its methods and metrics, as a learner reads them
SHOWN_NAMES = {"fine-tuned": N_("fine-tuned"), "random init": N_("random init"),
               "linear probe": N_("linear probe"), "macro_f1": N_("macro-F1"), "accuracy": N_("accuracy"),
               "balanced_accuracy": N_("balanced accuracy")}


def plot_learning_curve(rows: Sequence[dict[str, Any]], *, metric: str = "macro_f1",
                        chance: float | None = None, title: str = "", ax: Any = None) -> Any:
    """Score against the number of labels (log scale), one line per method, 95% bootstrap bars."""
    from matplotlib.figure import Figure

    if ax is None:
        ax = Figure(figsize=(5, 3.2), dpi=90, layout="constrained").subplots()
    for method, (color, marker) in METHOD_STYLE.items():
        own = sorted((r for r in rows if r["method"] == method), key=lambda r: r["n_labels"])
        if not own:
            continue
        n = [r["n_labels"] for r in own]
        y = [r[metric] for r in own]
        err = [[v - r[f"{metric}_lo"] for v, r in zip(y, own, strict=True)],
               [r[f"{metric}_hi"] - v for v, r in zip(y, own, strict=True)]]
        ax.errorbar(n, y, yerr=err, color=color, marker=marker, capsize=3,
                    label=_(SHOWN_NAMES.get(method, method)))
    if chance is not None:
        ax.axhline(chance, color="0.6", linestyle=":", label=_("chance"))
    ax.set(xscale="log", xlabel=_("training labels"),
           ylabel=_(SHOWN_NAMES.get(metric, metric.replace("_", "-"))), title=title)
    ticks = sorted({r["n_labels"] for r in rows})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.legend(fontsize=8)
    return ax.figure


SHOWN_AS = {"\n": N_("↵ newline"), " ": N_("␣ space"), "\t": N_("⇥ tab"), "\u3000": N_("␣ ideographic space")}


def readable_token(token: str) -> str:
    """A token as a learner can read it on a bar or in a list: a newline is ``↵ newline``, not ``\\n``."""
    if token in SHOWN_AS:
        return _(SHOWN_AS[token])
    if token.isprintable():
        return token
    return repr(token)[1:-1]  # other control characters: their escape, at least visible


def plot_fill(text: str, guesses: Sequence[Sequence[tuple[str, float]]], *, ax: Any = None) -> Any:
    """Horizontal bars of the top-k guesses, one group per [MASK]; each axis fits its probabilities and
    every bar carries its percentage."""
    from matplotlib.figure import Figure

    n = len(guesses)
    if ax is None:
        fig = Figure(figsize=(3.2 * n, 2.4), dpi=90, layout="constrained")
        axes = fig.subplots(1, n, squeeze=False)[0]
    else:
        axes = [ax]
    for i, (a, top) in enumerate(zip(axes, guesses, strict=False)):
        tokens, probs = [t for t, _ in top][::-1], [p for _, p in top][::-1]
        bars = a.barh(range(len(tokens)), probs, color="C0")
        a.bar_label(bars, labels=[f"{p:.1%}" for p in probs], padding=2, fontsize=8)
        # a barely trained model guesses 0.4 %: a 0-1 axis would look empty, so the axis fits the bars
        a.set(yticks=range(len(tokens)), yticklabels=[readable_token(t) for t in tokens],
              xlim=(0, min(1.0, 1.3 * max(probs, default=1.0)) or 1.0),
              xlabel=_("probability"), title=f"[MASK] {i + 1}" if n > 1 else text)
        a.xaxis.set_major_locator(MaxNLocator(3))
        a.xaxis.set_major_formatter(PercentFormatter(1.0))
    if n > 1:
        axes[0].figure.suptitle(text, fontsize=10)
    return axes[0].figure


def fill_mask_widget(model: Any, vocab: Any, *, value: str = "床前明[MASK]光，疑是地上霜。",
                     k: int = 5) -> Any:
    """Type a line with [MASK] in it; the top-k guesses and their probabilities appear below.

    Returns the widget (a cell's last value shows it; call ``display()`` on it elsewhere)."""
    import ipywidgets as widgets

    from lmlab.models.bert.fill import fill_mask

    box = widgets.Text(value=value, description="line:", layout=widgets.Layout(width="420px"),
                       continuous_update=False)
    out = widgets.Output()

    def show(_change: Any = None) -> None:
        out.clear_output(wait=True)
        with out:
            try:
                guesses = fill_mask(model, vocab, box.value, k=k)
            except ValueError as err:  # bad input: one line, in the widget
                print(f"error: {err}")
                return
            for i, top in enumerate(guesses, 1):
                print(f"[MASK] {i}: " + "   ".join(f"{readable_token(t)} {p:.1%}" for t, p in top))

    box.observe(show, names="value")
    show()
    return widgets.VBox([box, out])


def plot_layer_probe(results: dict[str, Sequence[float]], *, chance: dict[str, float] | None = None,
                     ax: Any = None) -> Any:
    """Probe accuracy per layer (0 = embeddings), one line per question; dotted: chance (1/K)."""
    from matplotlib.figure import Figure

    if ax is None:
        ax = Figure(figsize=(4.5, 3), dpi=90, layout="constrained").subplots()
    for i, (question, accs) in enumerate(results.items()):
        ax.plot(range(len(accs)), accs, marker="o", color=f"C{i}", label=question)
        if chance and question in chance:
            ax.axhline(chance[question], color=f"C{i}", linestyle=":", linewidth=1)
    ax.set(xlabel=_("layer (0 = embeddings)"), ylabel=_("balanced accuracy (held out)"), ylim=(0, 1.02))
    ax.legend(fontsize=8)
    return ax.figure
