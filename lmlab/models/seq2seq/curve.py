"""Quality against training time (notebook 06, section 9d): one couplet Transformer trained in stages and
scored on the test couplets after each, free and under the couplet mask, beside the baselines.

The run goes on after an interruption: each finished stage leaves its checkpoint (``stage-K.pt``) and the
scores so far (``stages.json``), and a call with ``resume=True`` starts after the last finished stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STAGES_FILE = "stages.json"  # the curve's finished stages: their scores, so an interrupted curve goes on


def score_stage(model: Any, vocab: Any, test: list, device: Any = "cpu") -> dict[str, Any]:
    """chrF, BLEU and the couplet score (with intervals) of free and constrained greedy answers."""
    from lmlab.models.seq2seq.metrics import scores_with_intervals
    from lmlab.models.seq2seq.trainer import translate_pairs

    sources, refs = [a for a, _ in test], [b for _, b in test]
    model.eval()
    out = {}
    for name, constrained in (("free", False), ("rules", True)):
        answers = translate_pairs(model, vocab, sources, device, constrained=constrained)
        out[name] = {**scores_with_intervals(sources, answers, refs),
                     "examples": [f"{a} → {o}" for a, o in zip(sources[:6], answers, strict=False)]}
    model.train()
    return out


def _finished_stages(out: Path, plan: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The scores of the stages an interrupted curve of the same ``plan`` finished in ``out`` ([] when it
    finished none), or None when ``out`` holds no checkpoint to go on from, or another plan's."""
    if not (out / "ckpt.pt").exists():
        return None
    if not (out / STAGES_FILE).exists():
        return []  # stopped inside the first stage
    try:
        saved = json.loads((out / STAGES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("plan") != plan:
        return None
    return [s for s in saved.get("stages", []) if isinstance(s, dict)]


def _keep_stage(out: Path, k: int, curve: list[dict[str, Any]], plan: dict[str, Any]) -> None:
    """Stage ``k`` is finished: its checkpoint as ``stage-K.pt``, then the scores so far (written last)."""
    from lmlab.atomic import atomic_copy
    from lmlab.train.metrics import write_json_atomic

    atomic_copy(out / "ckpt.pt", out / f"stage-{k}.pt")
    write_json_atomic(out / STAGES_FILE, {"plan": plan, "stages": curve})


def quality_curve(data: Any, vocab: Any, out: str | Path, *, preset: str, stages: dict[str, Any],
                  test_lines: int, device: Any = "cpu", live: Any = None, resume: bool = False,
                  progress: bool = False) -> dict[str, Any]:
    """Train the preset's Transformer in ``stages`` (``{"iters": (...)}`` or ``{"seconds": (...)}`` of
    optimizer steps, summed), scoring ``test_lines`` test couplets after each: ``{"stages": [...],
    "baselines": {...}, "test_lines": n, "examples": [...]}``. The last model is saved in ``out``
    (``ckpt.pt``), each stage's as ``stage-K.pt`` beside the scores so far (``stages.json``).

    ``resume``: an unfinished curve in ``out`` goes on after its last finished stage, from its last
    checkpoint. ``progress``: a bar per stage (a line every 30 s in a log) and a line before each scoring."""
    import torch

    from lmlab.models.seq2seq import build_model
    from lmlab.models.seq2seq.metrics import baseline_answers, scores_with_intervals
    from lmlab.models.seq2seq.trainer import Seq2SeqRecipe, preset_configs
    from lmlab.train.engine import start

    out = Path(out)
    unit = "iters" if "iters" in stages else "seconds"
    ends = list(stages[unit])
    test = (data.test or data.val or data.train)[:test_lines]
    sources, refs = [a for a, _ in test], [b for _, b in test]
    plan = {"preset": preset, "stages": {unit: ends}, "test_lines": len(test), "corpus": data.source}
    finished = _finished_stages(out, plan) if resume else None
    curve = finished or []
    model_cfg, tcfg = preset_configs(preset, "transformer", vocab, data, max_iters=10**9, time_budget_s=None)
    torch.manual_seed(0)
    session = start(Seq2SeqRecipe(tcfg, data, vocab), model=build_model(model_cfg), out=out, device=device,
                    progress=progress, live=live, resume=finished is not None).session
    if curve:
        print(f"quality curve: stage(s) 1-{len(curve)} of {len(ends)} already scored "
              f"({out / STAGES_FILE}); going on from iteration {session.next_iter} "
              f"({session.train_s:.0f} s of training)", flush=True)
    for k, end in enumerate(ends, 1):
        if k <= len(curve):
            continue
        done = session.next_iter if unit == "iters" else session.train_s
        if done < end:
            if unit == "iters":
                result = session.fit(max_iters=int(end), desc=f"stage {k} of {len(ends)}")
            else:  # the budget counts optimizer steps only, summed over the stages
                result = session.fit(time_budget_s=end - done,
                                     desc=f"stage {k} of {len(ends)} ({done:.0f} → {end:.0f} s)")
            if result.interrupted:  # checkpointed (a clean stop): the next run goes on from there
                raise KeyboardInterrupt(f"the quality curve stopped in stage {k} of {len(ends)}")
        if progress:
            print(f"stage {k} of {len(ends)}: {session.next_iter} steps, {session.train_s:.0f} s of "
                  f"training; scoring {len(test)} test couplets ...", flush=True)
        curve.append({"iters": session.next_iter, "train_s": round(session.train_s, 1),
                      "minutes": round(session.train_s / 60, 2),
                      **score_stage(session.model, vocab, test, device)})
        _keep_stage(out, k, curve, plan)
    session.save()
    if progress:
        print(f"scoring the baselines (copy, nearest training pair, lookup table) on {len(test)} test "
              "couplets ...", flush=True)
    base = {name: scores_with_intervals(sources, answers, refs)
            for name, answers in baseline_answers(data.train, sources).items()}
    base["reference"] = {k: v for k, v in scores_with_intervals(sources, refs, refs).items()
                         if k.startswith("couplet")}
    return {"stages": curve, "baselines": base, "test_lines": len(test), "train_s": curve[-1]["train_s"],
            "examples": curve[-1]["rules"]["examples"]}
