"""One source, two editions: Chinese twins of the English notebooks, built from gettext catalogues.

The English ``notebooks/NN_name.py`` is the source. ``notebooks/zh/po/NN_name.po`` holds one entry per
piece a learner reads: a markdown cell, a code comment, or a user-facing string literal (the arguments of
``print`` and the ``title=``/``xlabel=``/``ylabel=``/``label=``/``desc=``/``description=`` of a call). The
msgid is the English text itself, so the catalogue records exactly what was translated: when an English
cell changes, its old entry no longer matches; ``update`` carries the old translation over marked
``#, fuzzy`` (with the previous English as ``#| msgid``) for the translator to revise.

``build`` writes ``notebooks/zh/NN_name.py`` + ``.ipynb``: the same cells and the same code, with the
translations put in, and three edition changes that are part of the Chinese edition by design (and
allowed by ``check``): ``setup(...)`` gains ``lang="zh"`` (library messages and figures in Chinese),
the Tang poems are read in simplified characters (``"tang_poems"`` becomes ``"tang_poems_simplified"``,
traditional characters in other string literals are converted with OpenCC ``t2s``).

``check`` fails when a catalogue is behind its English notebook, when a twin is out of date, or when a
twin's code differs from its source in anything but translations; each message names the command to run.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EDITIONS = ("zh",)
UPDATE_CMD = "python -m lmlab.i18n update"
BUILD_CMD = "python -m lmlab.i18n build"
# keyword arguments whose string a learner reads (figure titles and axes, progress bars, widgets)
USER_KEYWORDS = {"title", "xlabel", "ylabel", "label", "desc", "description", "suptitle", "titles", "labels",
                 "placeholder", "columns", "index", "unit"}
USER_CALLS = {"print", "set_title", "set_xlabel", "set_ylabel", "suptitle", "LiveView", "title", "xlabel",
              "ylabel", "text", "annotate", "legend", "show_matrices", "Markdown", "HTML"}
MASK = "\u27e8translated\u27e9"
# a tuple of phrases assigned to one of these names is a list of labels a learner reads
LABEL_NAMES = {"names", "labels", "titles", "legend", "headers"}
# the auto comment of an entry whose English is on another branch or folder (``update --from-rev/--src``)
PENDING = "pending:"
# the Tang poems: traditional characters in the English edition, simplified in the Chinese one
CORPUS_VIEWS = {"zh": {"tang_poems": "tang_poems_simplified"}}


HEADER = """\
# The Chinese edition of notebooks/{name}: one entry per markdown cell, code comment and user-facing string.
# Translate msgstr; an entry marked '#, fuzzy' had its English changed (the old English is under '#|'):
# revise the Chinese, delete the fuzzy flag, then run 'python -m lmlab.i18n update'. See CONTRIBUTING.md."""


class TranslationError(ValueError):
    """A catalogue entry that cannot go into a notebook (not a string literal, placeholders changed)."""


# ---------------------------------------------------------------- what a learner reads in a notebook

@dataclass(frozen=True)
class Segment:
    """One translatable piece of a cell: ``text`` is the msgid; ``start``/``end`` index the cell source."""

    kind: str  # "markdown" | "comment" | "string"
    text: str
    start: int
    end: int


def _has_words(text: str) -> bool:
    """Worth translating: at least one word of three letters (shape comments like ``(B, T, C)`` are not)."""
    run = 0
    for ch in text:
        run = run + 1 if ch.isascii() and ch.isalpha() else 0
        if run >= 3:
            return True
    return False


def _offsets(source: str) -> list[int]:
    starts, pos = [0], 0
    for line in source.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _char_offset(source: str, starts: list[int], lineno: int, byte_col: int) -> int:
    """ast positions count UTF-8 bytes within a line; Python strings count characters."""
    line_start = starts[lineno - 1]
    line = source[line_start:starts[lineno] if lineno < len(starts) else len(source)]
    return line_start + len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _tree(source: str) -> ast.AST | None:
    try:
        return ast.parse(source)
    except SyntaxError:  # a cell with IPython magics: only its comments are translated
        return None


def _user_strings(tree: ast.AST) -> Iterable[ast.expr]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        args = list(node.args) if name in USER_CALLS else []
        args += [k.value for k in node.keywords if k.arg in USER_KEYWORDS]
        for arg in args:
            parts = [arg]
            if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Add):  # "GPT on " + corpus
                parts = [arg.left, arg.right]
            elif isinstance(arg, (ast.List, ast.Tuple)):  # show_matrices(ms, ["scores", ...]), legend([...])
                parts = arg.elts
            for part in parts:
                if isinstance(part, ast.JoinedStr) or (isinstance(part, ast.Constant)
                                                       and isinstance(part.value, str)):
                    yield part


def _phrase(node) -> bool:
    """A string literal that reads as words (a space, or Chinese), or an f-string with words in it."""
    if isinstance(node, ast.JoinedStr):  # f"{n} blocks": a phrase around a value
        words = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        return _has_words(words) or _han(words)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return " " in node.value.strip() or _han(node.value)
    return False


def _table_keys(tree: ast.AST, shown: Iterable[ast.expr] = ()) -> list[ast.expr]:
    """Phrases a learner reads that no call names: the keys of a dict literal whose keys are all phrases
    (the rows of a printed table, the titles of a figure) or that labels groups of words (``{"royalty":
    ["king", "queen"]}``), the phrases in the rows of a literal a ``for`` loop walks (``for ax, name in
    ((ax1, f"our GPT ({corpus})"), ...)``) and the labels of rows in a list (``[("words / second", n)]``);
    never identifiers such as ``"n_layer"``. A phrase also used elsewhere in the cell as a string (a lookup
    such as ``sp["90% zeros"]``) stays as it is."""
    def words(v) -> bool:  # ["king", "queen"]: a group of words, labelled by its key
        return isinstance(v, (ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in v.elts)

    def labelled(row) -> bool:  # ("words / second", 60_053, ...): a label, then values
        return isinstance(row, ast.Tuple) and len(row.elts) > 1 and _phrase(row.elts[0])

    keys, grouped = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict) and node.keys and all(isinstance(k, (ast.Constant, ast.JoinedStr))
                                                            for k in node.keys):
            if all(_phrase(k) for k in node.keys):
                keys += node.keys
            elif (all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys)
                  and all(words(v) for v in node.values)):
                keys += node.keys
                grouped |= {id(e) for v in node.values for e in v.elts}
        elif (isinstance(node, (ast.For, ast.comprehension))
              and isinstance(node.iter, (ast.Tuple, ast.List))):
            for item in node.iter.elts:  # rows of labelled values, not a list of inputs to a model
                if isinstance(item, (ast.Tuple, ast.List)):
                    keys += [part for part in item.elts if _phrase(part)]
                    first, rest = item.elts[0], item.elts[1:]
                    if (rest and isinstance(first, ast.Constant) and isinstance(first.value, str)
                            and _has_words(first.value)
                            and not any(isinstance(e, ast.Constant) for e in rest)):
                        keys.append(first)  # ("prose", prose_train, ...): a one-word label of named values
        elif isinstance(node, ast.List):
            keys += [row.elts[0] for row in node.elts if labelled(row)]
        elif isinstance(node, ast.IfExp) and _phrase(node.body) and _phrase(node.orelse):
            keys += [node.body, node.orelse]  # name = "labels only (α=0)" if alpha == 0 else "distilled"
        elif (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in LABEL_NAMES
                                                   for t in node.targets)
              and isinstance(node.value, (ast.Tuple, ast.List)) and any(_phrase(e) for e in node.value.elts)):
            keys += [e for e in node.value.elts if isinstance(e, (ast.Constant, ast.JoinedStr))
                     and (_has_words(said := _literal_words(e)) or _han(said))]  # names = ("teacher", …)
    keys = list({id(k): k for k in keys}.values())
    chosen = {id(k) for k in [*keys, *shown]}  # the same phrase as a title= or print() is no lookup
    elsewhere = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                 and id(n) not in chosen and id(n) not in grouped}
    return [k for k in keys if not (isinstance(k, ast.Constant) and k.value in elsewhere)]


def _span(source: str, starts: list[int], node: ast.expr) -> tuple[int, int]:
    return (_char_offset(source, starts, node.lineno, node.col_offset),
            _char_offset(source, starts, node.end_lineno, node.end_col_offset))


def code_segments(source: str, every: bool = False) -> list[Segment]:
    """The comments and user-facing string literals of a code cell, in order (``every``: also those
    with no words to translate, as the masking of :func:`masked_code` needs)."""
    starts = _offsets(source)
    found: list[Segment] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type != tokenize.COMMENT:
                continue
            body = tok.string[1:].strip()
            if not every and (not _has_words(body) or body.startswith(("noqa", "type:", "fmt:"))):
                continue
            start = starts[tok.start[0] - 1] + tok.start[1]
            found.append(Segment("comment", body, start, starts[tok.end[0] - 1] + tok.end[1]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    tree = _tree(source)
    if tree is not None:
        seen = set()
        shown = list(_user_strings(tree))
        for node in [*shown, *_table_keys(tree, shown)]:
            start, end = _span(source, starts, node)
            text = source[start:end]
            if (start, end) not in seen and (every or _has_words(_literal_words(node))):
                seen.add((start, end))
                found.append(Segment("string", text, start, end))
    return sorted(found, key=lambda s: s.start)


def _literal_words(node: ast.expr) -> str:
    if isinstance(node, ast.Constant):
        return node.value
    return " ".join(v.value if isinstance(v, ast.Constant) else v.value.value for v in node.values
                    if isinstance(v, ast.Constant) or (isinstance(v, ast.FormattedValue)  # {'model':5s}
                                                       and isinstance(v.value, ast.Constant)
                                                       and isinstance(v.value.value, str)))


def cell_segments(cell) -> list[Segment]:
    """Every translatable piece of one notebook cell."""
    if cell.cell_type == "markdown":
        return [Segment("markdown", cell.source, 0, len(cell.source))] if cell.source.strip() else []
    if cell.cell_type == "code":
        return code_segments(cell.source)
    return []


# ---------------------------------------------------------------- edition changes to the code

def _han(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def edition_edits(source: str, edition: str,
                  skip: Iterable[tuple[int, int]] = ()) -> list[tuple[int, int, str]]:
    """(start, end, replacement) edits that make a code cell the ``edition``'s, besides translations."""
    tree = _tree(source)
    if tree is None:
        return []
    starts = _offsets(source)
    skip = set(skip)
    edits = []
    views = CORPUS_VIEWS.get(edition, {})
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and _is_setup(node.func)
                and not any(k.arg == "lang" for k in node.keywords)):
            _, at = _span(source, starts, node.func)
            sep = ", " if node.args or node.keywords else ""
            paren = source.index("(", at) + 1
            edits.append((paren, paren, f'lang="{edition}"{sep}'))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            start, end = _span(source, starts, node)
            if (start, end) in skip:
                continue
            text = source[start:end]
            if node.value in views:
                edits.append((start, end, text.replace(node.value, views[node.value])))
            elif edition == "zh" and _han(text):
                simplified = to_simplified(text)
                if simplified != text:
                    edits.append((start, end, simplified))
    return edits


def _is_setup(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id == "setup") or (
        isinstance(func, ast.Attribute) and func.attr == "setup" and isinstance(func.value, ast.Name)
        and func.value.id in {"notebook", "lmlab"})


def to_simplified(text: str) -> str:
    from lmlab.data.corpora import to_simplified as t2s

    return t2s([text])[0]


def _apply(source: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        source = source[:start] + new + source[end:]
    return source


# ---------------------------------------------------------------- translating one cell

def _placeholders(literal: str) -> list[str]:
    node = ast.parse(f"(\n{literal}\n)", mode="eval").body  # implicit concatenation may span lines
    if not (isinstance(node, ast.JoinedStr)
            or (isinstance(node, ast.Constant) and isinstance(node.value, str))):
        raise TranslationError("not a string literal")
    if isinstance(node, ast.Constant):
        return []
    values = [v for v in node.values if isinstance(v, ast.FormattedValue)]
    for v in values:  # {'model':5s}: a padded heading is text to translate, its format spec stays
        if isinstance(v.value, ast.Constant) and isinstance(v.value.value, str):
            v.value = ast.Constant("…")
    return sorted(ast.dump(v) for v in values)


def validate(segment: Segment, translation: str) -> None:
    """A comment stays one line; a string stays a Python literal with the same ``{...}`` placeholders."""
    if segment.kind == "comment" and "\n" in translation:
        raise TranslationError(f"the translation of the comment {segment.text!r} spans lines; keep it on one")
    if segment.kind == "string":
        try:
            same = _placeholders(translation) == _placeholders(segment.text)
        except (SyntaxError, TranslationError):
            raise TranslationError(f"the translation of {segment.text} must be a Python string literal "
                                   f"(quotes and f prefix included), got {translation!r}") from None
        if not same:
            raise TranslationError(f"the translation of {segment.text} must keep its {{...}} placeholders "
                                   f"exactly, got {translation}")


def translate_cell(cell, edition: str, lookup) -> str:
    """The cell's source in ``edition``: ``lookup(segment)`` returns a translation or None (keep English)."""
    segments = cell_segments(cell)
    if cell.cell_type == "markdown":
        return next((join_cjk_lines(t) for s in segments if (t := lookup(s))), cell.source)
    edits = []
    for s in segments:
        t = lookup(s)
        if t:
            validate(s, t)
            edits.append((s.start, s.end, "# " + t if s.kind == "comment" else t))
    strings = [(s.start, s.end) for s in segments if s.kind == "string"]
    edits += edition_edits(cell.source, edition, skip=strings)
    return _apply(cell.source, edits)


CJK_PUNCT = "，。；：、？！）》」』”’…—"
_BLOCK_START = re.compile(r"\s*(?:[#>|*+-]\s|\d+[.)]\s|```|~~~|\$\$|<)")


def join_cjk_lines(markdown: str) -> str:
    """Join the lines of a Chinese paragraph where Markdown would show a space: between two Chinese
    characters, and before Chinese punctuation (a line never starts with '，'). Code blocks, math blocks,
    lists, headings and tables keep their lines."""
    lines = markdown.split("\n")
    out: list[str] = []
    fenced = False
    for line in lines:
        toggles = line.lstrip().startswith(("```", "~~~")) or line.count("$$") % 2 == 1
        if toggles or "$$" in line:
            fenced ^= toggles
            out.append(line)
            continue
        prev = out[-1] if out else ""
        first = line.lstrip()[:1]
        if (not fenced and out and prev.strip() and first and not _BLOCK_START.match(line)
                and not prev.lstrip().startswith(("```", "~~~", "$$", "|"))
                and ((_han(prev.rstrip()[-1:]) or prev.rstrip()[-1:] in CJK_PUNCT) and _han(first)
                     or first in CJK_PUNCT)):
            out[-1] = prev.rstrip() + line.lstrip()
        else:
            out.append(line)
    return "\n".join(out)


def masked_code(source: str, edition: str | None) -> str:
    """A code cell with every translatable piece replaced by one mark (and, for the English source,
    the edition's own changes made): equal for a source cell and its twin when only translations differ."""
    if edition is not None:
        strings = [(s.start, s.end) for s in code_segments(source) if s.kind == "string"]
        source = _apply(source, edition_edits(source, edition, skip=strings))
    return _apply(source, [(s.start, s.end, MASK) for s in code_segments(source, every=True)])


# ---------------------------------------------------------------- catalogues

def po_path(source: Path, edition: str = "zh") -> Path:
    return source.parent / edition / "po" / (source.stem + ".po")


def twin_path(source: Path, edition: str = "zh") -> Path:
    return source.parent / edition / (source.stem + ".py")


def sources(names: Iterable[str] = (), root: Path = NOTEBOOKS) -> list[Path]:
    """The English notebooks (``NN_name.py``), all or those named (``03``, ``03_transformer``, a path)."""
    every = sorted(root.glob("[0-9][0-9]_*.py"))
    names = list(names)
    if not names:
        return every
    chosen = []
    for name in names:
        stem = Path(name).stem
        hits = [p for p in every if p.stem == stem or p.stem.startswith(stem + "_")]
        if not hits:
            raise ValueError(f"no English notebook {name!r} in {root}; known: "
                             f"{', '.join(p.stem for p in every)}")
        chosen += hits
    return chosen


def read_notebook(path: Path):
    import jupytext

    return jupytext.read(path)


def template(source: Path):
    """A gettext catalogue of every translatable piece of an English notebook (msgstr empty)."""
    from babel.messages.catalog import Catalog

    cat = Catalog(locale="zh_Hans_CN", project=f"lmlab notebook {source.stem}", charset="utf-8",
                  fuzzy=False, msgid_bugs_address="", last_translator="lmlab translators",
                  language_team="lmlab zh", header_comment=HEADER.format(name=source.name))
    for i, cell in enumerate(read_notebook(source).cells):
        for s in cell_segments(cell):
            note = {"markdown": "markdown cell", "comment": "code comment: one line",
                    "string": "string literal: keep it Python, keep every {...}"}[s.kind]
            loc = (f"{source.parent.name}/{source.name}", i)
            if s.text in cat:
                cat[s.text].locations.append(loc)
            else:
                cat.add(s.text, locations=[loc], auto_comments=[f"cell {i} · {note}"])
    return cat


def read_catalogue(path: Path):
    from babel.messages.pofile import read_po

    with open(path, "rb") as f:
        return read_po(f, locale="zh_Hans_CN")


def write_catalogue(path: Path, catalog) -> None:
    from babel.messages.pofile import write_po

    from lmlab.atomic import atomic_write

    buf = io.BytesIO()
    write_po(buf, catalog, width=0, include_previous=True, ignore_obsolete=True, include_lineno=False)
    text = buf.getvalue().decode("utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith('"POT-Creation-Date'))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as f:
        f.write(text + "\n")


def _usable(catalog, text: str) -> str | None:
    msg = catalog.get(text) if catalog is not None else None
    if msg is None or msg.fuzzy or not msg.string:
        return None
    return msg.string


def _pending(msg) -> bool:
    return any(c.startswith(PENDING) for c in msg.auto_comments)


def update(source: Path, edition: str = "zh", *, prune: bool = False) -> list[str]:
    """Merge the English notebook's current pieces into its catalogue; return the entries to translate.

    Entries added by :func:`update_from` for English text not in this tree yet stay (``prune`` drops them);
    once that text lands, the entry matches and loses its pending mark.
    """
    path = po_path(source, edition)
    fresh = template(source)
    if path.exists():
        catalog = read_catalogue(path)
        waiting = [] if prune else [m for m in catalog if m.id and _pending(m)]
        catalog.update(fresh, update_creation_date=False)
        for msg in waiting:
            if msg.id not in catalog:
                catalog[msg.id] = msg
    else:
        catalog = fresh
    for msg in catalog:  # babel marks the header fuzzy; a translator's header is not a translation
        if not msg.id:
            msg.flags.discard("fuzzy")
    write_catalogue(path, catalog)
    return todo(source, edition)


def todo(source: Path, edition: str = "zh", *, catalogue: Path | None = None) -> list[str]:
    """Entries of the English notebook with no usable translation (missing, fuzzy or empty)."""
    path = catalogue or po_path(source, edition)
    catalog = read_catalogue(path) if path.exists() else None
    out: list[str] = []
    for i, cell in enumerate(read_notebook(source).cells):
        for s in cell_segments(cell):
            msg = catalog.get(s.text) if catalog is not None else None
            why = ("not in the catalogue" if msg is None else "marked fuzzy (the English changed)"
                   if msg.fuzzy else "untranslated" if not msg.string else None)
            if why:
                first = s.text.strip().splitlines()[0][:70]
                line = f"cell {i} {s.kind} {why}: {first!r}"
                if line not in out:
                    out.append(line)
    return out


def render(source: Path, edition: str = "zh", *, catalogue: Path | None = None):
    """The twin notebook (a jupytext notebook) built from the English source and its catalogue."""
    path = catalogue or po_path(source, edition)
    catalog = read_catalogue(path) if path.exists() else None
    nb = read_notebook(source)
    for i, cell in enumerate(nb.cells):
        try:
            cell.source = translate_cell(cell, edition, lambda s: _usable(catalog, s.text))
        except TranslationError as err:
            raise TranslationError(f"{path}: cell {i}: {err}") from None
    return nb


def _py_text(nb) -> str:
    import jupytext

    return jupytext.writes(nb, fmt="py:percent")


def build(source: Path, edition: str = "zh") -> tuple[Path, Path]:
    """Write the twin ``.py`` and ``.ipynb`` (paired, no outputs)."""
    import jupytext

    from lmlab.atomic import atomic_write

    nb = render(source, edition)
    py = twin_path(source, edition)
    py.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(py, "w") as f:
        f.write(_py_text(nb))
    ipynb = py.with_suffix(".ipynb")
    for i, cell in enumerate(nb.cells):  # stable cell ids: a rebuild changes only what was translated
        cell["id"] = hashlib.sha1(f"{source.stem}:{i}".encode()).hexdigest()[:8]
    with atomic_write(ipynb, "w") as f:
        f.write(jupytext.writes(nb, fmt="ipynb"))
    return py, ipynb


def check(source: Path, edition: str = "zh") -> list[str]:
    """Every reason the twin of ``source`` is not in step with it, each with the command that fixes it."""
    po, py = po_path(source, edition), twin_path(source, edition)
    rel = lambda p: p.relative_to(source.parent.parent) if p.is_relative_to(source.parent.parent) else p
    problems = []
    missing = todo(source, edition)
    if missing:
        more = f"\n    … and {len(missing) - 8} more" if len(missing) > 8 else ""
        shown = "\n    ".join(missing[:8]) + more
        problems.append(
            f"{rel(po)} is behind {rel(source)}: {len(missing)} entr{'y' if len(missing) == 1 else 'ies'} "
            f"to translate\n    {shown}\n  fix: run '{UPDATE_CMD} {source.stem}', translate the entries "
            f"marked '#, fuzzy' or with an empty msgstr in {rel(po)} (drop the fuzzy flag), then run "
            f"'{UPDATE_CMD} {source.stem}' again (it rebuilds the twin)")
    if not py.exists() or not py.with_suffix(".ipynb").exists():
        problems.append(f"{rel(py)} (and its .ipynb) missing: run '{BUILD_CMD} {source.stem}'")
        return problems
    twin = read_notebook(py)
    english = read_notebook(source)
    code = [(i, a, b) for i, (a, b) in enumerate(zip(english.cells, twin.cells, strict=False))]
    if len(english.cells) != len(twin.cells) or any(a.cell_type != b.cell_type for _, a, b in code):
        problems.append(f"{rel(py)} has other cells than {rel(source)} ({len(twin.cells)} vs "
                        f"{len(english.cells)}): the twin is generated, edit the English notebook and run "
                        f"'{BUILD_CMD} {source.stem}'")
    else:
        for i, a, b in code:
            if a.cell_type != "code":
                continue
            want, got = masked_code(a.source, edition), masked_code(b.source, None)
            if want != got:
                diff = next((f"{x!r} vs {y!r}" for x, y in zip(want.splitlines(), got.splitlines(),
                                                               strict=False) if x != y), "lines added")
                problems.append(f"{rel(py)} cell {i}: its code differs from {rel(source)} beyond translated "
                                f"comments and strings ({diff}); the twin is generated: put code changes in "
                                f"the English notebook and run '{BUILD_CMD} {source.stem}'")
    try:
        expected = render(source, edition)
    except TranslationError as err:
        problems.append(f"{err}; fix the entry, then run '{BUILD_CMD} {source.stem}'")
        return problems
    on_disk = py.read_text(encoding="utf-8")
    ipynb_cells = [(c.cell_type, c.source) for c in read_notebook(py.with_suffix(".ipynb")).cells]
    if on_disk != _py_text(expected) or ipynb_cells != [(c.cell_type, c.source) for c in expected.cells]:
        first = next((ln for ln in difflib.unified_diff(on_disk.splitlines(), _py_text(expected).splitlines(),
                                                          lineterm="", n=0) if ln[:1] in "+-"
                      and not ln.startswith(("+++", "---"))), "the .ipynb differs")
        problems.append(f"{rel(py)} is out of date with {rel(source)} and {rel(po)} (first difference: "
                        f"{first[:100]!r}): run '{BUILD_CMD} {source.stem}'")
    return problems


# ---------------------------------------------------------------- English from another branch or folder

def foreign_sources(into: Path, *, rev: str | None = None, folder: Path | None = None,
                    names: Iterable[str] = ()) -> list[Path]:
    """Copy the English notebooks of git revision ``rev`` (or of ``folder``) to ``into/notebooks``."""
    import subprocess

    from lmlab.atomic import atomic_write

    out = into / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    if rev is not None:
        git = ["git", "-C", str(ROOT)]
        listed = subprocess.run([*git, "ls-tree", "--name-only", f"{rev}:notebooks"], capture_output=True,
                                text=True)
        if listed.returncode:
            raise ValueError(f"no git revision {rev!r} with a notebooks/ folder ({listed.stderr.strip()}); "
                             "name a branch or commit, e.g. --from-rev seq2seq")
        for name in listed.stdout.split():
            if Path(name).match("[0-9][0-9]_*.py"):
                text = subprocess.run([*git, "show", f"{rev}:notebooks/{name}"], capture_output=True,
                                      check=True).stdout
                with atomic_write(out / name, "wb") as f:
                    f.write(text)
    else:
        if folder is None or not folder.is_dir():
            raise ValueError(f"--src {folder} is not a folder; give the folder holding NN_name.py notebooks")
        for path in sorted(folder.glob("[0-9][0-9]_*.py")):
            with atomic_write(out / path.name, "wb") as f:
                f.write(path.read_bytes())
    return sources(names, root=out)


def update_from(source: Path, label: str, edition: str = "zh") -> list[str]:
    """Add the pieces of an English notebook from elsewhere to this tree's catalogue, keeping every entry.

    New pieces are marked pending (``label`` says where they come from), with the closest existing
    translation as a fuzzy suggestion; returns the entries still to translate for that English text.
    """
    path = po_path(NOTEBOOKS / source.name, edition)
    fresh = template(source)
    catalog = read_catalogue(path) if path.exists() else template(source)
    if not path.exists():  # a new catalogue: its header, every entry pending
        for msg in [m for m in catalog if m.id]:
            del catalog[msg.id]
    known = [m.id for m in catalog if m.id and m.string and not m.fuzzy]
    for msg in fresh:
        if not msg.id or msg.id in catalog:
            continue
        msg.auto_comments = [*msg.auto_comments, f"{PENDING} English from {label}"]
        close = difflib.get_close_matches(msg.id, known, n=1, cutoff=0.7)
        if close:
            msg.string = catalog[close[0]].string
            msg.flags.add("fuzzy")
            msg.previous_id = [close[0]]
        catalog[msg.id] = msg
    for msg in catalog:
        if not msg.id:
            msg.flags.discard("fuzzy")
    write_catalogue(path, catalog)
    try:  # a translation that would break the twin is reported now, not after the merge
        render(source, edition, catalogue=path)
    except TranslationError as err:
        return [str(err), *todo(source, edition, catalogue=path)]
    return todo(source, edition, catalogue=path)


def waiting(edition: str = "zh") -> list[str]:
    """Notes (not errors): catalogues whose English notebook is not here yet, and pending entries."""
    notes = []
    here = {p.stem for p in sources(root=NOTEBOOKS)}
    for po in sorted((NOTEBOOKS / edition / "po").glob("[0-9][0-9]_*.po")):
        catalog = read_catalogue(po)
        count = sum(1 for m in catalog if m.id and _pending(m))
        if po.stem not in here:
            notes.append(f"notebooks/{edition}/po/{po.name} waits for notebooks/{po.stem}.py ({count} "
                         f"entries); it is checked once that notebook lands ('{UPDATE_CMD}' builds the twin)")
        elif count:
            notes.append(f"notebooks/{edition}/po/{po.name} holds {count} entries for English text not in "
                         f"this tree yet; they stay until it lands ('{UPDATE_CMD} --prune' drops them)")
    return notes
