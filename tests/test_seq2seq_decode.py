"""Decoding (greedy, beam, sampling) with and without caches, the label-smoothed loss, the warm-up
schedule, BLEU by hand = sacrebleu, baselines, couplet checks, and bad input answered in one line."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from lmlab.models.seq2seq import EOS, PAD, Seq2SeqConfig, Seq2SeqTransformer, Seq2SeqVocab, build_model
from lmlab.models.seq2seq.decode import BeamTree, beam_search, greedy, length_penalty, sample
from lmlab.models.seq2seq.loss import label_smoothed_loss
from lmlab.models.seq2seq.metrics import NearestPair, bleu_by_hand, bleu_chrf, couplet_checks
from lmlab.models.seq2seq.translate import encode_source, translate
from lmlab.train.schedule import noam_factor_for_peak, noam_lr


def _model(arch="transformer", V=20, seed=0):
    torch.manual_seed(seed)
    return build_model(Seq2SeqConfig(arch=arch, vocab_size=V, d_model=32, n_head=4, n_layer=2, dropout=0.0,
                                     max_len=10)).eval()


def _src(V=20):
    return torch.randint(4, V, (3, 6), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("arch", ["transformer", "rnn-attention", "rnn"])
def test_greedy_and_beam_with_caches_equal_recomputing(arch, one_torch_thread):
    model, src = _model(arch), _src()
    assert greedy(model, src, 9, use_cache=True) == greedy(model, src, 9, use_cache=False)
    a = beam_search(model, src[:1], width=3, max_len=9, use_cache=True)
    b = beam_search(model, src[:1], width=3, max_len=9, use_cache=False)
    assert [h.ids for h in a] == [h.ids for h in b]
    assert all(abs(x.score - y.score) < 1e-4 for x, y in zip(a, b, strict=True))


def test_beam_width_one_is_greedy_and_scores_are_log_probabilities(one_torch_thread):
    model, src = _model(), _src()
    best = beam_search(model, src[:1], width=1, max_len=9, alpha=0.0)[0]
    assert best.ids == greedy(model, src[:1], 9)[0]
    # the reported log-probability is the model's own: recompute it with teacher forcing
    ys = torch.tensor([[1, *best.ids]])
    with torch.no_grad():
        logits = model(src[:1], ys)
        logits[..., [0, 1, 3]] = float("-inf")  # <pad>, <s>, <unk> are never output
        logp = torch.log_softmax(logits, -1)[0]
    targets = best.ids + ([2] if best.finished else [])
    total = sum(logp[t, tok].item() for t, tok in enumerate(targets))
    assert math.isclose(best.log_prob, total, abs_tol=1e-4)


def test_beam_tree_records_every_step(one_torch_thread):
    model, src = _model(), _src()
    tree = BeamTree()
    hyps = beam_search(model, src[:1], width=3, max_len=6, tree=tree)
    assert 1 <= len(tree.steps) <= 6 and len(tree.steps[0]) <= 3
    assert all(parent == 0 for parent, _, _ in tree.steps[0])  # the first step extends <s> only
    assert len(hyps) == 3


def test_special_tokens_are_never_output(one_torch_thread):
    model, src = _model(), _src()
    with torch.no_grad():
        model.embed.wte.weight[3] *= 50  # make <unk> the model's favourite token
    for out in greedy(model, src, 9) + sample(model, src, 9, seed=0):
        assert not {0, 1, 3} & set(out)


def test_sampling_is_repeatable_with_a_seed(one_torch_thread):
    model, src = _model(), _src()
    assert sample(model, src, 8, seed=3) == sample(model, src, 8, seed=3)
    # one policy with lmlab sample (lmlab.models.sampling): temperature 0 is greedy, below 0 is an error
    assert sample(model, src, 8, temperature=0, seed=1) == greedy(model, src, 8)
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):
        sample(model, src, 8, temperature=-1)


def test_label_smoothed_loss_matches_torch_and_ignores_padding():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 11, generator=g)
    targets = torch.randint(4, 11, (2, 5), generator=g)
    targets[0, 3:] = PAD
    for eps in (0.0, 0.1, 0.3):
        ours = label_smoothed_loss(logits, targets, eps)
        theirs = F.cross_entropy(logits.view(-1, 11), targets.view(-1), ignore_index=PAD, label_smoothing=eps)
        assert torch.allclose(ours, theirs, atol=1e-6)
    changed = logits.clone()
    changed[0, 3:] = 100.0  # whatever the model says at padding does not count
    assert torch.allclose(label_smoothed_loss(changed, targets), label_smoothed_loss(logits, targets))
    with pytest.raises(ValueError, match="label smoothing must be in"):
        label_smoothed_loss(logits, targets, 1.0)


def test_noam_schedule_rises_peaks_then_falls_as_inverse_sqrt():
    d, warm = 512, 4000
    lrs = [noam_lr(i, d, warm) for i in range(20000)]
    assert max(range(len(lrs)), key=lrs.__getitem__) == warm - 1  # step = warmup
    assert math.isclose(lrs[warm - 1], (d * warm) ** -0.5)
    assert math.isclose(lrs[4 * warm - 1], lrs[warm - 1] / 2)  # 1/√step: four times later, half
    assert math.isclose(noam_lr(warm - 1, d, warm, noam_factor_for_peak(1e-3, d, warm)), 1e-3)


def test_bleu_by_hand_equals_sacrebleu_and_chrf_is_character_level():
    hyps, refs = ["白日依山盡江", "黃河入海流"], ["白日依山盡海", "黃河入海去"]
    assert math.isclose(bleu_by_hand(hyps, refs), bleu_chrf(hyps, refs)["bleu"], abs_tol=0.01)
    assert bleu_chrf(["天地"], ["天地"])["chrf"] == 100.0
    with pytest.raises(ValueError, match="one each"):
        bleu_chrf(["a"], [])


def test_couplet_checks_and_baselines():
    checks = couplet_checks(["白日依山盡", "白日"], ["黃日入海流", "黃河入"])
    assert checks == {"length_match": 0.5, "same_position_repeats": round(1 / 7, 4)}
    near = NearestPair([("白日依山盡", "黃河入海流"), ("春眠不覺曉", "處處聞啼鳥")])
    assert near(["白日依山遠", "春眠"]) == ["黃河入海流", "處處聞啼鳥"]


def test_bad_input_one_clear_line_each():
    vocab = Seq2SeqVocab.fit(["白日依山盡", "黃河入海流"])
    torch.manual_seed(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=vocab.vocab_size, d_model=16, n_head=2, n_layer=1,
                                             max_len=8)).eval()
    with pytest.raises(ValueError, match="the source is empty"):
        encode_source(vocab, "  ", 8)
    with pytest.raises(ValueError, match="has 9 characters but this model reads at most 8"):
        encode_source(vocab, "白日依山盡白日依山", 8)
    src, notes = encode_source(vocab, "白雲依山", 8)
    assert src[0, 1].item() == 3 and "雲" in notes[0] and "<unk>" in notes[0]
    t = translate(model, vocab, "白雲依山", method="greedy")
    assert t.notes and isinstance(t.output, str)
    for width in (0, -1):
        with pytest.raises(ValueError, match="beam width must be an integer >= 1"):
            beam_search(model, src, width=width)
    with pytest.raises(ValueError, match="unknown decoding method"):
        translate(model, vocab, "白日", method="topk")


def test_an_empty_answer_is_never_silent():
    vocab = Seq2SeqVocab.fit(["白日依山盡", "黃河入海流"])
    torch.manual_seed(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=vocab.vocab_size, d_model=16, n_head=2, n_layer=1,
                                             max_len=8)).eval()
    real_step = model.step

    def ends_at_once(state, ys):  # a barely trained model: </s> first, whatever the source
        logits = real_step(state, ys).clone()
        logits[:, EOS] = logits.max() + 50.0
        return logits

    model.step = ends_at_once
    for method in ("greedy", "beam", "sample"):
        t = translate(model, vocab, "白日依山盡", method=method, seed=0)
        assert t.output == "" and "end mark </s>" in t.notes[-1] and "barely trained" in t.notes[-1]


def test_length_penalty():
    assert length_penalty(1, 0.0) == 1.0 and math.isclose(length_penalty(7, 1.0), 2.0)


def test_views_draw_and_the_cross_steps_match_the_model(tmp_path, one_torch_thread):
    from lmlab.viz.attention.seq2seq import (
        cross_steps_view,
        cross_view,
        seq2seq_attention,
        seq2seq_head_view,
        seq2seq_model_view,
    )
    from lmlab.viz.beam_tree import beam_tree_figure

    vocab = Seq2SeqVocab.fit(["白日依山盡", "黃河入海流"])
    torch.manual_seed(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=vocab.vocab_size, d_model=16, n_head=2, n_layer=2,
                                             max_len=8)).eval()
    maps = seq2seq_attention(model, vocab, "白日依山盡", "黃河入海流")
    assert maps.cross.shape == (2, 2, 6, 5) and maps.encoder.shape == (2, 2, 5, 5)
    assert maps.target_tokens[0] == "<s>" and maps.predicted == [*"黃河入海流", "</s>"]
    html = seq2seq_head_view(maps).to_html()
    assert "Cross" in html and "Encoder" in html and "cdnjs" not in html and "require.config" not in html
    assert re.search(r"\"total_heads\": ?8\b", seq2seq_model_view(maps).to_html())  # 2 heads laid out as 8
    for view, name in ((cross_view(maps), "cross"), (seq2seq_head_view(maps), "head")):
        assert view.save(tmp_path / f"{name}.png").stat().st_size > 1000
    assert cross_view(maps).save(tmp_path / "c.html").read_text().count("<td") == 2 * 6 * 5
    steps = cross_steps_view(model, vocab, "白日依山盡", "黃河入海流", layer=1, head=1, position=2).steps
    assert steps.max_abs_diff < 1e-5 and steps.query_token == "河" and len(steps.tokens) == 5
    with pytest.raises(ValueError, match="position 9 is outside"):
        cross_steps_view(model, vocab, "白日依山盡", "黃河入海流", position=9)
    rnn = build_model(Seq2SeqConfig(arch="rnn", vocab_size=vocab.vocab_size, d_model=16)).eval()
    with pytest.raises(ValueError, match="no attention between decoder and encoder"):
        cross_view(seq2seq_attention(rnn, vocab, "白日", "黃河"))
    tree = BeamTree()
    beam_search(model, torch.tensor([vocab.encode("白日")]), width=3, max_len=5, tree=tree)
    assert len(beam_tree_figure(tree, vocab).axes) == 1
