"""Notebook 07's pre-trainings for ``lmlab prepare``: the same ``lmlab train`` commands its cells run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# notebook 07's SIZE rows for its three trainings (a test keeps them equal to the notebook's table)
SIZES = {
    "smoke": dict(zh=["--max-iters", "40"], en=["--max-iters", "20", "--vocab-size", "500"],
                  gpt=["--max-iters", "40"]),
    "class": dict(zh=["--time-budget", "170"], en=["--time-budget", "60", "--vocab-size", "2000"],
                  gpt=["--time-budget", "40"]),
    "full": dict(zh=[], en=["--max-iters", "3000", "--vocab-size", "2000"], gpt=["--max-iters", "3000"]),
}
FALLBACK = "built-in poems"  # the corpus name when the Tang poems are not available


def argv(name: str, preset: str, corpus: str) -> list[str]:
    """The ``lmlab`` command line notebook 07 runs for ``name`` (without --device and --out)."""
    if name == "07_bert_zh":
        return ["train", "bert", "--corpus", corpus, "--preset", preset, *SIZES[preset]["zh"]]
    if name == "07_bert_en":
        return ["train", "bert", "--corpus", "wiki_sample", "--tokenizer", "bpe", "--preset", preset,
                *SIZES[preset]["en"]]
    return ["train", "gpt", "--corpus", corpus, "--preset", preset, *SIZES[preset]["gpt"],
            "--pos-encoding", "learned", "--activation", "gelu", "--block-size", "64"]


def spec(name: str, preset: str) -> dict[str, Any]:
    """Every setting the run depends on: its command line (the corpus is hashed beside it)."""
    return {"argv": argv(name, preset, "CORPUS")}


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
    from lmlab.cli import main
    from lmlab.prepared import live_recorder
    from lmlab.train import History

    out = Path(out)
    if text:  # the built-in poems, written beside the run as the notebook writes them to its work folder
        with atomic_write(out / "poems.txt") as f:
            f.write(text)
        corpus_arg = str(out / "poems.txt")
    else:
        corpus_arg = corpus
    command = [*argv(name, preset, corpus_arg), "--device", getattr(device, "type", str(device)),
               "--no-progress", "--out", str(out)]
    if main(command) != 0:
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


# notebook 07's fine-tuning comparison (fine-tuned, random init, linear probe at 1%, 10%, 100% of labels)
FINETUNE = {"smoke": dict(per_poet=40, ft_steps=10), "class": dict(per_poet=300, ft_steps=120),
            "full": dict(per_poet=None, ft_steps=600)}


def finetune_spec(preset: str) -> dict[str, Any]:
    """The fine-tuning sizes and the pre-training they start from."""
    return {**FINETUNE[preset], "seed": 0, "pretrained": spec("07_bert_zh", preset)}


def finetune_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 07's learning curve, from the prepared ``07_bert_zh`` beside ``out``: {"curve": ...}."""
    import json

    import torch

    from lmlab.models.bert.finetune import FineTuneConfig, learning_curve, poet_dataset
    from lmlab.models.bert.prenorm import build_encoder
    from lmlab.models.bert.trainer import load_bert
    from lmlab.prepared import is_current, job_config

    bert_dir = Path(out).parent / "07_bert_zh"
    if not is_current(bert_dir, job_config("07_bert_zh", preset, corpus)):
        raise ValueError(f"07_finetune starts from the prepared 07_bert_zh, and {bert_dir} holds none: run "
                         f"'lmlab prepare 07_bert_zh 07_finetune --preset {preset}'")
    model, vocab, _ = load_bert(bert_dir)
    texts, labels, poets = poet_dataset(per_poet=FINETUNE[preset]["per_poet"], fallback=True)
    cfg = model.config
    sizes = {k: getattr(cfg, k) for k in ("n_layer", "n_head", "n_embd", "block_size", "dropout")}
    torch.manual_seed(0)  # as the notebook's cell
    random_twin = build_encoder("bert", vocab.vocab_size, vocab.pad_id, **sizes)
    curve = learning_curve(model, vocab, texts, labels, random_init=random_twin, device=device,
                           cfg=FineTuneConfig(steps=FINETUNE[preset]["ft_steps"], block_size=cfg.block_size))
    plain = json.loads(json.dumps(curve, default=lambda o: o.tolist()))  # numpy arrays as lists
    return {"curve": plain, "poets": list(poets)}, []
