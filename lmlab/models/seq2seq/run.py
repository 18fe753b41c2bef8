"""``lmlab train seq2seq`` flags -> data, vocabulary, model and session; the evaluation on the test split.

metrics.json holds: iters, train/val loss, best_val_loss, val chrF, test BLEU/chrF (greedy and beam) next to
the two baselines on the same test pairs, couplet checks, tokens_per_sec (source + target tokens per
second of optimizer steps), wall_s (the whole run), train_s (optimizer steps only; both summed over resumed
parts), stopped / diverged_at / interrupted / out_of_time, params, config (the trainer contract).
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

import torch

from lmlab.data.corpora import edition_script
from lmlab.models.seq2seq.config import Seq2SeqConfig
from lmlab.models.seq2seq.couplets import CoupletData, load_couplets, written_in
from lmlab.models.seq2seq.metrics import (
    baseline_answers,
    baselines,
    bleu_chrf,
    couplet_checks,
    scores_with_intervals,
)
from lmlab.models.seq2seq.trainer import (
    MODEL_KEYS,
    PRESETS,
    Seq2SeqRecipe,
    TrainConfig,
    data_max_len,
    translate_pairs,
)
from lmlab.models.seq2seq.vocab import Seq2SeqVocab
from lmlab.recipes import field_names, pick
from lmlab.train.engine import train
from lmlab.train.run import finish_run, start_run

TRAIN_KEYS = field_names(TrainConfig)


def evaluate_test(model: Any, vocab: Seq2SeqVocab, data: CoupletData, n: int, device: Any = "cpu",
                  beam_width: int = 4, constrained: bool = False) -> dict[str, Any]:
    """Greedy and beam BLEU/chrF and couplet checks on the first ``n`` test pairs, baselines beside;
    ``constrained`` adds greedy and beam under the couplet rules' mask; ``intervals`` holds chrF, BLEU and
    the couplet score with 95% bootstrap intervals for every system and the references."""
    from lmlab.models.seq2seq.translate import translate

    test = (data.test or data.val or data.train)[:n]
    sources, refs = [a for a, _ in test], [b for _, b in test]
    model.eval()
    greedy_out = translate_pairs(model, vocab, sources, device)
    beam_n = min(len(test), 200)  # beam search decodes one source at a time: a subset keeps it short
    beam_out = [translate(model, vocab, s, width=beam_width).output for s in sources[:beam_n]]
    answers = {**baseline_answers(data.train, sources), "greedy": greedy_out}
    if constrained:
        answers["greedy_constrained"] = translate_pairs(model, vocab, sources, device, constrained=True)
        answers[f"beam{beam_width}_constrained"] = [
            translate(model, vocab, s, width=beam_width, constrained=True).output for s in sources[:beam_n]]
    intervals = {name: scores_with_intervals(sources[:len(out)], out, refs[:len(out)])
                 for name, out in answers.items()}
    intervals["reference"] = {k: v for k, v in scores_with_intervals(sources, refs, refs).items()
                              if k.startswith("couplet")}
    return {
        "intervals": intervals, "near_duplicates_dropped": data.near_duplicates,
        "test_pairs": len(test), "split": "test" if data.test else "val" if data.val else "train",
        "greedy": {**bleu_chrf(greedy_out, refs), **couplet_checks(sources, greedy_out)},
        f"beam{beam_width}": {"pairs": beam_n, **bleu_chrf(beam_out, refs[:beam_n]),
                              **couplet_checks(sources[:beam_n], beam_out)},
        "reference": couplet_checks(sources, refs),
        "baselines": baselines(data.train, test),
        "examples": [{"source": s, "reference": r, "greedy": g} for s, r, g in
                     list(zip(sources, refs, greedy_out, strict=True))[:8]],
    }


def run(flags: dict[str, Any]) -> dict[str, Any]:
    """Build everything from CLI-style flags (None = the preset's value), train, evaluate, write metrics."""
    from lmlab.models.seq2seq import build_model

    if flags.get("post_ln") is not None and flags.get("norm_first") is None:
        flags = {**flags, "norm_first": not flags["post_ln"]}
    r = start_run(flags, PRESETS, (*MODEL_KEYS, *TRAIN_KEYS, "max_vocab", "max_pairs"), kind="seq2seq")
    values, payload, device, out, seed = r.values, r.payload, r.device, r.out, r.seed
    script = edition_script(flags.get("script"))  # no --script: the edition's (LMLAB_LANG)
    kind = flags.get("couplets") or "middle"
    data = load_couplets(flags.get("pairs"), script=script, max_pairs=values.get("max_pairs"), seed=0,
                         couplets=kind)
    names = {f.name for f in fields(Seq2SeqConfig)}
    if payload is not None:
        vocab = Seq2SeqVocab.from_dict(payload["tokenizer"])
        saved = {k: v for k, v in payload["config"].items() if k in names}
        r.keep_saved(saved, MODEL_KEYS)
    else:
        vocab = Seq2SeqVocab.fit([s for p in data.train for s in p], values.get("max_vocab"))
    data = written_in(data, set(vocab.chars.itos))
    if flags.get("pairs") is None:
        print(f"data: {data.note.split('; ')[-1]}", flush=True)
    if values.get("max_len") is None:
        values["max_len"] = data_max_len(data)
    values["arch"] = flags.get("arch") or values.get("arch") or "transformer"
    model_cfg = Seq2SeqConfig(vocab_size=vocab.vocab_size,
                              **{k: values[k] for k in MODEL_KEYS if values.get(k) is not None})
    if payload is not None:
        from lmlab.checkpoint import check_config

        check_config(saved, asdict(model_cfg))
    tcfg = pick(values, TrainConfig, seed=seed)
    model = build_model(model_cfg)
    record = {"arch": model_cfg.arch, "preset": r.preset, "device": str(device), "seed": seed,
              "script": script,
              "couplets": kind, "near_duplicates_dropped": data.near_duplicates,
              "pairs": flags.get("pairs"), "data": data.source, **values, **asdict(model_cfg),
              **{k: v for k, v in asdict(tcfg).items()}}
    run = train(Seq2SeqRecipe(tcfg, data, vocab, config_extra={"script": script}), model=model, out=out,
                device=device, resume=payload or False, progress=r.progress, wall_start=r.wall_start,
                in_memory=False)
    metrics = {**run.metrics, "tokens_per_sec": round(run.metrics["tokens_per_sec"], 1), "data": data.source,
               "data_sizes": data.sizes(), "vocab_size": vocab.vocab_size}
    if metrics["stopped"] in ("done", "out_of_time"):  # no test scores for a diverged or interrupted model
        n_test = int(flags.get("test_pairs") or (2000 if r.preset != "smoke" else 32))
        with torch.no_grad():
            metrics["test"] = evaluate_test(model, vocab, data, n_test, device,
                                            constrained=bool(flags.get("constrained")))
    metrics["train_s"] = round(run.train_s, 2)
    metrics["wall_s"] = round(run.session.wall_s, 2)
    return finish_run(out, record, metrics)
