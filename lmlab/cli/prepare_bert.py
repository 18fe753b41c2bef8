"""Notebook 07's pre-trainings for ``lmlab prepare``: the same ``lmlab train`` commands its cells run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmlab.prepared import FINETUNE, bert_argv, live_recorder, start_from

FALLBACK = "built-in poems"  # the corpus name when the Tang poems are not available


def poems(preset: str) -> tuple[str, str]:
    """(text, corpus name): the Tang poems in the edition's script when available (``tang_poems`` or
    ``tang_poems_simplified``, as notebook 07 and its twin read them), else its 18 built-in poems × 20."""
    from lmlab.data import load_text, tang_poems_name

    try:
        load_text(tang_poems_name())
        return "", tang_poems_name()
    except FileNotFoundError:
        from lmlab.models.bert.poems import fallback_text

        return fallback_text() * 20, FALLBACK


def wiki(preset: str) -> tuple[str, str]:
    """The Wikipedia sample, which ``lmlab train bert`` loads itself."""
    return "", "wiki_sample"


def _train(name: str, preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    import json

    from lmlab.atomic import atomic_write
    from lmlab.checkpoint import load_checkpoint
    from lmlab.cli import train
    from lmlab.train import History

    out = Path(out)
    if text:  # the built-in poems, written beside the run as the notebook writes them to its work folder
        with atomic_write(out / "poems.txt") as f:
            f.write(text)
        corpus_arg = str(out / "poems.txt")
    else:
        corpus_arg = corpus
    command = [*bert_argv(name, preset, corpus_arg), "--device", getattr(device, "type", str(device)),
               "--out", str(out)]  # with its progress bar (a line every 30 s in a log)
    if train.main(command[1], command[2:]) != 0:  # command: ["train", MODEL, flags...]
        raise RuntimeError(f"{name}: 'lmlab {' '.join(command)}' failed")
    history = History(load_checkpoint(out)["history"])
    live_recorder(name, out).close(history)
    return json.loads((out / "metrics.json").read_text(encoding="utf-8")), []


def bert_zh_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 07's BERT pre-trained on the Tang poems."""
    return _train("07_bert_zh", preset, text, corpus, out, device)


def bert_en_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 07's English BERT (byte-level BPE) on the Wikipedia sample."""
    return _train("07_bert_en", preset, text, corpus, out, device)


def gpt_zh_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 07's small GPT on the same poems, for the causal-vs-masked comparison."""
    return _train("07_gpt_zh", preset, text, corpus, out, device)


def finetune_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 07's learning curve, from the prepared ``07_bert_zh`` beside ``out``: {"curve": ...}."""
    import json

    import torch

    from lmlab.models.bert.finetune import FineTuneConfig, learning_curve, poet_dataset
    from lmlab.models.bert.prenorm import build_encoder
    from lmlab.models.bert.trainer import load_bert

    bert_dir = start_from("07_bert_zh", out, preset, corpus)
    model, vocab, _ = load_bert(bert_dir)
    texts, labels, poets = poet_dataset(per_poet=FINETUNE[preset]["per_poet"], fallback=True)
    cfg = model.config
    sizes = {k: getattr(cfg, k) for k in ("n_layer", "n_head", "n_embd", "block_size", "dropout")}
    torch.manual_seed(0)  # as the notebook's cell
    random_twin = build_encoder("bert", vocab.vocab_size, vocab.pad_id, **sizes)
    curve = learning_curve(model, vocab, texts, labels, random_init=random_twin, device=device,
                           cfg=FineTuneConfig(steps=FINETUNE[preset]["ft_steps"], block_size=cfg.block_size))
    season = season_finetune(model, vocab, preset, device)
    plain = json.loads(json.dumps({"curve": curve, "season_ft_rows": season},
                                  default=lambda o: o.tolist()))  # numpy arrays as lists
    return {**plain, "poets": list(poets)}, []


def season_finetune(model: Any, vocab: Any, preset: str, device: Any) -> list[dict]:
    """Notebook 07's section 8b: the pre-trained BERT and its random twin fine-tuned on the season task,
    over label subsets (the rows of :func:`lmlab.models.bert.finetune.fine_tune_curve`)."""
    import torch

    from lmlab.data.seasons import season_dataset
    from lmlab.models.bert.finetune import FineTuneConfig, fine_tune_curve
    from lmlab.models.bert.prenorm import build_encoder
    from lmlab.models.classifier import stratified_split

    size = FINETUNE[preset]
    texts, labels, _ = season_dataset(per_season=size["per_season"], fallback=True)
    train_idx, test_idx = stratified_split(labels, 0.25, seed=0)
    counts = [n for n in size["season_counts"] if n is None or n < len(train_idx)]
    cfg = model.config
    torch.manual_seed(0)  # as the notebook's cell
    shape = {k: getattr(cfg, k) for k in ("n_layer", "n_head", "n_embd", "block_size", "dropout")}
    twin = build_encoder("bert", vocab.vocab_size, vocab.pad_id, **shape)
    return fine_tune_curve({"fine-tuned": model, "random init": twin}, vocab, texts, labels, train_idx,
                           test_idx, counts, n_subsets=size["n_subsets"], device=device,
                           cfg=FineTuneConfig(steps=size["ft_steps"], block_size=cfg.block_size))
