"""lmlab's BERT equals transformers' BertForMaskedLM / BertModel, weight for weight, logit for logit."""

import pytest
import torch

from lmlab.models.bert import BertConfig, BertForMaskedLM, BertModel
from lmlab.models.bert.model import BertPooler

transformers = pytest.importorskip("transformers")


def _cfg(**kw):
    return BertConfig(**{"vocab_size": 37, "block_size": 16, "n_layer": 2, "n_head": 4, "n_embd": 32, **kw})


def _inputs(cfg, B=3, T=11):
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(cfg.vocab_size, (B, T), generator=g)
    types = (torch.arange(T) >= 6).long().expand(B, T)  # sentence A then sentence B
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 8:] = 0  # padding in one row
    return idx, types, mask


def test_masked_lm_logits_equal_transformers():
    cfg = _cfg()
    torch.manual_seed(1)
    ours = BertForMaskedLM(cfg).eval()
    from lmlab.export import to_hf_bert

    hf = to_hf_bert(ours)
    idx, types, mask = _inputs(cfg)
    with torch.no_grad():
        mine, _ = ours(idx, attention_mask=mask, token_type_ids=types)
        theirs = hf(input_ids=idx, attention_mask=mask, token_type_ids=types).logits
    real = mask.bool()
    assert (mine - theirs)[real].abs().max() <= 1e-5


def test_bert_model_and_pooler_equal_transformers():
    cfg = _cfg()
    torch.manual_seed(2)
    ours = BertModel(cfg).eval()
    hf = transformers.BertModel(transformers.BertConfig(**cfg.to_hf())).eval()
    hf.load_state_dict(ours.state_dict(), strict=True)  # the same names: the map is the identity
    idx, types, mask = _inputs(cfg)
    with torch.no_grad():
        h, _ = ours(idx, mask, types)
        out = hf(input_ids=idx, attention_mask=mask, token_type_ids=types)
    assert (h - out.last_hidden_state)[mask.bool()].abs().max() <= 1e-5
    assert (ours.pooler(h) - out.pooler_output).abs().max() <= 1e-5
    assert isinstance(ours.pooler, BertPooler)


def test_decoder_is_tied_to_input_embeddings_with_own_bias():
    m = BertForMaskedLM(_cfg())
    assert m.cls.predictions.decoder.weight is m.bert.embeddings.word_embeddings.weight
    assert m.cls.predictions.bias.shape == (37,)


def test_readable_attention_path_matches_fused_and_has_no_triangle():
    cfg = _cfg()
    m = BertForMaskedLM(cfg).eval()
    idx, types, mask = _inputs(cfg)
    with torch.no_grad():
        fast, _ = m(idx, attention_mask=mask)
        slow, _, attn = m.forward_with_attention(idx, attention_mask=mask)
    assert torch.allclose(fast, slow, atol=1e-5)
    assert len(attn) == cfg.n_layer and attn[0].shape == (3, 4, 11, 11)
    assert attn[0][0, :, 0, -1].min() > 0  # the first token attends to the last one: bidirectional
    assert attn[0][1, :, :, 8:].abs().max() == 0  # padding is never attended to


def test_only_masked_loss_equals_full_loss():
    cfg = _cfg()
    m = BertForMaskedLM(cfg).eval()
    idx, _, _ = _inputs(cfg)
    targets = torch.full_like(idx, -100)
    targets[:, 3] = idx[:, 3]
    with torch.no_grad():
        full, loss_full = m(idx, targets)
        part, loss_part = m(idx, targets, only_masked=True)
    assert part.shape == (3, cfg.vocab_size)
    assert torch.allclose(loss_full, loss_part, atol=1e-6)


def test_bert_layout_refuses_rope_and_relu():
    with pytest.raises(ValueError, match="layout='prenorm'"):
        _cfg(pos_encoding="rope")
    with pytest.raises(ValueError, match="activation"):
        _cfg(activation="relu")
