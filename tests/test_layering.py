"""Layering: what imports what. No module imports itself through others (plain, lazy and importlib-string
imports counted), models import neither the command line, prepared runs nor translations, the command line
starts without torch, the attention data type sits below models and viz, the tokenizer registry is public,
and no module is imported only for its side effect."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lmlab"


def python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_the_command_line_and_its_help_do_not_import_torch():
    code = ("import sys, contextlib, io\n"
            "import lmlab.cli as cli\n"
            "assert 'torch' not in sys.modules, 'import lmlab.cli'\n"
            "every = [[name] for name in cli.COMMANDS] + [['train', name] for name in cli.TRAINERS]\n"
            "every += [['viz', 'attention'], ['viz', 'embeddings']]\n"
            "for argv in [[]] + every:\n"
            "    argv = argv + ['--help']\n"
            "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "        cli.main(argv)\n"
            "    heavy = {'torch', 'numpy', 'matplotlib'}\n"
            "    loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
            "    assert not loaded, (argv, loaded[:5])\n"
            "print('ok')\n")
    proc = python(code)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_cli_choices_are_the_configs_own_tuples():
    import argparse

    from lmlab import choices
    from lmlab.cli.flags import add_common_flags
    from lmlab.models.transformer import config
    from lmlab.viz import embeddings

    assert config.POS_ENCODINGS is choices.POS_ENCODINGS and config.ACTIVATIONS is choices.ACTIVATIONS
    assert embeddings.METHODS is choices.PROJECTIONS
    parser = argparse.ArgumentParser()
    add_common_flags(parser, corpus="tiny_shakespeare")
    by_dest = {a.dest: a.choices for a in parser._actions if a.choices}
    assert by_dest["preset"] is choices.PRESETS and by_dest["precision"] is choices.PRECISIONS
    source = ast.parse((PACKAGE / "choices.py").read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(source) if isinstance(n, (ast.Import, ast.ImportFrom))
                and "torch" in ast.dump(n)], "lmlab.choices must stay torch-free"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_attention_maps_sit_below_models_and_viz():
    from lmlab.attention_maps import AttentionMaps
    from lmlab.viz.attention import AttentionMaps as from_viz
    from lmlab.viz.attention.maps import AttentionMaps as old_path

    assert AttentionMaps is from_viz is old_path  # the old import path still works
    low = _imports(PACKAGE / "attention_maps.py")
    assert not {m for m in low if m.startswith(("lmlab.models", "lmlab.viz"))}
    for path in (PACKAGE / "models").rglob("*.py"):
        assert not {m for m in _imports(path) if m.startswith("lmlab.viz")}, f"{path} imports lmlab.viz"


def test_free_port_lives_in_lmlab_net():
    import lmlab.distributed
    from lmlab.cli.lab import free_port as from_lab
    from lmlab.net import HOST, free_port

    assert from_lab is free_port and not hasattr(lmlab.distributed, "free_port")  # one home, no alias
    port = free_port()
    import socket

    with socket.socket() as s:
        s.bind((HOST, port))  # it was free
    assert not {m for m in _imports(PACKAGE / "distributed.py") if m.startswith("lmlab.cli")}


def test_no_module_is_imported_only_for_its_side_effect():
    """An unused import (noqa: F401) is allowed only as a re-export kept importable at an old path."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            is_import = line.lstrip().startswith(("import ", "from "))
            if is_import and "noqa: F401" in line and "importable" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders


def test_bpe_checkpoints_load_without_importing_bpe_first():
    made = python("import json\nfrom lmlab.tokenizers.bpe import FastBPETokenizer\n"
                  "tok = FastBPETokenizer.train('to be or not to be ' * 20, vocab_size=270)\n"
                  "print(json.dumps(tok.to_dict()))")
    assert made.returncode == 0, made.stderr
    code = ("import json, sys\n"
            "import lmlab.models.transformer\n"
            "from lmlab.tokenizers import kinds, tokenizer_from_dict\n"
            "assert 'lmlab.tokenizers.bpe' not in sys.modules, 'imported for its side effect'\n"
            "assert 'bpe' in kinds()\n"
            f"tok = tokenizer_from_dict(json.loads({made.stdout.strip()!r}))\n"
            "print(type(tok).__name__, tok.decode(tok.encode('to be')))\n")
    proc = python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["FastBPETokenizer", "to", "be"]


def test_the_tokenizer_registry_is_public():
    import pytest

    from lmlab import tokenizers
    from lmlab.tokenizers import CharTokenizer, get, kinds, register

    assert get("char") is CharTokenizer and {"char", "word", "jieba", "bpe"} <= set(kinds())
    assert get("bpe").kind == "bpe"  # loaded on first use
    with pytest.raises(ValueError, match="unknown tokenizer kind 'morse'; known kinds: bpe"):
        get("morse")
    with pytest.raises(ValueError, match="already registered by CharTokenizer"):
        register(type("Impostor", (), {"kind": "char"}))
    with pytest.raises(TypeError, match="kind"):
        register(type("Nameless", (), {}))
    assert tokenizers.get is get


def test_no_module_reaches_into_the_private_tokenizer_table():
    """Everything outside ``lmlab/tokenizers/base.py`` goes through ``get``/``kinds``, not ``_KINDS``."""
    readers = [str(p.relative_to(ROOT)) for p in (ROOT / "lmlab").rglob("*.py")
               if p.name != "base.py" and "_KINDS" in p.read_text(encoding="utf-8")]
    assert readers == []


def test_every_file_lmlab_writes_goes_through_atomic_write():
    """A direct ``write_text``/``open(..., 'w')``/``torch.save(path)`` would leave half a file on a full
    disk; lmlab writes through ``lmlab.atomic`` (download.py streams to its own temporary, then renames)."""

    direct = re.compile(r"\.write_text\(|\.write_bytes\(|\bopen\([^)]*[\"'][wax]b?\+?[\"']|"
                        r"torch\.save\((?!payload, f\)|.*, buf\))|savefig\((?!f,|buf,)|"
                        r"frames\[0\]\.save\((?!f,)|animation\.save\((?!part,)")  # Pillow, matplotlib GIFs
    allowed = {"lmlab/atomic.py", "lmlab/data/download.py"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        name = str(path.relative_to(ROOT))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if direct.search(line) and name not in allowed and not line.lstrip().startswith("#"):
                offenders.append(f"{name}:{n}: {line.strip()}")
    assert not offenders, offenders


# ---------------------------------------------------------------- the import graph: no circle, low models

_MODULE_STRING = re.compile(r"lmlab(\.\w+)+(:\w*)?")  # "lmlab.a.b" or "lmlab.a.b:function", for importlib


def _module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def import_graph() -> dict[str, set[str]]:
    """lmlab module -> the lmlab modules it imports: ``import``/``from`` anywhere in the file (inside
    functions too) and every string that names a module the way importlib is handed one
    (``"lmlab.cli.prepare"``, ``"lmlab.compress.prepare:compress_job"``)."""
    names = _module_names()
    graph = {}
    for name, path in names.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            found: list[str] = []
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # a relative import
                    base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
                found = [f"{base}.{a.name}" if f"{base}.{a.name}" in names else base for a in node.names]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and _MODULE_STRING.fullmatch(node.value):
                found = [node.value.partition(":")[0]]
            for target in found:
                while target and target not in names:  # lmlab.a.b.Name -> lmlab.a.b
                    target = target.rpartition(".")[0]
                if target.startswith("lmlab") and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of two or more modules (Tarjan): modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_sees_plain_lazy_and_string_imports():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [["a", "b", "c"]]
    names = import_graph()
    assert "lmlab.atomic" in names["lmlab.checkpoint"]  # a lazy import inside a function counts
    assert "lmlab.cli.prepare" in names["lmlab.cli"]  # so does the COMMANDS table's "lmlab.cli.prepare"
    assert "lmlab.tokenizers.bpe" in names["lmlab.tokenizers.base"]  # and a "module:class" string


def test_no_module_of_lmlab_imports_itself_through_others():
    """A circle hides which module is the lower one: prepared runs must not know the jobs that fill them,
    and a lazily loaded tokenizer must not import the registry that loads it."""
    found = circles(import_graph())
    assert not found, found


def test_models_import_neither_the_command_line_nor_prepared_runs_nor_translations():
    """Models sit below the command, the prepared-run cache and the translations: a model's caller
    (lmlab.train, lmlab.viz, a notebook) translates what it prints; script conversion lives in lmlab.data."""
    offenders = [f"{name} imports {target}" for name, targets in import_graph().items()
                 if name.startswith("lmlab.models.") for target in sorted(targets)
                 if target.split(".")[:2] in (["lmlab", "cli"], ["lmlab", "prepared"], ["lmlab", "i18n"])]
    assert not offenders, offenders


def test_the_prepared_run_cache_sits_below_the_command_that_fills_it():
    """``lmlab.prepared`` (the cache a notebook's fit looks itself up in) imports no command line, and a
    notebook reaches the command line only through ``lmlab.cli.main``: no job module, no copy of a notebook's
    training in ``lmlab``, and no load-or-train lookup in a cell."""
    graph = import_graph()
    assert not {t for t in graph["lmlab.prepared"] if t.startswith("lmlab.cli")}, graph["lmlab.prepared"]
    offenders = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lmlab.cli."):
                offenders.append(f"{path.name} imports {node.module}")
            if isinstance(node, ast.Name) and node.id == "find_prepared":
                offenders.append(f"{path.name} looks a prepared run up itself (find_prepared)")
    assert not offenders, offenders
