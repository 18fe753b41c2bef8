"""``torch.nn.Transformer`` with lmlab's weights copied in: the reference the post-LN layout is proved
equal to, and the peer of the speed benchmark.

lmlab keeps W_q, W_k, W_v as one (3C, C) matrix exactly as torch's ``in_proj_weight`` does; cross-attention
keeps W_q apart from W_kv, so torch's in_proj is [W_q; W_kv].
"""

from __future__ import annotations

import torch
import torch.nn as nn

from lmlab.models.seq2seq.transformer import Seq2SeqTransformer


def torch_transformer_like(model: Seq2SeqTransformer) -> nn.Transformer:
    """A ``torch.nn.Transformer`` of the same size and layout, holding ``model``'s weights (no embeddings)."""
    c = model.config
    layer = dict(d_model=c.d_model, nhead=c.n_head, dim_feedforward=4 * c.d_model, dropout=c.dropout,
                 activation="relu", batch_first=True, norm_first=c.norm_first, bias=c.bias)
    # the encoder nn.Transformer would build, without the nested-tensor fast path: that path only runs in
    # inference on post-LN layers, and for pre-LN torch warns that it is off; the numbers are the same
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer), c.n_layer,
                                    norm=nn.LayerNorm(c.d_model, bias=c.bias), enable_nested_tensor=False)
    ref = nn.Transformer(num_encoder_layers=c.n_layer, num_decoder_layers=c.n_layer, custom_encoder=encoder,
                         **layer)
    copy_weights(model, ref)
    return ref


def _copy_linear(dst_w: torch.Tensor, dst_b: torch.Tensor | None, src: nn.Linear) -> None:
    dst_w.copy_(src.weight)
    if dst_b is not None:
        dst_b.copy_(src.bias)


@torch.no_grad()
def copy_weights(model: Seq2SeqTransformer, ref: nn.Transformer) -> None:
    """Copy every encoder/decoder weight of ``model`` into ``ref`` (same names, torch's layout)."""
    def norm(dst: nn.LayerNorm, src: nn.LayerNorm) -> None:
        dst.weight.copy_(src.weight)
        if dst.bias is not None:
            dst.bias.copy_(src.bias)

    for ours, theirs in zip(model.encoder, ref.encoder.layers, strict=True):
        _copy_linear(theirs.self_attn.in_proj_weight, theirs.self_attn.in_proj_bias, ours.attn.W_qkv)
        _copy_linear(theirs.self_attn.out_proj.weight, theirs.self_attn.out_proj.bias, ours.attn.W_o)
        _copy_linear(theirs.linear1.weight, theirs.linear1.bias, ours.mlp.fc)
        _copy_linear(theirs.linear2.weight, theirs.linear2.bias, ours.mlp.proj)
        norm(theirs.norm1, ours.ln_1)
        norm(theirs.norm2, ours.ln_2)
    for ours, theirs in zip(model.decoder, ref.decoder.layers, strict=True):
        _copy_linear(theirs.self_attn.in_proj_weight, theirs.self_attn.in_proj_bias, ours.attn.W_qkv)
        _copy_linear(theirs.self_attn.out_proj.weight, theirs.self_attn.out_proj.bias, ours.attn.W_o)
        C = ours.cross.W_q.weight.size(0)
        theirs.multihead_attn.in_proj_weight[:C].copy_(ours.cross.W_q.weight)
        theirs.multihead_attn.in_proj_weight[C:].copy_(ours.cross.W_kv.weight)
        if ours.cross.W_q.bias is not None:
            theirs.multihead_attn.in_proj_bias[:C].copy_(ours.cross.W_q.bias)
            theirs.multihead_attn.in_proj_bias[C:].copy_(ours.cross.W_kv.bias)
        _copy_linear(theirs.multihead_attn.out_proj.weight, theirs.multihead_attn.out_proj.bias,
                     ours.cross.W_o)
        _copy_linear(theirs.linear1.weight, theirs.linear1.bias, ours.mlp.fc)
        _copy_linear(theirs.linear2.weight, theirs.linear2.bias, ours.mlp.proj)
        norm(theirs.norm1, ours.ln_1)
        norm(theirs.norm2, ours.ln_x)
        norm(theirs.norm3, ours.ln_2)
    norm(ref.encoder.norm, model.enc_ln)
    norm(ref.decoder.norm, model.dec_ln)


def torch_forward(ref: nn.Transformer, model: Seq2SeqTransformer, src: torch.Tensor,
                  tgt_in: torch.Tensor) -> torch.Tensor:
    """Decoder output (B, T, C) of ``ref`` on ``model``'s embeddings, with the same masks."""
    from lmlab.models.seq2seq.vocab import PAD

    pad = src == PAD  # torch: True marks padding
    causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.size(1))
    return ref(model.embed(src), model.embed(tgt_in), tgt_mask=causal, src_key_padding_mask=pad,
               memory_key_padding_mask=pad, tgt_is_causal=True)
