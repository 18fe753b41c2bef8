"""Figures the prose quotes, tied to the cells that compute them, so a stale figure fails a test.

A cell computes a figure and formats it the way the prose writes it::

    print(f"MiniLM has {cite('minilm_params', n / 1e6, '{:.1f}')} M parameters")

and the markdown writes the same text followed by a comment naming it (invisible when rendered)::

    # a 6-layer encoder (22.7<!--cite:minilm_params--> M parameters)

A figure measured on one preset says which: ``0.12<!--cite:ft_halfwidth@class-->``. With ``$LMLAB_RECORD``
set to a path, :func:`cite` records every figure there (JSON, name -> text). :func:`stale_figures` then
compares a notebook's markdown with the record of its run: every cited name must have been computed, and
its text must match whenever the run's preset is the one the figure names (or it names none).
tests/test_notebooks.py does this on the smoke run of every notebook; a teacher's class run checks the
rest: ``LMLAB_RECORD=rec.json LMLAB_PRESET=class`` while executing, then
``python -m lmlab.cite notebooks/NN_name.py rec.json --preset class``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

__all__ = ["CITE", "cite", "cited", "stale_figures"]

# the figure's text right before its comment: digits with separators, an optional sign and percent (a "±"
# before it says "give or take", it is not part of the figure: ±0.13 cites the half-width 0.13)
CITE = re.compile(r"±?(?P<text>[-+−]?\d[\d,]*(?:\.\d+)?\s?%?)"
                  r"<!--\s*cite:(?P<name>[\w.]+)(?:@(?P<preset>\w+))?\s*-->")


def cite(name: str, value: float, fmt: str = "{:.2f}") -> str:
    """``value`` formatted with ``fmt`` as the prose writes it; recorded if $LMLAB_RECORD is set."""
    text = fmt.format(value)
    path = os.environ.get("LMLAB_RECORD")
    if path:
        from lmlab.atomic import atomic_write

        record = json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).exists() else {}
        record[name] = text
        with atomic_write(path) as f:
            f.write(json.dumps(record, ensure_ascii=False, indent=1))
    return text


def cited(markdown: str) -> list[tuple[str, str, str | None]]:
    """``(name, text, preset)`` of every figure the markdown cites."""
    return [(m["name"], m["text"].strip(), m["preset"]) for m in CITE.finditer(markdown)]


def _markdown(notebook: Path) -> str:
    import jupytext

    return "\n".join(c.source for c in jupytext.read(notebook).cells if c.cell_type == "markdown")


def stale_figures(notebook: Path, record: dict[str, str], preset: str) -> list[str]:
    """One line per cited figure that the run did not compute or computed differently."""
    problems = []
    for name, text, for_preset in cited(_markdown(Path(notebook))):
        if name not in record:
            problems.append(f"{Path(notebook).name}: the prose cites {text} as {name!r}, but no cell "
                            f"computed it (cite({name!r}, ...) is gone?)")
        elif (for_preset in (None, preset)) and record[name] != text:
            problems.append(f"{Path(notebook).name}: the prose says {text} for {name!r}, the {preset} run "
                            f"computed {record[name]}: update the markdown (and its Chinese twin)")
    return problems


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lmlab.cite",
                                     description="compare a notebook's cited figures with a run's record")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("record", type=Path, help="the JSON written through $LMLAB_RECORD")
    parser.add_argument("--preset", default="class")
    args = parser.parse_args(argv)
    if not args.record.exists():
        print(f"error: no record {args.record}: run the notebook with LMLAB_RECORD={args.record} first",
              file=sys.stderr)
        return 2
    problems = stale_figures(args.notebook, json.loads(args.record.read_text(encoding="utf-8")), args.preset)
    print("\n".join(problems) or f"{args.notebook.name}: every cited figure matches the {args.preset} run")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
