"""``lmlab doctor``: is this machine ready for the lab? Versions, device, preset, offline data, fonts,
bertviz. Each problem comes with the command that fixes it."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any

from lmlab.i18n import N_, _


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _check(fn) -> tuple[bool, str]:
    try:
        return True, fn()
    except Exception as err:  # a doctor reports every failure instead of stopping at the first
        return False, f"{type(err).__name__}: {err}"


def _cjk_font() -> str:
    from lmlab.viz.style import find_cjk_font

    found = find_cjk_font()
    if found is None:
        raise FileNotFoundError("no CJK font: Chinese labels would show as boxes; pip install mplfonts "
                                "(or install fonts-noto-cjk)")
    return f"{found[0]} ({found[1]})"


def _bertviz_offline() -> str:
    from lmlab.viz.attention._assets import offline_bertviz_script

    offline_bertviz_script("head_view", "{}")
    offline_bertviz_script("model_view", "{}")
    from importlib.metadata import version

    return _("yes (bertviz {version}; its scripts, d3 and jQuery found locally)").format(
        version=version("bertviz"))


def diagnose() -> dict[str, Any]:
    """Everything ``lmlab doctor`` reports, as data."""
    import torch

    from lmlab import __version__
    from lmlab.data import EVAL_SETS, cache_dir, eval_set_path, list_corpora, offline
    from lmlab.device import device_report, pick_device, pick_precision
    from lmlab.presets import resolve_preset

    report: dict[str, Any] = {"lmlab": __version__, "python": sys.version.split()[0],
                              "platform": platform.platform(), **device_report()}
    problems: list[str] = []
    ok, dev = _check(pick_device)
    if ok:
        report["device"] = dev.type
        report["precision"] = pick_precision(dev).name
        report["preset"] = resolve_preset(None, dev)
    else:
        problems.append(f"device: {dev}")
        report["device"] = report["precision"] = report["preset"] = None
    rows = list_corpora()
    report["corpora_offline"] = {r["name"]: r["available"] for r in rows if r["available"]}
    report["corpora_need_download"] = [r["name"] for r in rows if not r["available"] and r["url"]]
    report["corpora_mirror_only"] = [r["name"] for r in rows if not r["available"] and not r["url"]]
    report["cache_dir"] = str(cache_dir())
    report["offline_mode"] = offline()
    report["eval_sets"] = {}
    for name in EVAL_SETS:
        ok, msg = _check(lambda n=name: str(eval_set_path(n)))
        report["eval_sets"][name] = msg if ok else None
        if not ok:
            problems.append(f"evaluation set {name}: {msg}")
    ok, msg = _check(_cjk_font)
    report["cjk_font"] = msg if ok else None
    if not ok:
        problems.append(f"CJK font: {msg}")
    ok, msg = _check(_bertviz_offline)
    report["bertviz_offline"] = msg if ok else None
    if not ok:
        problems.append(f"bertviz offline: {msg}")
    from lmlab.threads import apply_thread_share

    share = apply_thread_share()
    report["torch_threads"] = torch.get_num_threads()
    report["threads"] = {"share": share.threads, "source": share.source, "limited": share.limited}
    report["problems"] = problems
    return report


def run(args: argparse.Namespace) -> int:
    report = diagnose()
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    gpu = report["gpu"] or ("MPS (Apple GPU)" if report["mps_available"] else "none")
    share_line = (_("1 thread, from {source} (override: LMLAB_THREADS)") if report["threads"]["share"] == 1
                  else _("{n} threads, from {source} (override: LMLAB_THREADS)"))
    lines = [
        ("lmlab", report["lmlab"]),
        ("python", f"{report['python']} on {report['platform']}"),
        ("torch", f"{report['torch']} (CUDA {report['cuda_version'] or 'not built in'}, "
                  f"{report['torch_threads']} CPU threads)"),
        (N_("CPU share"), share_line.format(n=report["threads"]["share"],
                                            source=report["threads"]["source"])),
        ("GPU", gpu),
        (N_("device"), f"{report['device']}  precision {report['precision']}  preset {report['preset']} "
                   "(override: --device / --preset, LMLAB_DEVICE / LMLAB_PRESET)"),
        (N_("offline data"), ", ".join(f"{k} ({v})" for k, v in report["corpora_offline"].items()) or "none"),
        (N_("needs download"), (", ".join(report["corpora_need_download"]) or _("nothing"))
         + (_(" (run 'lmlab data fetch NAME')") if report["corpora_need_download"] else "")
         + (_("  [LMLAB_OFFLINE=1: downloads disabled]") if report["offline_mode"] else "")),
        (N_("needs a mirror"), ", ".join(report["corpora_mirror_only"]) or _("nothing")),
        (N_("cache"), report["cache_dir"]),
        (N_("eval sets"), ", ".join(k for k, v in report["eval_sets"].items() if v) or "none"),
        (N_("CJK font"), report["cjk_font"] or _("MISSING")),
        (N_("bertviz offline"), report["bertviz_offline"] or _("NO")),
    ]
    lines = [(_(key), value) for key, value in lines]
    width = max(len(k) for k, _value in lines)
    for key, value in lines:
        print(f"{key.rjust(width)}  {value}")
    if report["problems"]:
        print("\n" + _("problems:"))
        for problem in report["problems"]:
            print(f"  - {problem}")
        return 1
    print("\n" + _("all good: python3 scripts/bootstrap.py lab (or lmlab lab) opens the notebooks"))
    return 0
