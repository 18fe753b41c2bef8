"""README's tables from a mirror's prepared runs: what each run cost, and the results README quotes from them.

    python scripts/prepared_tables.py /srv/lmlab-data --preset class            # print, rewrite README.md
    python scripts/prepared_tables.py /srv/lmlab-data --table cost --check     # exit 1 if README is behind

It reads ``MIRROR/prepared/PRESET/*/prepared.json`` (written by ``lmlab prepare``), prints each run's cost
(training seconds, wall clock, device) and the numbers of each table, and rewrites only what lies between
README's markers, one pair per table:

    <!-- prepared:NAME -->
    ...the table...
    <!-- /prepared -->

``cost`` keeps the row of a run the mirror lacks as README has it (a number measured elsewhere stays until a
run replaces it); a results table (``06_quality_curve``) needs its run and fails, naming it and the command
that prepares it, when the mirror has none.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file from a checkout: the lmlab beside it
    sys.path.insert(0, str(ROOT))

from lmlab.prepared import EDITION_DIR, read_record, record_problem  # noqa: E402

MARK = re.compile(r"(<!-- prepared:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /prepared -->)", re.S)


class TableError(ValueError):
    """A table cannot be written from this mirror: one line naming what is missing and the fix."""


class Mirror:
    """The prepared runs of one preset in a mirror (``DEST`` of ``lmlab prepare --dest DEST``)."""

    def __init__(self, root: Path, preset: str, device_label: str | None = None) -> None:
        self.root, self.preset, self.device_label = Path(root), preset, device_label
        self.folder = self.root / "prepared" / preset
        if not self.folder.is_dir():
            raise TableError(f"{self.folder} does not exist: give the folder 'lmlab prepare --dest' wrote "
                             f"into, and the preset it ran (--preset {preset})")

    def runs(self, edition: str | None = None) -> list[str]:
        """The names of the runs this mirror holds (a folder with a record, or one cut short)."""
        folder = self.folder / edition if edition else self.folder
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != EDITION_DIR
                      and (p / "prepared.json").exists()) if folder.is_dir() else []

    def record(self, name: str, edition: str | None = None) -> dict[str, Any] | None:
        path = self.folder / (f"{edition}/{name}" if edition else name)
        problem = record_problem(path)
        if problem:
            raise TableError(f"{problem}: prepare it again with 'lmlab prepare {name} --preset "
                             f"{self.preset} --dest {self.root}'")
        return read_record(path)

    def need(self, name: str, table: str) -> dict[str, Any]:
        record = self.record(name)
        if record is None:
            others = " ".join(f"--table {t}" for t in TABLES if t != table)
            raise TableError(f"README's table prepared:{table} comes from the run {name}, which "
                             f"{self.folder} lacks: run 'lmlab prepare {name} --preset {self.preset} --dest "
                             f"{self.root}', or rewrite only the others ({others})")
        return record


# ---------------------------------------------------------------- what a run cost

def train_seconds(metrics: Any) -> float | None:
    """Seconds of optimizer steps a run reports: its ``train_s``, the last stage's of a staged curve, else
    the sum over the models it trained (a race, a sweep)."""
    if not isinstance(metrics, dict):
        return None
    if isinstance(metrics.get("train_s"), (int, float)):
        return float(metrics["train_s"])
    stages = metrics.get("stages")
    if isinstance(stages, list) and stages and isinstance(stages[-1], dict) and "train_s" in stages[-1]:
        return float(stages[-1]["train_s"])
    parts = [train_seconds(v) for v in metrics.values() if isinstance(v, dict)]
    parts = [p for p in parts if p is not None]
    return sum(parts) if parts else None


def cost_of(record: dict[str, Any], device_label: str | None = None) -> dict[str, Any]:
    """{train_s, wall_s, device, preset, created} of a run. Older records lack ``cost``: what their metrics
    say, and ``device_label`` (what the teacher knows it ran on) for the device."""
    metrics = record.get("metrics", {})
    cost = record.get("cost", {})
    config = metrics.get("config", {}) if isinstance(metrics.get("config"), dict) else {}
    device = cost.get("device") or config.get("device")
    if device == "cpu" and cost.get("threads"):
        device = f"cpu, {cost['threads']} thread{'s' * (cost['threads'] > 1)}"
    elif device and cost.get("device_name"):
        device = f"{device} ({cost['device_name']})"
    wall = cost.get("wall_s", metrics.get("wall_s"))
    return {"train_s": train_seconds(metrics), "wall_s": wall, "resumed": bool(cost.get("resumed")),
            "device": device or device_label or "?",
            "preset": record.get("config", {}).get("preset", "?"), "created": record.get("created", "?")}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _rows(body: str) -> dict[str, str]:
    """README's current rows of a table, by the run they name (second cell, in backquotes)."""
    rows = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 1 and cells[1].startswith("`"):
            rows[cells[1].strip("`")] = line
    return rows


def notebook_of(run: str) -> str:
    """The notebook a run belongs to: the one whose number the run's name starts with."""
    found = sorted(p.stem for p in (ROOT / "notebooks").glob(f"{run[:2]}_*.py"))
    return found[0] if found else run[:2]


def cost_table(mirror: Mirror, body: str, say: Callable[[str], None]) -> str:
    """What each notebook's prepared runs cost: one row per run (README's row kept where the mirror has
    none), the Chinese edition's runs where the mirror holds them, and the total."""
    kept = _rows(body)
    lines = ["| notebook | run | training | wall clock | device | preset | prepared |",
             "|---|---|---|---|---|---|---|"]
    total_train = total_wall = 0.0
    measured = rows = 0
    # the runs the mirror holds and those README has a row of, in the notebooks' order (runs are named
    # after their notebook's number), each with its Chinese edition's run where the mirror holds one
    english = sorted({*mirror.runs(), *(k for k in kept if " (" not in k)})
    chinese = set(mirror.runs(EDITION_DIR))
    names = [(n, e) for name in english for n, e in ((name, None), (name, EDITION_DIR)) if e is None
             or n in chinese] + [(n, EDITION_DIR) for n in sorted(chinese - set(english))]
    shown_notebooks: set[str] = set()
    for name, edition in names:
        label = f"{name} ({edition})" if edition else name
        record = mirror.record(name, edition)
        notebook = (record or {}).get("notebook") or notebook_of(name)
        cell = f"`{notebook}`" if notebook not in shown_notebooks else ""
        if record is None:
            if edition:
                continue  # a Chinese run the mirror lacks: no row
            row = kept.get(label)
            if row is not None:  # keep it, but in this table's notebook grouping
                cells = [c.strip() for c in row.strip().strip("|").split("|")]
                row = "| " + " | ".join([cell, *cells[1:]]) + " |"
            lines.append(row or f"| {cell} | `{label}` | — | — | — | {mirror.preset} | not yet measured |")
            say(f"{label}: not in {mirror.folder}" + ("; README's row kept" if row else ""))
        else:
            c = cost_of(record, mirror.device_label)
            wall = ("≥ " if c["resumed"] else "") + _duration(c["wall_s"])  # the last part's, when resumed
            lines.append(f"| {cell} | `{label}` | {_duration(c['train_s'])} | {wall} | "
                         f"{c['device']} | {c['preset']} | {c['created']} |")
            say(f"{label}: {_duration(c['train_s'])} of training, {wall} wall clock, "
                f"{c['device']}, {c['preset']} preset, prepared {c['created']}")
            measured += 1
            total_train += c["train_s"] or 0.0
            total_wall += c["wall_s"] or 0.0
        shown_notebooks.add(notebook)
        rows += 1
    lines.append(f"| all | {measured} of {rows} runs from this mirror | {_duration(total_train)} | "
                 f"{_duration(total_wall)} | | | |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- 06's quality curve

def _ci(score: dict[str, Any], key: str) -> str:
    lo, hi = score[f"{key}_ci"]
    return f"{score[key]:.2f} [{lo:.2f}, {hi:.2f}]"


def curve_table(mirror: Mirror, body: str, say: Callable[[str], None]) -> str:
    """06's Transformer after each stage, free and under the couplet mask, beside the baselines."""
    metrics = mirror.need("06_quality_curve", "06_quality_curve")["metrics"]
    lines = ["| model | minutes of training | steps | chrF [95%] | couplet score [95%] |",
             "|---|---|---|---|---|"]
    for s in metrics["stages"]:
        for name, label in (("free", "Transformer, free"), ("rules", "Transformer + couplet mask")):
            lines.append(f"| {label} | {s['minutes']:.1f} | {s['iters']:,} | {_ci(s[name], 'chrf')} | "
                         f"{_ci(s[name], 'couplet')} |")
            say(f"06_quality_curve: {s['minutes']:.1f} min, {label}: chrF {_ci(s[name], 'chrf')}, "
                f"couplet score {_ci(s[name], 'couplet')}")
    base = metrics["baselines"]
    for name, label in (("copy_source", "copy the source"), ("nearest_pair", "nearest training pair"),
                        ("lookup_table", "per-position lookup table")):
        if name in base:
            lines.append(f"| {label} | — | — | {_ci(base[name], 'chrf')} | {_ci(base[name], 'couplet')} |")
    if "reference" in base:
        lines.append(f"| the poets' own lines (the bar) | — | — | — | {_ci(base['reference'], 'couplet')} |")
    lines.append("")
    lines.append(f"({metrics['test_lines']} test couplets; the prepared run `06_quality_curve`, `lmlab "
                 f"prepare --preset {mirror.preset}`, written by `python scripts/prepared_tables.py`.)")
    return "\n".join(lines) + "\n"


TABLES: dict[str, Callable[[Mirror, str, Callable[[str], None]], str]] = {
    "cost": cost_table,
    "06_quality_curve": curve_table,
}


def rewrite(text: str, mirror: Mirror, tables: list[str] | None = None,
            say: Callable[[str], None] = print) -> str:
    """``text`` with each marked table (or those in ``tables``) written anew; nothing outside the markers
    changes. A marker naming no known table, or a wanted table without its markers, is an error."""
    found = [m.group("name") for m in MARK.finditer(text)]
    unknown = [n for n in found if n not in TABLES]
    if unknown:
        raise TableError(f"README marks a table prepared:{unknown[0]} that this script does not write; "
                         f"known: {', '.join(TABLES)}")
    wanted = tables if tables is not None else found
    missing = [n for n in wanted if n not in found]
    if missing:
        raise TableError(f"README has no '<!-- prepared:{missing[0]} -->' ... '<!-- /prepared -->' markers; "
                         "add them around the table it should write")

    def table(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in wanted:
            return m.group(0)
        return m.group(1) + TABLES[name](mirror, m.group("body"), say) + m.group(4)

    return MARK.sub(table, text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="prepared_tables", description=__doc__.splitlines()[0])
    p.add_argument("mirror", help="the folder 'lmlab prepare --dest' wrote into")
    p.add_argument("--preset", default="class", help="the preset of the runs (default: class)")
    p.add_argument("--readme", default=str(ROOT / "README.md"),
                   help="the file to rewrite (default: README.md)")
    p.add_argument("--table", action="append", choices=list(TABLES),
                   help="rewrite only this table (repeatable; default: every marked one)")
    p.add_argument("--device", default=None, metavar="LABEL",
                   help="the device of runs whose record does not say (prepared before lmlab recorded it), "
                        "e.g. 'cpu, 2 cores'")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 when README is behind")
    args = p.parse_args(argv)
    readme = Path(args.readme)
    try:
        mirror = Mirror(Path(args.mirror), args.preset, args.device)
        text = readme.read_text(encoding="utf-8")
        new = rewrite(text, mirror, args.table)
    except (TableError, OSError) as err:
        print(f"prepared_tables: error: {err}", file=sys.stderr)
        return 2
    if new == text:
        print(f"{readme}: its tables already match the runs in {mirror.folder}")
    elif args.check:
        print(f"{readme}: its tables differ from the runs in {mirror.folder}; run without --check to rewrite")
        return 1
    else:
        readme.write_text(new, encoding="utf-8")
        print(f"{readme}: tables rewritten from {mirror.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
