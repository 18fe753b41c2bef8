"""``lmlab grades``: the teacher's view of an nbgrader course after ``nbgrader autograde``.

Scores come from nbgrader's gradebook (``gradebook.db``); which slip each student made comes from the
record :func:`lmlab.exercises.grade.assert_check` leaves in each graded cell of the autograded notebooks. One
table and one figure: per exercise, the share of students who solved it and the most common slips.

    lmlab grades --course class/                      # the table; the figure in class/grades.png
    lmlab grades --course class/ --lang zh --out 成绩.png
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmlab.errors import UsageError
from lmlab.exercises.grade import RECORD_MIME
from lmlab.grading.assign import CONFIG_NAME, exercise_of
from lmlab.i18n import N_, _

OUTCOME_LABELS = {"solved": N_("solved"), "slip": N_("a slip"), "blank": N_("no answer"),
                  "error": N_("raised an error")}


@dataclass
class Result:
    """One student's grade on one exercise, and what went wrong."""

    student: str
    assignment: str
    notebook: str
    exercise: str
    score: float
    max_score: float
    outcome: str  # solved | slip | blank | error
    slip: str | None = None  # which check fired (the checker's line), or the exception type
    message: str | None = None
    messages: dict[str, str] = field(default_factory=dict)  # the slip in each edition: {"en": ..., "zh": ...}


@dataclass
class Row:
    """One exercise over the class."""

    exercise: str
    students: int = 0
    counts: Counter = field(default_factory=Counter)  # outcome -> students
    slips: Counter = field(default_factory=Counter)  # slip key -> students
    messages: dict[str, dict[str, str]] = field(default_factory=dict)  # slip key -> {lang: one message}

    @property
    def solved_share(self) -> float:
        return self.counts["solved"] / self.students if self.students else 0.0

    def common_slips(self, n: int = 3) -> list[tuple[str, int]]:
        """The ``n`` most common slips: (message in the reader's language where recorded, students)."""
        from lmlab.i18n import lang

        def words(key: str) -> str:
            said = self.messages.get(key, {})
            return said.get(lang()) or _(said.get("", "")) or key

        return [(words(key), count) for key, count in self.slips.most_common(n)]


def open_course(course: str | Path) -> Path:
    """The course folder, checked: it exists, nbgrader configured it, and autograde has filled a gradebook."""
    path = Path(course)
    if not path.is_dir():
        raise UsageError(f"course folder {str(path)!r} does not exist; write one with "
                         f"'lmlab assign NOTEBOOK --course {path}'")
    if not (path / CONFIG_NAME).is_file() or not (path / "source").is_dir():
        raise UsageError(f"{str(path)!r} is not an nbgrader course folder (no {CONFIG_NAME} and source/); "
                         f"write one with 'lmlab assign NOTEBOOK --course {path}'")
    if not (path / "gradebook.db").is_file():
        raise UsageError(f"{str(path)!r} has no gradebook.db yet: run 'nbgrader generate_assignment', "
                         "'collect' and 'autograde' in it first")
    return path


def _records(nb_path: Path) -> dict[str, dict[str, Any]]:
    """grade_id -> what lmlab's check recorded in that cell (or the error the cell raised before it)."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    found = {}
    for cell in nb.get("cells", []):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if not grade_id or exercise_of(grade_id) is None:
            continue
        record: dict[str, Any] = {}
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if RECORD_MIME in data:
                record = data[RECORD_MIME]
            elif output.get("output_type") == "error" and not record:
                ename = output.get("ename", "Error")
                record = {"outcome": "error", "slip": ename,
                          "message": f"{ename}: {output.get('evalue', '')}".splitlines()[0]}
        found[grade_id] = record
    return found


def read_results(course: str | Path, assignment: str | None = None) -> list[Result]:
    """Every autograded student's result on every exercise of the course (or of one assignment)."""
    from nbgrader.api import Gradebook, MissingEntry

    path = open_course(course)
    results = []
    with Gradebook(f"sqlite:///{(path / 'gradebook.db').resolve()}") as gb:
        names = [a.name for a in gb.assignments]
        if assignment is not None and assignment not in names:
            raise UsageError(f"assignment {assignment!r} is not in {str(path)!r}'s gradebook; "
                             f"it has: {', '.join(sorted(names)) or 'none'}")
        for name in sorted(names) if assignment is None else [assignment]:
            try:
                submissions = gb.find_assignment(name).submissions
            except MissingEntry:
                continue
            for sub in sorted(submissions, key=lambda s: s.student.id):
                for nb in sub.notebooks:
                    graded = path / "autograded" / sub.student.id / name / f"{nb.name}.ipynb"
                    records = _records(graded) if graded.is_file() else {}
                    for grade in nb.grades:
                        exercise = exercise_of(grade.name)
                        if exercise is None:
                            continue
                        record = records.get(grade.name, {})
                        score = float(grade.score or 0.0)
                        top = float(grade.max_score or 0.0)
                        solved = top > 0 and score >= top
                        outcome = "solved" if solved else record.get("outcome", "blank")
                        if not solved and outcome == "solved":  # a record that says solved, a lower score
                            outcome = "error"
                        results.append(Result(sub.student.id, name, nb.name, exercise, score, top, outcome,
                                              record.get("slip") if not solved else None,
                                              record.get("message") if not solved else None,
                                              record.get("messages", {}) if not solved else {}))
    return results


def check_submissions(course: str | Path, assignment: str | None = None) -> list[str]:
    """UsageError naming the student and the cell when a submission's checks were edited away.

    Two ways: the graded cell is gone from the submission (deleted, or its nbgrader metadata stripped) and
    autograde did not put it back, or the autograded cell earned points without lmlab's checks running in it
    (``assert_check`` replaced). A cell that nbgrader put back and graded (``add_missing_cells``, on in the
    course's config) is no error: its student and cell come back as notes, one line each."""
    path = open_course(course)
    notes = []
    for source in sorted((path / "source").glob("*/*.ipynb")):
        name, notebook = source.parent.name, source.stem
        if assignment is not None and name != assignment:
            continue
        expected = [c["metadata"]["nbgrader"]["grade_id"]
                    for c in json.loads(source.read_text(encoding="utf-8")).get("cells", [])
                    if exercise_of(c.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")) is not None]
        for submitted in sorted((path / "submitted").glob(f"*/{name}/{notebook}.ipynb")):
            student = submitted.parent.parent.name
            where = f"{name}/{notebook}.ipynb"
            graded = path / "autograded" / student / name / f"{notebook}.ipynb"
            records = _records(graded) if graded.is_file() else {}
            cells = json.loads(submitted.read_text(encoding="utf-8")).get("cells", [])
            present = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                       for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
            for grade_id in expected:
                if grade_id in present:
                    continue
                if records.get(grade_id, {}).get("exercise"):
                    notes.append(f"note: student {student!r} deleted the check cell {grade_id!r} of {where}; "
                                 "nbgrader put it back and graded it")
                    continue
                raise UsageError(
                    f"student {student!r} edited away the check cell {grade_id!r} of {where} (deleted, or no "
                    f"longer an nbgrader test cell); run 'nbgrader autograde {name} --student {student} "
                    "--force --OverwriteCells.add_missing_cells=True' to grade it with the check put back, "
                    "or grade it by hand")
            if not graded.is_file():
                continue
            for grade_id in expected:
                if _cell_scored(graded, grade_id) and not records.get(grade_id, {}).get("exercise"):
                    raise UsageError(
                        f"student {student!r}'s check cell {grade_id!r} of {where} earned points without "
                        "lmlab's checks running (was assert_check replaced?); read "
                        f"autograded/{student}/{where} and grade it by hand")
    return notes


def _cell_scored(graded: Path, grade_id: str) -> bool:
    """Whether the autograded cell ran without error (nbgrader gives the points of a cell that passes)."""
    nb = json.loads(graded.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return not any(o.get("output_type") == "error" for o in cell.get("outputs", []))
    return False


def class_table(results: list[Result]) -> list[Row]:
    """Per exercise, in the order the notebooks ask them: how many solved it, and the slips."""
    rows: dict[str, Row] = {}
    for r in results:
        row = rows.setdefault(r.exercise, Row(r.exercise))
        row.students += 1
        row.counts[r.outcome] += 1
        if r.outcome in ("slip", "error") and r.slip:
            row.slips[r.slip] += 1
            row.messages.setdefault(r.slip, {"": r.message or r.slip, **r.messages})
    return list(rows.values())


def format_table(rows: list[Row], *, slips: int = 2) -> str:
    """The class table as text: exercise, solved (share and count), no answer, and the common slips."""
    head = [_("exercise"), _("solved"), _("no answer"), _("most common slips (students)")]
    lines = []
    for row in rows:
        common = "; ".join(f"{msg} ({n})" for msg, n in row.common_slips(slips)) or "—"
        lines.append([row.exercise, f"{row.solved_share:.0%} ({row.counts['solved']}/{row.students})",
                      str(row.counts["blank"]), common])
    widths = [max(_width(x) for x in col) for col in zip(head, *lines, strict=True)][:3]
    out = []
    for cells in [head, *lines]:
        out.append("  ".join(_pad(c, w) for c, w in zip(cells, widths, strict=False)) + "  " + cells[3])
    return "\n".join(out)


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def draw(rows: list[Row], path: str | Path, *, students: int | None = None) -> Path:
    """One figure: per exercise a bar split into solved / slip / error / no answer, the top slip beside it."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from lmlab.viz.style import save_figure, use_lab_style

    use_lab_style("light")
    colors = {"solved": "#2e7d32", "slip": "#ef6c00", "error": "#c62828", "blank": "#9e9e9e"}
    fig, ax = plt.subplots(figsize=(10, 0.7 * len(rows) + 1.6))
    names = [row.exercise for row in rows][::-1]
    left = [0.0] * len(rows)
    for outcome in ("solved", "slip", "error", "blank"):
        shares = [row.counts[outcome] / row.students if row.students else 0.0 for row in rows][::-1]
        ax.barh(names, shares, left=left, color=colors[outcome], label=_(OUTCOME_LABELS[outcome]))
        left = [a + b for a, b in zip(left, shares, strict=True)]
    for y, row in enumerate(rows[::-1]):
        top = row.common_slips(1)
        if top:
            msg, n = top[0]
            text = msg if len(msg) <= 60 else msg[:57] + "…"
            ax.text(1.02, y, f"{text} ({n})", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    n = students if students is not None else max((row.students for row in rows), default=0)
    ax.set_xlabel(_("share of the class ({n} students)").format(n=n))
    ax.set_title(_("Who solved what, and the most common slip"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 - 0.4 / max(len(rows), 1)), ncol=4,
              frameon=False)
    fig.tight_layout()
    out = save_figure(fig, path)
    plt.close(fig)
    return out
