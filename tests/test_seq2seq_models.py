"""The encoder–decoder Transformer and the RNNs: both attention paths agree, post-LN (and pre-LN) equal
torch.nn.Transformer with the same weights, caches equal recomputing, padding is invisible."""

from __future__ import annotations

import pytest
import torch

from lmlab.models.seq2seq import PAD, RNNSeq2Seq, Seq2SeqConfig, Seq2SeqTransformer
from lmlab.models.seq2seq.cross_attention import CrossAttention
from lmlab.models.seq2seq.torch_reference import torch_forward, torch_transformer_like


def _batch(V=30, B=3, S=7, T=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, V, (B, S), generator=g)
    src[0, 5:] = PAD  # rows of different lengths
    src[1, 3:] = PAD
    tgt = torch.randint(4, V, (B, T), generator=g)
    return src, tgt


def _model(norm_first=True, **kw):
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(vocab_size=30, d_model=32, n_head=4, n_layer=2, dropout=0.0, norm_first=norm_first,
                        max_len=12, **kw)
    return Seq2SeqTransformer(cfg).eval()


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
def test_equals_torch_nn_transformer_with_copied_weights(norm_first, one_torch_thread):
    model = _model(norm_first)
    ref = torch_transformer_like(model).eval()
    src, tgt = _batch()
    with torch.no_grad():
        memory, mask, _ = model.encode(src)
        y = model.embed(tgt)
        for layer in model.decoder:
            y, _, _ = layer(y, memory, mask)
        ours = model.dec_ln(y)
        theirs = torch_forward(ref, model, src, tgt)
    assert (ours - theirs).abs().max() <= 1e-5
    # and the check can fail: a different layout is far off
    other = torch_transformer_like(_model(not norm_first)).eval()
    with torch.no_grad():
        assert (torch_forward(other, model, src, tgt) - ours).abs().max() > 1e-2


def test_fused_and_inspectable_paths_agree_and_weights_are_softmax_rows(one_torch_thread):
    model = _model()
    src, tgt = _batch()
    with torch.no_grad():
        fast = model(src, tgt)
        slow, attn = model.forward_with_attention(src, tgt)
    assert (fast - slow).abs().max() <= 1e-5
    enc, dec, cross = attn["encoder"][0], attn["decoder"][0], attn["cross"][1]
    assert enc.shape == (3, 4, 7, 7) and dec.shape == (3, 4, 6, 6) and cross.shape == (3, 4, 6, 7)
    for w in (enc, dec, cross):
        assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1]), atol=1e-5)
    assert cross[1, :, :, 3:].abs().max() == 0  # row 1 has 3 real source tokens: padding gets no weight
    assert enc[0, :, :, 5:].abs().max() == 0
    assert dec[0, :, 0, 1:].abs().max() == 0  # the decoder's first position sees only itself (causal)


def test_cross_attention_fused_equals_readable_with_padding(one_torch_thread):
    torch.manual_seed(1)
    cfg = Seq2SeqConfig(vocab_size=10, d_model=16, n_head=2, dropout=0.0).block_config()
    cross = CrossAttention(cfg).eval()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 4, 16)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    a, none = cross(x, memory, mask)
    b, w = cross(x, memory, mask, return_attention=True)
    assert none is None and w.shape == (2, 2, 5, 4)
    assert (a - b).abs().max() <= 1e-5
    c, _ = cross(x, None, mask, kv=cross.memory_kv(memory))  # the memory's K/V computed once
    assert (a - c).abs().max() <= 1e-6


def test_padding_in_the_source_changes_nothing(one_torch_thread):
    model = _model()
    src, tgt = _batch()
    longer = torch.cat([src, torch.full((3, 4), PAD)], dim=1)  # four more padding columns
    with torch.no_grad():
        assert (model(src, tgt) - model(longer, tgt)).abs().max() <= 1e-5


@pytest.mark.parametrize("arch", ["transformer", "rnn-attention", "rnn"])
def test_step_by_step_with_and_without_cache_equals_teacher_forcing(arch, one_torch_thread):
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(arch=arch, vocab_size=30, d_model=32, n_head=4, n_layer=2, dropout=0.0, max_len=12)
    model = (Seq2SeqTransformer(cfg) if arch == "transformer" else RNNSeq2Seq(cfg)).eval()
    src, tgt = _batch()
    with torch.no_grad():
        full = model(src, tgt)  # (B, T, V)
        for use_cache in (True, False):
            state = model.begin(src, use_cache)
            steps = torch.stack([model.step(state, tgt[:, :t + 1]) for t in range(tgt.size(1))], dim=1)
            assert (steps - full).abs().max() <= 1e-5, use_cache


def test_rnn_alignment_is_a_softmax_over_real_source_tokens(one_torch_thread):
    torch.manual_seed(0)
    model = RNNSeq2Seq(Seq2SeqConfig(arch="rnn-attention", vocab_size=30, d_model=16)).eval()
    src, tgt = _batch()
    with torch.no_grad():
        logits, attn = model.forward_with_attention(src, tgt)
    alpha = attn["cross"][0]  # (B, 1, T, S)
    assert alpha.shape == (3, 1, 6, 7)
    assert torch.allclose(alpha.sum(-1), torch.ones(3, 1, 6), atol=1e-5)
    assert alpha[1, 0, :, 3:].abs().max() == 0
    plain = RNNSeq2Seq(Seq2SeqConfig(arch="rnn", vocab_size=30, d_model=16)).eval()
    assert plain.forward_with_attention(src, tgt)[1]["cross"] == []  # no attention: nothing to show


def test_config_errors_name_the_value():
    with pytest.raises(ValueError, match="unknown arch 'lstm'"):
        Seq2SeqConfig(arch="lstm")
    with pytest.raises(ValueError, match="not divisible"):
        Seq2SeqConfig(d_model=30, n_head=4)
