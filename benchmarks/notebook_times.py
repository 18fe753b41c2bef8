"""How long each notebook takes top to bottom, with the models prepared ahead and without them.

    python benchmarks/notebook_times.py --preset class              # every notebook, both ways
    python benchmarks/notebook_times.py --preset class 03_transformer --mode prepared

"prepared": ``lmlab prepare`` first trains the notebook's models into a fresh folder (not timed, reported
as ``prepare_s``), then the notebook runs with that folder as its cache, so it loads them. "fresh": the
notebook runs with an empty cache and trains everything itself. Each run happens in a copy of the
notebooks folder, so no ``runs/`` left by an earlier notebook is found. Prints one JSON object; the
target for a lesson is ``target_s`` per notebook with prepared models.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_S = 180.0


def run_notebook(path: Path, env: dict[str, str], timeout: int) -> tuple[float, list[str], int]:
    """Execute a copy of ``path`` in a scratch folder: (seconds, errors, prepared runs it loaded)."""
    import nbformat

    from lmlab.cli.site import execute

    with tempfile.TemporaryDirectory(prefix="lmlab-nbtime-") as scratch:
        copy = Path(scratch) / path.name
        shutil.copy(path, copy)
        nb = nbformat.read(copy, as_version=4)
        t0 = time.perf_counter()
        errors = execute(nb, Path(scratch), env, timeout)
        seconds = time.perf_counter() - t0
    said = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    return seconds, errors, said.count("✓ loaded the prepared run") + said.count("✓ using the prepared run")


def prepare(names: list[str], preset: str, dest: Path, env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """Train the notebooks' prepared runs into ``dest`` with ``lmlab prepare`` (which runs the notebooks that
    train, and those whose models a later one loads: ``find_checkpoint(..., notebook="03_transformer")``):
    (seconds, seconds per run)."""
    from lmlab.cli.lab import default_notebook_dir
    from lmlab.cli.prepare import training_notebooks

    folder = default_notebook_dir()
    trains = {p.stem for p in training_notebooks(folder)}
    wanted = set()
    for name in names:
        source = (folder / f"{name}.py").read_text(encoding="utf-8")
        wanted |= set(re.findall(r'notebook="(\d\d_\w+)"', source))  # 04 and 05 load 03's GPT
        if name in trains:
            wanted.add(name)
    t0 = time.perf_counter()
    said = ""
    if wanted:
        said = subprocess.run([sys.executable, "-m", "lmlab", "prepare", *sorted(wanted), "--preset", preset,
                               "--dest", str(dest)], env=env, check=True, capture_output=True,
                              text=True).stdout
    units = {"s": 1, "min": 60, "h": 3600}
    per_run = {m[1]: float(m[2]) * units[m[3]]
               for m in re.finditer(r"lmlab prepare: (\S+) done in ([\d.]+) (s|min|h) ", said)}
    return time.perf_counter() - t0, per_run


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="notebooks, e.g. 03_transformer (default: all)")
    p.add_argument("--preset", default="class", choices=("smoke", "class", "full"))
    p.add_argument("--mode", default="both", choices=("both", "prepared", "fresh"))
    p.add_argument("--timeout", type=int, default=3600, help="seconds a cell may run")
    args = p.parse_args(argv)
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.names:
        paths = [q for q in paths if q.stem in args.names]
        if not paths:
            raise SystemExit(f"no notebook among {args.names}")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LMLAB_PRESET", "LMLAB_CACHE_DIR",
                                                                    "LMLAB_RETRAIN"))}
    base.update(LMLAB_PRESET=args.preset, PYTHONPATH=os.pathsep.join([str(ROOT), base.get("PYTHONPATH", "")]))
    report: dict = {"preset": args.preset, "target_s": TARGET_S, "cpus": os.cpu_count(),
                    "loadavg": os.getloadavg()[0] if hasattr(os, "getloadavg") else None, "notebooks": {}}
    modes = ["prepared", "fresh"] if args.mode == "both" else [args.mode]
    with tempfile.TemporaryDirectory(prefix="lmlab-nbtime-cache-") as tmp:
        prepared_cache, fresh_cache = Path(tmp) / "prepared", Path(tmp) / "fresh"
        prepared_cache.mkdir()
        fresh_cache.mkdir()
        if "prepared" in modes:
            seconds, per_run = prepare([q.stem for q in paths], args.preset, prepared_cache,
                                       {**base, "LMLAB_CACHE_DIR": str(prepared_cache)})
            report["prepare_s"], report["prepare_runs_s"] = round(seconds, 1), per_run
        for path in paths:
            row = report["notebooks"].setdefault(path.stem, {})
            for mode in modes:
                cache = prepared_cache if mode == "prepared" else fresh_cache
                seconds, errors, loaded = run_notebook(path, {**base, "LMLAB_CACHE_DIR": str(cache)},
                                                       args.timeout)
                row[f"{mode}_s"] = round(seconds, 1)
                row[f"{mode}_runs_loaded"] = loaded
                if errors:
                    row[f"{mode}_errors"] = errors
            if "prepared_s" in row:
                row["within_target"] = row["prepared_s"] <= TARGET_S
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
