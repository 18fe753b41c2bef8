"""``lmlab assign NOTEBOOK... --course DIR``: an nbgrader course folder from lmlab's notebooks.

    lmlab assign notebooks/00_welcome.ipynb --course class --assignment week1
    cd class && nbgrader generate_assignment week1 && nbgrader release_assignment week1
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("notebooks", nargs="+", metavar="NOTEBOOK",
                   help="lmlab notebooks (.ipynb or their Jupytext .py) whose check(...) cells are graded")
    p.add_argument("--course", required=True, help="the nbgrader course folder (created if missing)")
    p.add_argument("--assignment", default=None,
                   help="assignment name: source/NAME/ (default: the first notebook's name)")
    p.add_argument("--course-id", default="lmlab", help="nbgrader's course id (default: lmlab)")
    p.add_argument("--exchange", default=None,
                   help="nbgrader's exchange folder for release/collect (default: nbgrader's own)")
    p.add_argument("--points", type=float, default=1.0, help="points per exercise (default 1)")
    p.add_argument("--lang", choices=("en", "zh"), default=None,
                   help="language of the comments lmlab writes (default: $LMLAB_LANG, else en)")
    p.add_argument("--force", action="store_true", help="write over an assignment notebook already there")


def run(args: argparse.Namespace) -> int:
    from lmlab.grading.assign import write_course
    from lmlab.i18n import set_lang

    if args.lang:
        set_lang(args.lang)
    assigned = write_course(args.notebooks, args.course, assignment=args.assignment, course_id=args.course_id,
                            exchange=args.exchange, points=args.points, force=args.force)
    for item in assigned:
        print(f"{item.notebook}: {len(item.exercises)} graded exercises ({', '.join(item.exercises)})")
    name = assigned[0].notebook.parent.name
    print(f"next: cd {args.course} && nbgrader generate_assignment {name} && "
          f"nbgrader release_assignment {name}")
    return 0
