"""Notebook 06's couplet models for ``lmlab prepare``: the same data, sizes and seed as its ``train`` cell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmlab.i18n import _
from lmlab.prepared import COUPLETS, CURVE_STAGES, CURVE_TEST, live_recorder, reversal_sizes

SAMPLE_LINES = ("白日依山盡", "床前明月光", "春眠不覺曉")


def sample_lines() -> list[str]:
    """The lines a prepared run answers, in the edition's script (as the model was trained)."""
    from lmlab.data import edition_script, to_simplified

    return to_simplified(list(SAMPLE_LINES)) if edition_script() == "simplified" else list(SAMPLE_LINES)


def couplets(preset: str) -> tuple[tuple[Any, Any], str]:
    """((couplet data, vocabulary), corpus name) exactly as notebook 06 builds them."""
    from lmlab.models.seq2seq import Seq2SeqVocab, load_couplets
    from lmlab.models.seq2seq.couplets import written_in
    from lmlab.models.seq2seq.trainer import PRESETS
    from lmlab.presets import preset_values

    values = preset_values(PRESETS, preset)
    data = load_couplets(max_pairs=values["max_pairs"], couplets=COUPLETS)
    vocab = Seq2SeqVocab.fit([s for pair in data.train for s in pair], values["max_vocab"])
    return (written_in(data, set(vocab.chars.itos)), vocab), data.source


def train(arch: str, preset: str, pairs: tuple[Any, Any], corpus: str, out: Path, device: Any, *,
          resume: bool = False, progress: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Train ``arch`` as notebook 06's ``train(arch)`` does, into ``out``: (metrics, samples). ``resume``: go
    on from ``out/ckpt.pt`` when an interrupted run left one (its time budget counts the seconds before)."""
    import torch

    from lmlab.models.seq2seq import build_model
    from lmlab.models.seq2seq.trainer import make_session, preset_configs, translate_pairs

    data, vocab = pairs
    model_cfg, tcfg = preset_configs(preset, arch, vocab, data)
    torch.manual_seed(0)
    session = make_session(build_model(model_cfg), data, vocab, tcfg, out=out, device=device,
                           progress=progress, live=live_recorder(arch, Path(out)),
                           resume=resume and (Path(out) / "ckpt.pt").exists())
    if session.fit().interrupted:  # checkpointed (a clean stop): never recorded as a finished run
        raise KeyboardInterrupt(f"{arch} stopped at iteration {session.next_iter}")
    session.save()
    history = session.history
    metrics = {"arch": arch, "iters": session.next_iter, "train_s": session.train_s,
               "val_loss": history.last("val_loss"), "val_chrf": history.last("val_chrf")}
    lines = [s for s in sample_lines() if len(s) < model_cfg.max_len]
    outputs = translate_pairs(session.model.eval(), vocab, lines, device)
    return metrics, [f"{a} → {b}" for a, b in zip(lines, outputs, strict=True)]


def rnn_job(preset: str, pairs: Any, corpus: str, out: Path, device: Any, **options: Any
            ) -> tuple[dict, list]:
    """Notebook 06's GRU encoder–decoder."""
    return train("rnn", preset, pairs, corpus, out, device, **options)


def rnn_attention_job(preset: str, pairs: Any, corpus: str, out: Path, device: Any, **options: Any
                      ) -> tuple[dict, list]:
    """Notebook 06's GRU with additive attention."""
    return train("rnn-attention", preset, pairs, corpus, out, device, **options)


def transformer_job(preset: str, pairs: Any, corpus: str, out: Path, device: Any, **options: Any
                    ) -> tuple[dict, list]:
    """Notebook 06's Transformer."""
    return train("transformer", preset, pairs, corpus, out, device, **options)


# notebook 06's "where one vector breaks": both RNNs reverse digit strings for the same time
DIGITS = "一二三四五六七八九十"
REVERSAL = "reversed digit strings"


def reversal(preset: str) -> tuple[tuple[Any, Any], str]:
    """((the reversal pairs, their vocabulary), name): the same strings as notebook 06 draws (seed 0)."""
    import random

    from lmlab.models.seq2seq import Seq2SeqVocab
    from lmlab.models.seq2seq.couplets import CoupletData

    rng = random.Random(0)

    def reversal_pairs(n: int) -> list[tuple[str, str]]:
        strings = ["".join(rng.choice(DIGITS) for _ in range(rng.randint(2, 16))) for _ in range(n)]
        return [(s, s[::-1]) for s in strings]

    n_toy = reversal_sizes(preset)["n_toy"]
    toy = CoupletData(reversal_pairs(n_toy), reversal_pairs(100), reversal_pairs(400), REVERSAL)
    return (toy, Seq2SeqVocab.fit([DIGITS])), REVERSAL


def reversal_job(preset: str, pairs: tuple[Any, Any], corpus: str, out: Path,
                 device: Any) -> tuple[dict, list]:
    """Both RNNs on the reversal task: {"accuracy": {arch: {source length: [share right per string]}}}."""
    import torch

    from lmlab.models.seq2seq import build_model
    from lmlab.models.seq2seq.trainer import make_session, preset_configs, translate_pairs

    toy, toy_vocab = pairs
    sizes = reversal_sizes(preset)
    accuracy: dict[str, dict[int, list[float]]] = {}
    for arch in ("rnn", "rnn-attention"):
        cfg, tcfg = preset_configs(preset, arch, toy_vocab, toy, eval_pairs=sizes["eval_pairs"],
                                   time_budget_s=sizes["time_budget_s"])
        torch.manual_seed(0)
        session = make_session(build_model(cfg), toy, toy_vocab, tcfg, device=device, progress=False)
        session.fit()
        outputs = translate_pairs(session.model.eval(), toy_vocab, [a for a, _ in toy.test], device)
        for (a, b), o in zip(toy.test, outputs, strict=True):
            hits = sum(x == y for x, y in zip(o, b, strict=False))
            accuracy.setdefault(arch, {}).setdefault(len(a), []).append(hits / len(b))
    return {"accuracy": accuracy}, []


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


STAGES_FILE = "stages.json"  # the curve's finished stages: their scores, so an interrupted curve goes on


def _finished_stages(out: Path, plan: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The scores of the stages an interrupted curve of the same ``plan`` finished in ``out`` ([] when it
    finished none), or None when ``out`` holds no checkpoint to go on from, or another plan's."""
    import json

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


def quality_curve_job(preset: str, pairs: tuple[Any, Any], corpus: str, out: Path, device: Any, *,
                      resume: bool = False, progress: bool = False) -> tuple[dict, list]:
    """Train the Transformer in stages, scoring after each: {"stages": [...], "baselines": {...}}; the
    last model is saved in ``out`` (``ckpt.pt``), for its cross-attention map, and each stage's as
    ``stage-K.pt`` beside the scores so far (``stages.json``).

    ``resume``: an unfinished curve in ``out`` goes on after its last finished stage, from its last
    checkpoint (``lmlab prepare`` resumes so). ``progress``: a bar per stage (a line every 30 s in a log)
    and a line before each scoring."""
    import torch

    from lmlab.models.seq2seq import build_model
    from lmlab.models.seq2seq.metrics import baseline_answers, scores_with_intervals
    from lmlab.models.seq2seq.trainer import make_session, preset_configs

    data, vocab = pairs
    out = Path(out)
    stages = CURVE_STAGES[preset]
    unit = "iters" if "iters" in stages else "seconds"
    ends = list(stages[unit])
    test = (data.test or data.val or data.train)[:CURVE_TEST[preset]]
    sources, refs = [a for a, _ in test], [b for _, b in test]
    plan = {"preset": preset, "stages": {unit: ends}, "test_lines": len(test), "corpus": corpus}
    finished = _finished_stages(out, plan) if resume else None
    curve = finished or []
    model_cfg, tcfg = preset_configs(preset, "transformer", vocab, data, max_iters=10**9, time_budget_s=None)
    torch.manual_seed(0)
    session = make_session(build_model(model_cfg), data, vocab, tcfg, out=out, device=device,
                           progress=progress, live=live_recorder(_("the Transformer, in stages"), out),
                           resume=finished is not None)
    if curve:
        print(f"06_quality_curve: stage(s) 1-{len(curve)} of {len(ends)} already scored "
              f"({out / STAGES_FILE}); going on from iteration {session.next_iter} "
              f"({session.train_s:.0f} s of training)",
              flush=True)
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
    last = curve[-1]["rules"]["examples"]
    return {"stages": curve, "baselines": base, "test_lines": len(test)}, last
