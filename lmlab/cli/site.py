"""``lmlab site``: execute the notebooks and render them as a static HTML site a class can browse offline.

Every page is self-contained: figures are inline PNGs, the stylesheet is inlined, formulas are drawn as
inline SVG by matplotlib's mathtext (no MathJax from a CDN), and no page loads anything from the network.
``--teacher`` runs with ``LMLAB_TEACHER=1`` (solutions shown by ``lmlab.exercises.solution``).

    lmlab site --preset smoke --out site            # every notebook, then open site/index.html
    lmlab site 00_welcome --no-execute              # render the committed notebook only
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmlab.presets import PRESETS

# script/link/img/iframe tags that point off this page (CDN require.js, MathJax, widget renderers)
_REMOTE_TAG = re.compile(r"""<(script|link|iframe|img)\b[^>]*?\b(?:src|href)\s*=\s*["']?(?:https?:)?//"""
                         r"""[^>]*>(?:\s*</script>)?""", re.I)
# inline scripts that import from a CDN (nbconvert's mermaid loader); MathJax config is harmless but dead
_REMOTE_SCRIPT = re.compile(
    r"<script\b[^>]*>(?:(?!</script>).)*?(?:https?:)?//cdn(?:(?!</script>).)*</script>"
    r"|<script type=\"text/x-mathjax-config\">(?:(?!</script>).)*</script>", re.S | re.I)
_BLOCK_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
# $...$ not glued to a word (prices: "$5 and $6"), except a super/subscript after one: unigram$^{0.75}$
_INLINE_MATH = re.compile(r"(?:(?<![\\$\w])|(?<=\w)(?=\$[\^_]))\$(?!\s)([^$\n]+?)(?<![\s\\])\$(?![\w$])")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", help="notebooks to include, e.g. 00_welcome (default: all)")
    p.add_argument("--out", default="site", help="output folder (default: site/)")
    p.add_argument("--notebooks", default=None, help="notebook folder (default: the lab's notebooks/)")
    p.add_argument("--preset", choices=PRESETS, default=None,
                   help="preset the notebooks run in (default: $LMLAB_PRESET, else from the device)")
    p.add_argument("--teacher", action="store_true", help="teacher build: LMLAB_TEACHER=1, solutions shown")
    p.add_argument("--no-execute", action="store_true",
                   help="render the notebooks as they are, without running them")
    p.add_argument("--timeout", type=int, default=1800, help="seconds a single cell may run (default 1800)")
    p.add_argument("--lang", choices=("en", "zh", "both"), default="en",
                   help="edition: en (notebooks/), zh (notebooks/zh/, 中文版) or both (Chinese in OUT/zh/)")


@dataclass
class Page:
    name: str
    title: str
    html_file: str
    seconds: float
    errors: list[str]
    figures: int


def notebook_paths(folder: Path, names: list[str]) -> list[Path]:
    """The ``.ipynb`` files to render, in order; unknown names are an error naming what exists."""
    found = sorted(folder.glob("*.ipynb"))
    if not names:
        if not found:
            raise FileNotFoundError(f"no notebooks (*.ipynb) in {folder}; pass --notebooks FOLDER")
        return found
    by_stem = {p.stem: p for p in found}
    chosen = []
    for name in names:
        stem = Path(name).stem
        if stem not in by_stem:
            raise ValueError(f"no notebook {name!r} in {folder}; choose from {', '.join(sorted(by_stem))}")
        chosen.append(by_stem[stem])
    return chosen


def math_svg(tex: str, *, display: bool) -> str | None:
    """A formula as an inline ``<img>`` (SVG drawn by mathtext), or None when mathtext cannot draw it."""
    import warnings

    from matplotlib import mathtext

    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mathtext.math_to_image(f"${' '.join(tex.split())}$", buf, format="svg",
                                   dpi=100 if display else 90)
    except Exception:  # unsupported TeX: keep the source, readable as is
        return None
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    style = "display:block;margin:0.6em auto" if display else "vertical-align:middle"
    return (f'<img class="lmlab-math" alt="{html.escape(tex, quote=True)}" style="{style}" '
            f'src="data:image/svg+xml;base64,{data}">')


def render_math(markdown: str) -> str:
    """Replace ``$$...$$`` and ``$...$`` outside code with inline SVG pictures of the formulas."""
    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):  # even parts are outside code spans/blocks

        def block(m: re.Match) -> str:
            return math_svg(m.group(1), display=True) or m.group(0)

        def inline(m: re.Match) -> str:
            return math_svg(m.group(1), display=False) or m.group(0)

        parts[i] = _INLINE_MATH.sub(inline, _BLOCK_MATH.sub(block, parts[i]))
    return "".join(parts)


def execute(nb: Any, folder: Path, env: dict[str, str], timeout: int | None,
            on_output: Any = None) -> list[str]:
    """Run a notebook in its folder; returns the errors (name: message) of the cells that failed.
    ``on_output(text)`` sees what the kernel prints, as it prints it (``lmlab prepare`` shows progress so).

    The kernel talks to us over Unix sockets in a private folder where the platform has them: no TCP port,
    and none of the kernel's "running over TCP without encryption" warning in the logs."""
    import tempfile

    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="lmlab-kernel-") as private:
        km = KernelManager(kernel_name="python3")
        if os.name == "posix":
            km.transport, km.ip = "ipc", str(Path(private) / "kernel")
        client = _client_class(on_output)(nb, km=km, timeout=timeout, kernel_name="python3",
                                          allow_errors=True, resources={"metadata": {"path": str(folder)}})
        try:
            client.execute(env=env)
        finally:  # nbclient leaves a kernel it was handed running: one per notebook until lmlab exits
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    return [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(nb.cells)
            for o in c.get("outputs", []) if o.output_type == "error"]


def _client_class(on_output: Any) -> Any:
    """nbclient's client, or one that also hands each printed text to ``on_output``."""
    from nbclient import NotebookClient

    if on_output is None:
        return NotebookClient

    class Echoing(NotebookClient):
        def output(self, outs: Any, msg: dict, display_id: Any, cell_index: int) -> Any:
            if msg.get("msg_type") == "stream":
                on_output(msg["content"].get("text", ""))
            return super().output(outs, msg, display_id, cell_index)

    return Echoing


def to_html(nb: Any, *, banner: str) -> str:
    """One self-contained HTML page: inline CSS, inline figures, SVG formulas, no remote scripts."""
    import copy

    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = render_math(cell.source)
    widgets = nb.metadata.pop("widgets", {})  # live widgets need a kernel; the page shows their last state
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            _static_widget(output, state)
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    body, _ = exporter.from_notebook_node(nb)
    body = _REMOTE_SCRIPT.sub("", _REMOTE_TAG.sub("", body))
    # the banner goes right after the opening <body ...> tag
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + "\n" + banner, body, count=1)


_WIDGET_NOTE = ('<p class="lmlab-widget-note" style="color:#666;font-style:italic">'
                "an interactive control is here: open the notebook in the lab (lmlab lab) to use it</p>")


def progress_html(model_id: str, state: dict) -> str | None:
    """A progress bar (tqdm's HBox of label, bar, counts) as static HTML in its final state, else None."""
    box = state.get(model_id, {})
    if box.get("model_name") != "HBoxModel":
        return None
    children = box.get("state", {}).get("children", [])
    parts = [state.get(str(c).removeprefix("IPY_MODEL_"), {}) for c in children]
    bars = [p["state"] for p in parts if p.get("model_name") in ("FloatProgressModel", "IntProgressModel")]
    if len(bars) != 1:
        return None
    texts = [p["state"].get("value", "") for p in parts if p.get("model_name") == "HTMLModel"]
    left, right = (texts + ["", ""])[:2]
    bar = bars[0]
    return (f'<div class="lmlab-progress" style="font:13px monospace">{left} '
            f'<progress value="{bar.get("value", 0)}" max="{bar.get("max", 100)}"></progress> {right}</div>')


def _static_widget(output: Any, state: dict | None = None) -> None:
    """A widget's raw repr (``interactive(children=(FloatSlider(...`` ) says nothing on a static page:
    progress bars are drawn in the state they ended in, other controls replaced by a short note."""
    data = output.get("data", {})
    if "application/vnd.jupyter.widget-view+json" not in data:
        return
    bar = progress_html(data["application/vnd.jupyter.widget-view+json"].get("model_id", ""), state or {})
    if bar is not None:
        output["data"] = {"text/html": bar}
        return
    text = data.get("text/plain", "")
    if re.match(r"^\w+\(", text) and "children=" in text or not text.strip():
        output["data"] = {"text/html": _WIDGET_NOTE}


def _title(nb: Any, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return fallback


def _figures(nb: Any) -> int:
    return sum(1 for c in nb.cells for o in c.get("outputs", [])
               if {"image/png", "image/svg+xml"} & set(o.get("data", {})))


def build_site(paths: list[Path], out: Path, *, preset: str, teacher: bool, run: bool,
               timeout: int) -> list[Page]:
    """Execute (optionally) and render each notebook into ``out``; write ``out/index.html``."""
    import nbformat

    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LMLAB_PRESET": preset}
    if teacher:
        env["LMLAB_TEACHER"] = "1"
    else:
        env.pop("LMLAB_TEACHER", None)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    kind = "teacher build (solutions shown)" if teacher else "student build"
    pages = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        doing = "running" if run else "rendering"
        print(f"lmlab site: {doing} {path.name} (preset {preset}) ...", flush=True)
        errors = execute(nb, path.parent, env, timeout) if run else []
        seconds = time.perf_counter() - t0
        banner = (f'<div class="lmlab-banner" style="padding:0.5em 1em;background:#eef3f8;'
                  f'font:14px sans-serif">lmlab · {html.escape(path.stem)} · '
                  f'{"executed in preset " + preset if run else "not executed"} · {kind} · {stamp} · '
                  '<a href="index.html">all notebooks</a></div>')
        html_file = f"{path.stem}.html"
        _write(out / html_file, to_html(nb, banner=banner))
        pages.append(Page(path.stem, _title(nb, path.stem), html_file, seconds, errors, _figures(nb)))
        state = f"{len(errors)} error(s)" if errors else "ok"
        print(f"  {state}, {pages[-1].figures} figures, {seconds:.0f} s -> {out / html_file}", flush=True)
    _write(out / "index.html", _index(pages, preset=preset, kind=kind, stamp=stamp, run=run))
    return pages


def _write(path: Path, text: str) -> None:
    from lmlab.atomic import atomic_write

    with atomic_write(path) as f:  # a full disk leaves the previous page whole, never half of one
        f.write(text)


def _index(pages: list[Page], *, preset: str, kind: str, stamp: str, run: bool) -> str:
    rows = "\n".join(
        f'<tr><td><a href="{p.html_file}">{html.escape(p.name)}</a></td><td>{html.escape(p.title)}</td>'
        f'<td>{p.figures}</td><td>{p.seconds:.0f} s</td>'
        f'<td>{"⚠ " + html.escape("; ".join(p.errors)) if p.errors else "ok"}</td></tr>' for p in pages)
    executed = f"Executed in the <b>{html.escape(preset)}</b> preset" if run else "Not executed"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lmlab notebooks</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:.4em;text-align:left}}</style>
</head><body>
<h1>lmlab notebooks</h1>
<p>{executed} · {kind} · {stamp}.
Every page works offline: figures and formulas are inside the page.</p>
<table><tr><th>notebook</th><th>title</th><th>figures</th><th>run time</th><th>status</th></tr>
{rows}
</table></body></html>
"""


def run(args: argparse.Namespace) -> int:
    from lmlab.cli.lab import default_notebook_dir
    from lmlab.presets import resolve_preset

    base = Path(args.notebooks).expanduser().resolve() if args.notebooks else default_notebook_dir()
    lang = getattr(args, "lang", "en")
    # (notebook folder, output folder) per edition: the Chinese one lives in notebooks/zh, pages in OUT/zh
    editions = {"en": [(base, "")], "zh": [(base / "zh", "")],
                "both": [(base, ""), (base / "zh", "zh")]}[lang]
    if args.timeout <= 0:
        raise ValueError(f"--timeout {args.timeout} must be a positive number of seconds")
    for folder, _sub in editions:
        if not folder.is_dir():
            raise FileNotFoundError(f"notebook folder {str(folder)!r} does not exist; pass --notebooks "
                                    "FOLDER")
    preset = resolve_preset(args.preset)
    out = Path(args.out).expanduser().resolve()
    pages = []
    for folder, sub in editions:
        pages += build_site(notebook_paths(folder, args.names), out / sub if sub else out, preset=preset,
                            teacher=args.teacher, run=not args.no_execute, timeout=args.timeout)
    failed = [p.name for p in pages if p.errors]
    print(f"lmlab site: {len(pages)} notebook(s) -> {out / 'index.html'}"
          + (f"; errors in {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0
