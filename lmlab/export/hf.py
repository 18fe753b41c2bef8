"""Weight maps lmlab -> Hugging Face, and ``export_hf``: a checkpoint folder to a ``from_pretrained`` folder.

BERT's parts carry Hugging Face's names, so its map is the identity plus the decoder's bias (HF keeps a
second handle on ``cls.predictions.bias``). The GPT maps as nanoGPT's does onto GPT-2:

    | lmlab GPT                      | transformers GPT2LMHeadModel          |
    |--------------------------------|---------------------------------------|
    | embed.wte / embed.wpe          | transformer.wte / transformer.wpe     |
    | blocks.i.ln_1, ln_2            | transformer.h.i.ln_1, ln_2            |
    | blocks.i.attn.W_qkv  (Linear)  | transformer.h.i.attn.c_attn (Conv1D)  |
    | blocks.i.attn.W_o              | transformer.h.i.attn.c_proj           |
    | blocks.i.mlp.fc, mlp.proj      | transformer.h.i.mlp.c_fc, mlp.c_proj  |
    | ln_f, lm_head (tied to wte)    | transformer.ln_f, lm_head             |

GPT-2's Conv1D stores W as (in, out), a Linear as (out, in): those weights are transposed. GPT-2 always has
biases; a model trained with ``bias=False`` exports zeros, which compute the same thing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from lmlab.models.bert.model import BertForMaskedLM
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.model import GPT

GPT_EXPORT_FLAGS = "--pos-encoding learned --activation gelu"


def bert_state_dict(model: BertForMaskedLM) -> dict[str, torch.Tensor]:
    """lmlab BertForMaskedLM -> transformers BertForMaskedLM state dict (same keys)."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state["cls.predictions.decoder.bias"] = state["cls.predictions.bias"]
    return state


def to_hf_bert(model: BertForMaskedLM) -> Any:
    """A ``transformers.BertForMaskedLM`` holding this model's weights (eval mode)."""
    import transformers

    cfg = transformers.BertConfig(**model.config.to_hf())
    hf = transformers.BertForMaskedLM(cfg)
    hf.load_state_dict(bert_state_dict(model), strict=True)
    return hf.eval()


def check_gpt_exportable(cfg: GPTConfig) -> None:
    """GPT-2 has learned positions and GELU; anything else has no GPT-2 twin."""
    wrong = {k: getattr(cfg, k) for k, v in (("pos_encoding", "learned"), ("activation", "gelu"))
             if getattr(cfg, k) != v}
    if wrong:
        raise ValueError(f"this GPT cannot export to GPT-2: it has {wrong}, GPT-2 has learned positions "
                         f"and GELU; train with `lmlab train gpt {GPT_EXPORT_FLAGS}` to export")


def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """lmlab GPT (nanoGPT layout) -> transformers GPT2LMHeadModel state dict, by the table above."""
    cfg = model.config
    check_gpt_exportable(cfg)
    src = model.state_dict()
    C = cfg.n_embd

    def get(name: str, shape: tuple[int, ...], transpose: bool = False) -> torch.Tensor:
        if name not in src:  # bias=False: a zero bias is the same function
            return torch.zeros(shape)
        t = src[name].detach()
        return (t.t() if transpose else t).contiguous().clone()

    out = {"transformer.wte.weight": get("embed.wte.weight", ()),
           "transformer.wpe.weight": get("embed.wpe.weight", ())}
    for i in range(cfg.n_layer):
        a, h = f"blocks.{i}.", f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            out[h + ln + ".weight"] = get(a + ln + ".weight", ())
            out[h + ln + ".bias"] = get(a + ln + ".bias", (C,))
        for ours, theirs, n_out in (("attn.W_qkv", "attn.c_attn", 3 * C), ("attn.W_o", "attn.c_proj", C),
                                    ("mlp.fc", "mlp.c_fc", 4 * C), ("mlp.proj", "mlp.c_proj", C)):
            out[h + theirs + ".weight"] = get(a + ours + ".weight", (), transpose=True)
            out[h + theirs + ".bias"] = get(a + ours + ".bias", (n_out,))
    out["transformer.ln_f.weight"] = get("ln_f.weight", ())
    out["transformer.ln_f.bias"] = get("ln_f.bias", (C,))
    out["lm_head.weight"] = out["transformer.wte.weight"]
    return out


def to_hf_gpt2(model: GPT) -> Any:
    """A ``transformers.GPT2LMHeadModel`` holding this model's weights (eval mode)."""
    import transformers

    c = model.config
    check_gpt_exportable(c)
    cfg = transformers.GPT2Config(vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd,
                                  n_layer=c.n_layer, n_head=c.n_head, n_inner=4 * c.n_embd,
                                  activation_function="gelu",  # exact GELU, not GPT-2's tanh "gelu_new"
                                  resid_pdrop=c.dropout, embd_pdrop=c.dropout, attn_pdrop=c.dropout,
                                  layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                                  bos_token_id=None, eos_token_id=None)
    hf = transformers.GPT2LMHeadModel(cfg)
    missing, unexpected = hf.load_state_dict(gpt2_state_dict(model), strict=False)
    missing = [k for k in missing if not k.endswith(".attn.bias") and not k.endswith(".masked_bias")]
    if missing or unexpected:  # pragma: no cover - a transformers version with other names
        raise ValueError(f"GPT-2 weight map mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return hf.eval()


def load_lmlab_model(path: str | os.PathLike) -> tuple[str, torch.nn.Module, Any]:
    """(kind, model, tokenizer) of an lmlab checkpoint file or run folder."""
    from lmlab.checkpoint import checkpoint_tokenizer, load_checkpoint, load_model_state
    payload = load_checkpoint(path)
    kind = payload.get("kind")
    if kind == "gpt":
        model: torch.nn.Module = GPT(GPTConfig.from_dict(payload["config"]))
        tokenizer = checkpoint_tokenizer(payload)
    elif kind == "bert":
        from lmlab.models.bert.trainer import load_bert

        model, tokenizer, layout = load_bert(path)
        if layout != "bert":
            raise ValueError(f"{path} holds a {layout!r}-layout encoder, which has no Hugging Face twin; "
                             "train with `lmlab train bert --layout bert` (the default) to export")
        return kind, model, tokenizer
    else:
        raise ValueError(f"{path} holds a {kind!r} model; only 'gpt' (lmlab train gpt {GPT_EXPORT_FLAGS}) "
                         "and 'bert' (lmlab train bert) checkpoints export to Hugging Face")
    load_model_state(model, payload)
    return kind, model.eval(), tokenizer


def add_unknown_row(hf: Any, unk_id: int) -> None:
    """Give a GPT-2 export an embedding row for [UNK] (``unk_id`` = lmlab's vocabulary size): the mean of
    the other rows, so an unseen character reads as an average one; ``generate`` never writes it."""
    wte = hf.get_input_embeddings().weight
    if unk_id != wte.shape[0]:  # pragma: no cover - the tokenizer and the model disagree on the vocabulary
        raise ValueError(f"[UNK] has id {unk_id} in the export, the model has {wte.shape[0]} rows")
    mean = wte.detach().mean(dim=0)
    hf.resize_token_embeddings(unk_id + 1, mean_resizing=False)  # the tied lm_head grows with it
    with torch.no_grad():
        hf.get_input_embeddings().weight[unk_id] = mean
    hf.generation_config.suppress_tokens = [unk_id]


def export_hf(src: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write ``out/`` (config.json, model.safetensors, tokenizer files) from an lmlab checkpoint."""
    from lmlab.export.tokenizer import hf_tokenizer

    kind, model, tokenizer = load_lmlab_model(src)
    hf = to_hf_gpt2(model) if kind == "gpt" else to_hf_bert(model)
    hf_tok = None
    if tokenizer is not None:
        hf_tok = hf_tokenizer(tokenizer, model_max_length=model.config.block_size)
        if kind == "gpt" and hf_tok.unk_token is not None:
            add_unknown_row(hf, hf_tok.unk_token_id)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} exists and is not empty; choose a new folder (nothing was overwritten)")
    out.mkdir(parents=True, exist_ok=True)
    from lmlab.models.pretrained import quiet_transformers

    with quiet_transformers():  # no "Writing model shards" bar for one small file
        hf.save_pretrained(out, safe_serialization=True)
        if hf_tok is not None:
            hf_tok.save_pretrained(out)
    return out
