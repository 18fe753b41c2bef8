"""The library's message catalogue: ``locale/zh/LC_MESSAGES/lmlab.po`` compiled to ``lmlab.mo``."""

from __future__ import annotations

import io
from pathlib import Path

from lmlab.i18n import DOMAIN, LOCALE_DIR


def po_file(language: str = "zh") -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _compiled(language: str) -> bytes:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(po_file(language), "rb") as f:
        catalog = read_po(f, locale="zh_Hans_CN")
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def compile_catalogue(language: str = "zh") -> Path:
    """Write ``lmlab.mo`` from ``lmlab.po`` (what Python's gettext reads)."""
    from lmlab.atomic import atomic_write

    mo = po_file(language).with_suffix(".mo")
    data = _compiled(language)
    if not mo.exists() or mo.read_bytes() != data:
        with atomic_write(mo, "wb") as f:
            f.write(data)
    return mo


def check(language: str = "zh") -> list[str]:
    """Reasons the library catalogue is behind the code (untranslated messages, a stale ``.mo``)."""
    problems = []
    left = todo(language)
    if left:
        shown = "\n    ".join(left[:8]) + (f"\n    … and {len(left) - 8} more" if len(left) > 8 else "")
        problems.append(f"lmlab/i18n/locale/{language}/LC_MESSAGES/{DOMAIN}.po is behind the code: "
                        f"{len(left)} message(s) to translate\n    {shown}\n  fix: run "
                        "'python -m lmlab.i18n update', translate the entries marked '#, fuzzy' or with an "
                        "empty msgstr (drop the fuzzy flag), then run 'python -m lmlab.i18n build'")
    mo = po_file(language).with_suffix(".mo")
    if not mo.exists() or mo.read_bytes() != _compiled(language):
        problems.append(f"lmlab/i18n/locale/{language}/LC_MESSAGES/{DOMAIN}.mo is not compiled from "
                        f"{po_file(language).name}: run 'python -m lmlab.i18n build'")
    return problems


EXERCISE_KEYWORDS = {"hint", "success", "what", "explain"}
# constants a learner reads that are written where lmlab.i18n may not be imported (lmlab/models): the
# ``divergence_hint=`` of a trainer and module constants named ``*_HINT``; lmlab/train shows them through _()
SHOWN_KEYWORDS = {"divergence_hint"}
HINT_SUFFIX = "_HINT"
PENDING = "pending:"  # the auto comment of a message whose code is on another branch


def _constant(node) -> str | None:
    import ast

    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def extract(package: Path | None = None) -> dict[str, list[str]]:
    """Every message lmlab shows through ``_()``: msgid -> where it is written (``file:line``).

    ``_("...")`` and ``N_("...")`` anywhere in the package, the constant ``divergence_hint=`` arguments
    and ``*_HINT`` constants (the trainers' fixes, shown through ``_()``), plus, in ``lmlab/exercises``,
    the constant ``hint=``, ``success=`` and ``what=`` arguments and the constant messages of
    ``expect(...)`` and ``ExerciseFailure(...)`` (``check`` translates those when it shows them).
    """
    import ast

    package = package or LOCALE_DIR.parent.parent
    found: dict[str, list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        exercises = path.parent.name == "exercises"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
            if (isinstance(target, ast.Name) and target.id.endswith(HINT_SUFFIX)
                    and (text := _constant(node.value))):
                # a constant of a module that may not import lmlab.i18n (the models): shown through _()
                found.setdefault(text, []).append(f"{path.relative_to(package.parent)}:{node.lineno}")
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            texts = []
            if name in ("_", "N_", "say", "learner_text") and node.args:
                texts.append(_constant(node.args[0]))
            texts += [_constant(k.value) for k in node.keywords if k.arg in SHOWN_KEYWORDS]
            if exercises:
                texts += [_constant(k.value) for k in node.keywords if k.arg in EXERCISE_KEYWORDS]
                if name == "expect" and len(node.args) > 1:
                    texts.append(_constant(node.args[1]))
                if name == "ExerciseFailure" and node.args:
                    texts.append(_constant(node.args[0]))
            where = f"{path.relative_to(package.parent)}:{node.lineno}"
            for text in texts:
                if text:
                    found.setdefault(text, []).append(where)
    return found


def update_catalogue(language: str = "zh", *, prune: bool = False) -> list[str]:
    """Merge the package's current messages into ``lmlab.po`` (changed ones fuzzy); return those to do.

    Messages added by :func:`update_from` for code not in this tree stay (``prune`` drops them).
    """
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    from lmlab.atomic import atomic_write

    template = Catalog(locale="zh_Hans_CN")
    for text, where in extract().items():
        template.add(text, locations=[(w.rsplit(":", 1)[0], None) for w in where[:3]])
    with open(po_file(language), "rb") as f:
        catalog = read_po(f, locale="zh_Hans_CN")
    waiting = [] if prune else [m for m in catalog
                                if m.id and any(c.startswith(PENDING) for c in m.auto_comments)]
    catalog.update(template, update_creation_date=False)
    for msg in waiting:  # messages of a branch not merged yet stay until their code lands
        if msg.id not in catalog:
            catalog[msg.id] = msg
    for msg in catalog:
        if not msg.id:
            msg.flags.discard("fuzzy")
    buf = io.BytesIO()
    write_po(buf, catalog, width=0, include_previous=True, ignore_obsolete=True, include_lineno=False,
             sort_output=False)
    with atomic_write(po_file(language), "wb") as f:
        f.write(buf.getvalue())
    return todo(language)


def todo(language: str = "zh") -> list[str]:
    """Messages of the package with no usable translation in ``lmlab.po``."""
    from babel.messages.pofile import read_po

    with open(po_file(language), "rb") as f:
        catalog = read_po(f, locale="zh_Hans_CN")
    out = []
    for text, where in extract().items():
        msg = catalog.get(text)
        if msg is None or msg.fuzzy or not msg.string:
            why = "missing" if msg is None else "fuzzy" if msg.fuzzy else "untranslated"
            out.append(f"{where[0]} {why}: {text[:70]!r}")
    return out


def update_from(rev: str, language: str = "zh") -> list[str]:
    """Add the messages of git revision ``rev``'s package to ``lmlab.po``, keeping every entry.

    New ones are marked pending (with the closest translation as a fuzzy suggestion); returns those of
    ``rev`` still to translate.
    """
    import difflib
    import subprocess
    import tarfile
    import tempfile

    from babel.messages.catalog import Message
    from babel.messages.pofile import read_po, write_po

    from lmlab.atomic import atomic_write

    root = LOCALE_DIR.parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", rev, "lmlab"], capture_output=True)
        if archive.returncode:
            raise ValueError(f"no git revision {rev!r} with an lmlab/ package "
                             f"({archive.stderr.decode(errors='replace').strip()})")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        found = extract(Path(tmp) / "lmlab")
    with open(po_file(language), "rb") as f:
        catalog = read_po(f, locale="zh_Hans_CN")
    known = [m.id for m in catalog if m.id and m.string and not m.fuzzy]
    for text, where in found.items():
        if text in catalog:
            continue
        msg = Message(text, locations=[(w.rsplit(":", 1)[0], None) for w in where[:3]],
                      auto_comments=[f"{PENDING} code from {rev}"])
        close = difflib.get_close_matches(text, known, n=1, cutoff=0.7)
        if close:
            msg.string, msg.previous_id = catalog[close[0]].string, [close[0]]
            msg.flags.add("fuzzy")
        catalog[text] = msg
    buf = io.BytesIO()
    write_po(buf, catalog, width=0, include_previous=True, ignore_obsolete=True, include_lineno=False,
             sort_output=False)
    with atomic_write(po_file(language), "wb") as f:
        f.write(buf.getvalue())
    return [f"{where[0]}: {text[:70]!r}" for text, where in found.items()
            if not (m := catalog.get(text)) or m.fuzzy or not m.string]
