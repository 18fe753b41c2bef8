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


def train(arch: str, preset: str, pairs: tuple[Any, Any], corpus: str, out: Path,
          device: Any) -> tuple[dict[str, Any], list[str]]:
    """Train ``arch`` as notebook 06's ``train(arch)`` does, into ``out``: (metrics, samples)."""
    import torch

    from lmlab.models.seq2seq import build_model
    from lmlab.models.seq2seq.trainer import make_session, preset_configs, translate_pairs

    data, vocab = pairs
    model_cfg, tcfg = preset_configs(preset, arch, vocab, data)
    torch.manual_seed(0)
    session = make_session(build_model(model_cfg), data, vocab, tcfg, out=out, device=device, progress=False,
                           live=live_recorder(arch, Path(out)))
    session.fit()
    session.save()
    history = session.history
    metrics = {"arch": arch, "iters": session.next_iter, "train_s": session.train_s,
               "val_loss": history.last("val_loss"), "val_chrf": history.last("val_chrf")}
    lines = [s for s in sample_lines() if len(s) < model_cfg.max_len]
    outputs = translate_pairs(session.model.eval(), vocab, lines, device)
    return metrics, [f"{a} → {b}" for a, b in zip(lines, outputs, strict=True)]


def rnn_job(preset: str, pairs: Any, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 06's GRU encoder–decoder."""
    return train("rnn", preset, pairs, corpus, out, device)


def rnn_attention_job(preset: str, pairs: Any, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 06's GRU with additive attention."""
    return train("rnn-attention", preset, pairs, corpus, out, device)


def transformer_job(preset: str, pairs: Any, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 06's Transformer."""
    return train("transformer", preset, pairs, corpus, out, device)


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


def quality_curve_job(preset: str, pairs: tuple[Any, Any], corpus: str, out: Path,
                      device: Any) -> tuple[dict, list]:
    """Train the Transformer in stages, scoring after each: {"stages": [...], "baselines": {...}}; the
    last model is saved in ``out`` (``ckpt.pt``), for its cross-attention map."""
    import torch

    from lmlab.models.seq2seq import build_model
    from lmlab.models.seq2seq.metrics import baseline_answers, scores_with_intervals
    from lmlab.models.seq2seq.trainer import make_session, preset_configs

    data, vocab = pairs
    stages = CURVE_STAGES[preset]
    test = (data.test or data.val or data.train)[:CURVE_TEST[preset]]
    sources, refs = [a for a, _ in test], [b for _, b in test]
    model_cfg, tcfg = preset_configs(preset, "transformer", vocab, data, max_iters=10**9, time_budget_s=None)
    torch.manual_seed(0)
    session = make_session(build_model(model_cfg), data, vocab, tcfg, out=out, device=device, progress=False,
                           live=live_recorder(_("the Transformer, in stages"), Path(out)))
    curve = []
    for stage in stages.get("iters", stages.get("seconds", ())):
        if "iters" in stages:
            session.fit(max_iters=int(stage))
        else:  # the budget counts optimizer steps only, summed over the stages
            session.fit(time_budget_s=max(0.0, stage - session.train_s))
        curve.append({"iters": session.next_iter, "train_s": round(session.train_s, 1),
                      "minutes": round(session.train_s / 60, 2),
                      **score_stage(session.model, vocab, test, device)})
    session.save()
    base = {name: scores_with_intervals(sources, answers, refs)
            for name, answers in baseline_answers(data.train, sources).items()}
    base["reference"] = {k: v for k, v in scores_with_intervals(sources, refs, refs).items()
                         if k.startswith("couplet")}
    last = curve[-1]["rules"]["examples"]
    return {"stages": curve, "baselines": base, "test_lines": len(test)}, last
