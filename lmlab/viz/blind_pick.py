"""A blind pick for a class: each 上联 with its answers from several systems, shuffled and unnamed.

The class votes for the answer it likes best (A, B, C …) without knowing who wrote it; the reveal says
which system wrote each answer and how many votes each system got. When two systems wrote the same line it
is shown once, under one letter, and its votes count for both (two identical lines would split the hands
between them). The shuffle is seeded, so a teacher who prepared the slides with ``seed=3`` gets the same
letters in class::

    pick = blind_pick(sources[:10], {"lookup_table": ..., "nearest_pair": ..., "transformer": ...}, seed=3)
    pick.widget()              # buttons to count hands, a reveal button
    print(pick.text())         # or pick.html(): the same rows for a projector, pick.html(reveal=True) after
"""

from __future__ import annotations

import html as _html
import random
from dataclasses import dataclass, field

from lmlab.errors import UsageError
from lmlab.i18n import N_, _

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# how the reveal names the systems whose keys lmlab's own functions return (baseline_answers, notebook 06)
SYSTEM_NAMES = {
    "copy_source": N_("copy the source"),
    "nearest_pair": N_("retrieval (nearest training pair)"),
    "lookup_table": N_("lookup table"),
    "transformer": N_("Transformer"),
    "transformer + rules": N_("Transformer + rules (mask)"),
    "reference (poets)": N_("the poets"),
}


def system_name(key: str) -> str:
    """The learner-facing name of a system key (the key itself when lmlab does not know it)."""
    return _(SYSTEM_NAMES[key]) if key in SYSTEM_NAMES else key


@dataclass
class BlindPick:
    """Rows of anonymous answers; ``order[i][j]`` are the systems behind letter ``LETTERS[j]`` of row ``i``
    (one system, or several that wrote the same line)."""

    sources: list[str]
    answers: dict[str, list[str]]
    seed: int
    order: list[list[tuple[str, ...]]]
    votes: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.votes:
            self.votes = [[0] * len(row) for row in self.order]

    def row(self, i: int) -> list[tuple[str, str]]:
        """Row ``i`` as the class sees it: (letter, answer) pairs, no system names."""
        return [(LETTERS[j], self.answers[names[0]][i]) for j, names in enumerate(self.order[i])]

    def _index(self, i: int, letter: str) -> int:
        if not 0 <= i < len(self.sources):
            raise UsageError(_("row {i} does not exist; rows run from 0 to {last}").format(
                i=i, last=len(self.sources) - 1))
        letters = LETTERS[: len(self.order[i])]
        j = letters.find(str(letter).upper()) if len(str(letter)) == 1 else -1  # not "AB", not ""
        if j < 0:
            raise UsageError(_("answer {letter!r} does not exist in row {i}; give one of {letters}").format(
                letter=letter, i=i, letters=", ".join(letters)))
        return j

    def vote(self, i: int, letter: str, n: int = 1) -> int:
        """Add ``n`` votes (hands) to ``letter`` of row ``i`` (a negative ``n`` corrects a miscount)."""
        j = self._index(i, letter)
        self.votes[i][j] = max(0, self.votes[i][j] + n)
        return self.votes[i][j]

    def reveal(self, i: int) -> dict[str, tuple[str, ...]]:
        """Which systems wrote each answer of row ``i``: letter -> system keys (several: the same line)."""
        self._index(i, "A")
        return dict(zip(LETTERS, self.order[i], strict=False))

    def tallies(self) -> dict[str, int]:
        """The class's votes per system over every row; a line several systems wrote counts for each."""
        out = dict.fromkeys(self.answers, 0)
        for groups, counts in zip(self.order, self.votes, strict=True):
            for names, count in zip(groups, counts, strict=True):
                for name in names:
                    out[name] += count
        return out

    def reset(self) -> None:
        """Forget every vote (a new class, the same rows)."""
        self.votes = [[0] * len(row) for row in self.order]

    # -- the printable versions ---------------------------------------------------------------------------

    def _who(self, i: int, j: int) -> str:
        return " + ".join(system_name(name) for name in self.order[i][j])

    def _cell(self, i: int, j: int, reveal: bool) -> str:
        text = f"{LETTERS[j]}  {self.answers[self.order[i][j][0]][i]}"
        if reveal:
            text += f"  ({self._who(i, j)}, {self.votes[i][j]})"
        return text

    def text(self, reveal: bool = False) -> str:
        """The rows as plain text for ``print``; ``reveal=True`` adds the systems, votes and tallies."""
        head = _("first line (上联)")
        title = _("A blind pick: which answer is the best second line? (seed {seed})")
        lines = [title.format(seed=self.seed)]
        for i, source in enumerate(self.sources):
            cells = "   ".join(self._cell(i, j, reveal) for j in range(len(self.order[i])))
            lines.append(f"{i + 1:2d}. {head}: {source}   {cells}")
        if reveal:
            lines.append(self._tally_line())
        return "\n".join(lines)

    def _tally_line(self) -> str:
        parts = ", ".join(f"{system_name(k)} {v}" for k, v in self.tallies().items())
        return _("the class's votes per system: {tallies}").format(tallies=parts)

    def html(self, reveal: bool = False) -> str:
        """The rows as an HTML table (``IPython.display.HTML``), large enough for a projector."""
        esc = _html.escape
        header = "".join(f"<th>{c}</th>" for c in LETTERS[: max(map(len, self.order))])
        rows = []
        for i, source in enumerate(self.sources):
            cells = []
            for j, names in enumerate(self.order[i]):
                who = (f"<br><small>{esc(self._who(i, j))} · "
                       f"{esc(_('{n} votes').format(n=self.votes[i][j]))}</small>") if reveal else ""
                cells.append(f"<td>{LETTERS[j]}  {esc(self.answers[names[0]][i])}{who}</td>")
            rows.append(f"<tr><td>{i + 1}</td><td><b>{esc(source)}</b></td>{''.join(cells)}</tr>")
        tally = f"<p>{esc(self._tally_line())}</p>" if reveal else ""
        return (f"<table style='font-size:1.4em'><tr><th></th><th>{esc(_('first line (上联)'))}</th>"
                f"{header}</tr>{''.join(rows)}</table>{tally}")

    # -- the widget ---------------------------------------------------------------------------------------

    def widget(self):
        """Per 上联 one button per anonymous answer (a click is a hand: +1), a reveal button and a reset."""
        import ipywidgets as widgets

        counts: list[list[widgets.Label]] = []
        rows = []
        for i, source in enumerate(self.sources):
            labels, cells = [], []
            for j, (letter, answer) in enumerate(self.row(i)):
                button = widgets.Button(description=f"{letter}  {answer}",
                                        layout=widgets.Layout(width="180px"))
                label = widgets.Label(str(self.votes[i][j]), layout=widgets.Layout(width="40px"))
                button.on_click(lambda _b, i=i, letter=letter, label=label: label.set_trait(
                    "value", str(self.vote(i, letter))))
                labels.append(label)
                cells += [button, label]
            counts.append(labels)
            head = widgets.Label(f"{i + 1}. {source}", layout=widgets.Layout(width="140px"))
            rows.append(widgets.HBox([head, *cells]))
        shown = widgets.Output()
        reveal = widgets.Button(description=_("reveal"), button_style="warning")
        reset = widgets.Button(description=_("reset the votes"))

        def on_reveal(_b) -> None:
            from IPython.display import HTML, display

            shown.clear_output()
            with shown:
                display(HTML(self.html(reveal=True)))

        def on_reset(_b) -> None:
            self.reset()
            for labels in counts:
                for label in labels:
                    label.value = "0"
            shown.clear_output()

        reveal.on_click(on_reveal)
        reset.on_click(on_reset)
        intro = widgets.Label(_("Count the hands for each answer (one click = one vote), then reveal."))
        return widgets.VBox([intro, *rows, widgets.HBox([reveal, reset]), shown])


def blind_pick(sources: list[str], answers: dict[str, list[str]], seed: int = 0) -> BlindPick:
    """Shuffle each row's answers with ``seed`` (same seed, same letters) into a :class:`BlindPick`."""
    sources = list(sources)
    if not sources:
        raise UsageError(_("no 上联 to vote on: give at least one source line"))
    if len(answers) < 2:
        raise UsageError(_("a blind pick needs at least two systems' answers, got {n}: add another "
                           "system to the answers dict").format(n=len(answers)))
    if len(answers) > len(LETTERS):
        raise UsageError(_("{n} systems are too many to letter; give at most {most}").format(
            n=len(answers), most=len(LETTERS)))
    for name, outputs in answers.items():
        if isinstance(outputs, str):
            raise UsageError(_("system {name!r} gives one string, not a list of answers; give a list with "
                               "one answer per source").format(name=name))
        if len(outputs) != len(sources):
            raise UsageError(_("system {name!r} has {got} answers for {n} sources; give one answer per "
                               "source (cut both lists to the same rows)").format(
                name=name, got=len(outputs), n=len(sources)))
    rng = random.Random(seed)
    order = []
    for i in range(len(sources)):
        names = list(answers)
        rng.shuffle(names)
        groups: dict[str, list[str]] = {}  # answer -> the systems that wrote it, in shuffled order
        for name in names:
            groups.setdefault(answers[name][i], []).append(name)
        order.append([tuple(group) for group in groups.values()])
    return BlindPick(sources, {k: list(v) for k, v in answers.items()}, seed, order)
