"""``lmlab viz embeddings VECTORS``: word vectors on a 2-D/3-D map (.png/.svg) or an offline .html projector.

    lmlab viz embeddings runs/w2v/vectors.txt --words king,queen,man,woman -o words.png
    lmlab viz embeddings runs/w2v/vectors.txt --top 500 --method tsne --dim 3 -o projector.html
    lmlab viz embeddings runs/w2v/vectors.txt --analogies "man:king::woman" -o projector.html
"""

from __future__ import annotations

import argparse

from lmlab.choices import PROJECTIONS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("vectors", metavar="VECTORS",
                   help="a word2vec text file (lmlab train word2vec writes one)")
    p.add_argument("--words", default=None,
                   help="comma-separated words to show (default: the --top most frequent); "
                        "groups separated by ';' are coloured, e.g. 'spring,summer;red,blue'")
    p.add_argument("--top", type=int, default=200, help="how many frequent words to add as context")
    p.add_argument("--method", choices=PROJECTIONS, default="pca")
    p.add_argument("--dim", type=int, choices=[2, 3], default=None, help="2 or 3 (default: 3 for .html)")
    p.add_argument("--analogies", default=None,
                   help='for .html: "man:king::woman;paris:france::rome" draws a→b and c→(the answer)')
    p.add_argument("-o", "--out", required=True, help="output: .png or .svg (static), .html (interactive)")


def parse_analogies(text: str) -> list[tuple[str, str, str]]:
    """ "man:king::woman;paris:france::rome" -> [("man", "king", "woman"), ("paris", "france", "rome")]."""
    out = []
    for part in filter(None, (t.strip() for t in text.split(";"))):
        left, sep, c = part.partition("::")
        a, colon, b = left.partition(":")
        if not (sep and colon and a.strip() and b.strip() and c.strip()) or ":" in c:
            raise ValueError(f"analogy {part!r} is not written a:b::c (\"man:king::woman\" asks "
                             "man is to king as woman is to ?)")
        out.append((a.strip(), b.strip(), c.strip()))
    return out


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lmlab.errors import UsageError
    from lmlab.models.word2vec import WordVectors

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in {".png", ".svg", ".html"}:
        raise ValueError(f"--out {args.out!r}: use a file name ending in .png, .svg or .html")
    if args.analogies and suffix != ".html":
        raise ValueError("--analogies are drawn by the interactive projector: use -o FILE.html")
    if args.top < 0:
        raise ValueError(f"--top must be >= 0, got {args.top}")
    analogies = parse_analogies(args.analogies or "")  # before the (slow) load
    wv = WordVectors.load_word2vec_format(args.vectors)
    for quad in analogies:
        missing = [w for w in quad if w not in wv]
        if missing:
            raise UsageError(f"analogy word {missing[0]!r} is not in {args.vectors} ({len(wv)} words); "
                             "check the spelling or train with a lower --min-count")
    groups: dict[str, list[str]] = {}
    chosen: list[str] = []
    if args.words:
        for k, part in enumerate(args.words.split(";")):
            members = [w.strip() for w in part.split(",") if w.strip()]
            if not members:
                continue  # "a,b;;c" or a trailing ';': an empty group is no group
            missing = [w for w in members if w not in wv]
            if missing:
                raise ValueError(f"word {missing[0]!r} is not in {args.vectors} ({len(wv)} words); "
                                 "check the spelling or train with a lower --min-count")
            groups[members[0] if ";" in args.words else "chosen"] = members
            chosen += [w for w in members if w not in chosen]
            del k
    if args.words and not chosen:
        raise UsageError(f"--words {args.words!r} names no word; give comma-separated words, e.g. "
                         "'king,queen,man,woman'")
    words = chosen + [w for w in wv.words[: args.top] if w not in chosen]
    if len(words) < 4:
        raise ValueError(f"only {len(words)} words to draw; pass more with --words or raise --top")
    dim = args.dim or (3 if suffix == ".html" else 2)
    if suffix == ".html":
        from lmlab.viz.embeddings import save_projector_html

        save_projector_html(wv, words, out, groups=groups, method=args.method, dim=dim,
                            analogies=analogies)
    else:
        from lmlab.viz.embeddings import plot_words, project
        from lmlab.viz.style import save_figure, use_lab_style

        use_lab_style()
        fig = plot_words(project(wv, words, method=args.method, dim=dim), words, groups=groups,
                         title=f"{Path(args.vectors).name}: {args.method.upper()} {dim}-D")
        save_figure(fig, out)
    print(f"wrote {out} ({len(words)} words, {args.method} {dim}-D, {out.stat().st_size / 1024:.0f} KiB)")
    return 0
