"""``lmlab grades --course DIR``: after ``nbgrader autograde``, who solved what and the most common slips.

    lmlab grades --course class                     # the table; the figure in class/grades.png
    lmlab grades --course class --lang zh --out class/成绩.png
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--course", required=True, help="the nbgrader course folder (after nbgrader autograde)")
    p.add_argument("--assignment", default=None, help="one assignment only (default: all of them)")
    p.add_argument("--lang", choices=("en", "zh"), default=None,
                   help="edition of the table and figure (default: $LMLAB_LANG, else en)")
    p.add_argument("--out", default=None, help="the figure (.png/.svg/.pdf; default: COURSE/grades.png)")
    p.add_argument("--slips", type=int, default=2, help="slips listed per exercise (default 2)")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from lmlab.errors import UsageError
    from lmlab.grading.results import check_submissions, class_table, draw, format_table, read_results
    from lmlab.i18n import _, set_lang

    if args.lang:
        set_lang(args.lang)
    if args.slips < 0:
        raise UsageError(f"--slips {args.slips} must be 0 or more")
    for note in check_submissions(args.course, args.assignment):
        print(note, file=sys.stderr)
    results = read_results(args.course, args.assignment)
    if not results:
        raise UsageError(f"no autograded submissions in {args.course!r}: run 'nbgrader collect' and "
                         "'nbgrader autograde ASSIGNMENT' there first")
    rows = class_table(results)
    students = len({r.student for r in results})
    print(format_table(rows, slips=args.slips))
    out = draw(rows, args.out or Path(args.course) / "grades.png", students=students)
    print(_("figure: {path} ({n} students)").format(path=out, n=students))
    return 0
