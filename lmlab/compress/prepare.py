"""Notebook 08's LSTM and GPT, the models it quantizes, prunes and distils, for ``lmlab prepare``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# notebook 08's SIZE rows for the two models (a test keeps them equal to the notebook's table)
SIZES = {"smoke": dict(iters=20, gpt=(2, 64)), "class": dict(iters=600, gpt=(4, 128)),
         "full": dict(iters=2000, gpt=(6, 384))}
CHARS = 300_000  # the notebook trains on the first 300,000 characters
LSTM_HIDDEN = 256


def spec(preset: str) -> dict[str, Any]:
    """Every setting the two models depend on."""
    return {**SIZES[preset], "chars": CHARS, "lstm_hidden": LSTM_HIDDEN, "lstm_layers": 2, "seed": 0}


def models(vocab_size: int, preset: str) -> tuple[Any, Any]:
    """The untrained (LSTM, GPT) of notebook 08 (seeded as its cell seeds them)."""
    import torch

    from lmlab.models.lstm.model import LSTMConfig, LSTMLanguageModel
    from lmlab.models.transformer import GPT, GPTConfig

    torch.manual_seed(0)
    lstm = LSTMLanguageModel(LSTMConfig(vocab_size=vocab_size, hidden=LSTM_HIDDEN, n_layer=2, dropout=0.0))
    n_layer, width = SIZES[preset]["gpt"]
    gpt = GPT(GPTConfig(vocab_size=vocab_size, block_size=64, n_layer=n_layer, n_head=4, n_embd=width))
    return lstm, gpt


def compress_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Train notebook 08's LSTM and GPT (CPU, as the notebook does) into ``out/{lstm,gpt}.pt``."""
    import torch

    from lmlab.atomic import atomic_write
    from lmlab.compress.measure import train_lm, val_batches, val_loss
    from lmlab.models.transformer.trainer import TokenData
    from lmlab.tokenizers import CharTokenizer

    text = text[:CHARS]
    tok = CharTokenizer.fit(text)
    data = TokenData.from_text(text, tok)
    lstm, gpt = models(tok.vocab_size, preset)
    batches = val_batches(data, block_size=64)
    metrics = {"iters": SIZES[preset]["iters"], "vocab_size": tok.vocab_size}
    for name, model in (("lstm", lstm), ("gpt", gpt)):
        train_lm(model, data, SIZES[preset]["iters"])
        payload = model.state_dict()
        with atomic_write(Path(out) / f"{name}.pt", "wb") as f:
            torch.save(payload, f)
        metrics[f"{name}_val_loss"] = val_loss(model, batches)
    return metrics, []


def load(path: Path, vocab_size: int, preset: str) -> tuple[Any, Any]:
    """The prepared (LSTM, GPT) from ``path``, in eval mode."""
    import torch

    lstm, gpt = models(vocab_size, preset)
    for name, model in (("lstm", lstm), ("gpt", gpt)):
        model.load_state_dict(torch.load(Path(path) / f"{name}.pt", map_location="cpu", weights_only=True))
    return lstm.eval(), gpt.eval()
