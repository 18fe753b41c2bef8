"""The couplet lesson's parts: middle couplets, near duplicates dropped, the rules as a logit mask (each rule
proved on a random tiny model, greedy and beam), the lookup table, the couplet score and its intervals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmlab.models.seq2seq import EOS, PAD, Seq2SeqConfig, build_model
from lmlab.models.seq2seq.constraints import couplet_mask
from lmlab.models.seq2seq.couplet_rules import couplet_score, forbidden_repeat, tone_class, tones_opposed
from lmlab.models.seq2seq.couplets import (
    drop_near_duplicates,
    load_couplets,
    middle_couplets,
    within_one_edit,
)
from lmlab.models.seq2seq.decode import beam_search, greedy, sample
from lmlab.models.seq2seq.lookup import LookupTable
from lmlab.models.seq2seq.metrics import scores_with_intervals

POEM = ["國破山河在，城春草木深。", "感時花濺淚，恨別鳥驚心。",
        "烽火連三月，家書抵萬金。", "白頭搔更短，渾欲不勝簪。"]


def test_middle_couplets_are_pairs_two_and_three_of_eight_line_poems():
    assert middle_couplets(POEM) == [("感時花濺淚", "恨別鳥驚心"), ("烽火連三月", "家書抵萬金")]
    assert middle_couplets(POEM[:2]) == []  # a quatrain has no middle couplets
    assert middle_couplets(POEM[:3] + ["白頭搔更短，渾欲不勝簪也。"]) == []  # lines of two lengths


def test_near_duplicates_are_one_edit_away():
    assert within_one_edit("白日依山盡", "白月依山盡") and within_one_edit("白日依山", "白日依山盡")
    assert not within_one_edit("白日依山盡", "黃河入海流") and not within_one_edit("白日依", "白日依山盡")
    train = [("白日依山盡", "黃河入海流"), ("明月松間照", "清泉石上流")]
    test = [("白日依山盡", "x"), ("白月依山盡", "x"), ("白日依山", "x"), ("明月松間照耀", "x"),
            ("床前明月光", "疑是地上霜"), ("白月依水盡", "x")]
    kept, dropped = drop_near_duplicates(train, test)
    assert dropped == 4 and [a for a, _ in kept] == ["床前明月光", "白月依水盡"]


def test_load_couplets_rejects_an_unknown_kind_and_reports_what_it_dropped(tmp_path):
    with pytest.raises(ValueError, match="couplets 'odd'"):
        load_couplets(couplets="odd")
    lines = [f"{a}\t{b}" for a, b in [("白日依山盡", "黃河入海流"), ("明月松間照", "清泉石上流")] * 40]
    lines += ["白月依山盡\t黃河入海流", "床前明月光\t疑是地上霜"] * 10
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(lines), encoding="utf-8")
    data = load_couplets(path)
    assert set(data.near_duplicates) == {"val", "test"}
    index = {a for a, _ in data.train}
    for a, _ in data.val + data.test:
        assert not any(within_one_edit(a, t) for t in index)


def _model(arch="transformer", V=40, seed=0):
    torch.manual_seed(seed)
    return build_model(Seq2SeqConfig(arch=arch, vocab_size=V, d_model=32, n_head=4, n_layer=1, dropout=0.0,
                                     max_len=10)).eval()


def _sources():
    src = torch.tensor([[4, 5, 6, 7, 8], [9, 10, 9, 11, 12], [13, 14, 15, PAD, PAD]])  # row 1 repeats 9
    return src


def _obeys(src_row, out):
    src = [t for t in src_row if t != PAD]
    assert len(out) == len(src), (src, out)  # length: </s> exactly after the source's length
    assert all(o != s for o, s in zip(out, src, strict=True))  # no echo at the same position
    for i in range(len(out)):
        for j in range(i):
            if out[i] == out[j]:
                assert src[i] == src[j]  # a repeat only where the source repeats


@pytest.mark.parametrize("arch", ["transformer", "rnn-attention"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_rule_holds_under_the_mask_in_greedy_beam_and_sampling(arch, seed):
    model, src = _model(arch, seed=seed), _sources()
    for row, out in zip(src.tolist(), greedy(model, src, 9, constrained=True), strict=True):
        _obeys(row, out)
    for row, out in zip(src.tolist(), sample(model, src, 9, seed=seed, constrained=True), strict=True):
        _obeys(row, out)
    for i in range(src.size(0)):
        s = src[i:i + 1, :int((src[i] != PAD).sum())]
        hyps = beam_search(model, s, width=3, max_len=9, constrained=True)
        assert hyps and all(h.finished for h in hyps)
        for h in hyps:
            _obeys(src[i].tolist(), h.ids)


def test_the_mask_only_forbids_what_the_model_would_otherwise_say():
    """Unconstrained, random models break the rules; where a free answer keeps them, the mask changes
    nothing (it forbids, it never chooses)."""
    broken = kept = 0
    for seed in range(8):
        model, src = _model(V=16, seed=seed), _sources()
        free, masked = greedy(model, src, 9), greedy(model, src, 9, constrained=True)
        for row, f, m in zip(src.tolist(), free, masked, strict=True):
            try:
                _obeys(row, f)
            except AssertionError:
                broken += 1
                continue
            kept += 1
            assert f == m
    assert broken > 0


def test_mask_rules_one_by_one():
    src = torch.tensor([[4, 5, 4]])
    V = 10
    m0 = couplet_mask(src, torch.tensor([[1]]), V)[0]
    assert m0[EOS] and m0[4] and not m0[5]  # too early to end; the source's own character
    m2 = couplet_mask(src, torch.tensor([[1, 6, 7]]), V)[0]
    assert not m2[6] and m2[7] and m2[4]  # the source repeats 4 at 0 and 2: 6 may come back, 7 may not
    m3 = couplet_mask(src, torch.tensor([[1, 6, 7, 6]]), V)[0]
    assert (~m3).nonzero().flatten().tolist() == [EOS]  # the line has its length: only </s>


def test_lookup_table_answers_by_position_without_repeats():
    train = [("白日依山盡", "黃河入海流"), ("白雲千載空", "黃鶴一去不"[:5]), ("日日", "年年")]
    table = LookupTable(train)
    assert table.answer("白雲") == "黃鶴" and table.answer("白日") == "黃年"  # 日 answers 年 twice, 河 once
    out = table.answer("日日山")
    assert out[0] == out[1] and len(set(out)) == 2 and len(out) == 3  # mirrors the source's repeat
    for s in ("白日依山盡", "山山白日", "未見之字"):
        o = table.answer(s)
        assert len(o) == len(s) and not forbidden_repeat(s, o)


def test_couplet_score_parts():
    assert tone_class("天") == "平" and tone_class("地") == "仄" and tone_class("□") is None
    assert tones_opposed("白日依山盡", "黃河入海流")  # 盡 仄, 流 平
    assert forbidden_repeat("白日依山盡", "白雲入海流") and forbidden_repeat("白日依山盡", "黃河河海流")
    assert not forbidden_repeat("年年歲歲", "處處時時")
    good = couplet_score(["白日依山盡"], ["黃河入海流"])
    bad = couplet_score(["白日依山盡"], ["白日依山"])
    assert good["length"] == 1 and good["no_repeat"] == 1 and good["tone"] == 1
    assert bad["length"] == 0 and bad["no_repeat"] == 0 and bad["score"] < good["score"]


def test_intervals_bracket_the_corpus_scores():
    sources = ["白日依山盡", "床前明月光", "春眠不覺曉", "明月松間照"] * 5
    refs = ["黃河入海流", "疑是地上霜", "處處聞啼鳥", "清泉石上流"] * 5
    outs = ["黃河入海流", "疑似天上霜", "時時見飛鳥", "白石水中流"] * 5
    r = scores_with_intervals(sources, outs, refs, n_boot=200)
    import sacrebleu

    assert r["chrf"] == pytest.approx(sacrebleu.corpus_chrf(outs, [refs]).score, abs=0.01)
    assert r["bleu"] == pytest.approx(sacrebleu.corpus_bleu(outs, [refs], tokenize="zh").score, abs=0.01)
    for k in ("chrf", "bleu", "couplet"):
        lo, hi = r[f"{k}_ci"]
        assert lo <= r[k] <= hi and lo < hi
    assert np.isclose(scores_with_intervals(sources, refs, refs, n_boot=50)["chrf"], 100)


def test_bootstrap_mean_and_corpus_intervals():
    from lmlab.eval.bootstrap import bootstrap_corpus, bootstrap_mean, resample_counts

    counts = resample_counts(7, n_boot=50, seed=1)
    assert counts.shape == (50, 7) and (counts.sum(1) == 7).all()
    assert bootstrap_mean([3.0] * 10) == (3.0, 3.0)  # no spread, no width
    lo, hi = bootstrap_mean([0.0] * 50 + [1.0] * 50)
    assert 0.35 < lo < 0.5 < hi < 0.65
    stats = np.array([[1.0, 2.0]] * 20 + [[0.0, 2.0]] * 20)  # a ratio of sums: 20 / 80 = 0.25
    lo, hi = bootstrap_corpus(stats, lambda s: s[0] / s[1])
    assert lo < 0.25 < hi
    with pytest.raises(ValueError, match="empty"):
        bootstrap_mean([])


def test_paired_bootstrap_is_narrower_than_two_intervals_and_sees_a_consistent_gain():
    from lmlab.eval.bootstrap import bootstrap_corpus, bootstrap_corpus_difference

    rng = np.random.default_rng(0)
    hardness = rng.uniform(0, 1, size=200)  # what both systems share: some items are easy for both
    a = np.stack([hardness + 0.05, np.ones(200)], axis=1)  # a scores 0.05 more on every item
    b = np.stack([hardness, np.ones(200)], axis=1)

    def ratio(s):
        return s[0] / s[1]
    a_lo, a_hi = bootstrap_corpus(a, ratio)
    b_lo, b_hi = bootstrap_corpus(b, ratio)
    assert a_lo < b_hi  # two separate intervals overlap ...
    lo, hi = bootstrap_corpus_difference(a, b, ratio)
    assert 0 < lo <= 0.05 <= hi and hi - lo < 1e-9  # ... the paired one sees the same +0.05 on every resample
    lo, hi = bootstrap_corpus_difference(b, b, ratio)
    assert lo == hi == 0
    with pytest.raises(ValueError, match="same items"):
        bootstrap_corpus_difference(a, b[:10], ratio)


def test_paired_chrf_of_a_system_against_itself_and_a_better_one():
    from lmlab.models.seq2seq.metrics import paired_chrf

    refs = ["花落日中紅", "水色有餘秋", "聲隨龍殿風", "向日自開門"] * 5
    worse = ["花落月中花", "山色有無聲", "聲連竹樹陰", "入雨夜連山"] * 5
    assert paired_chrf(worse, worse, refs) == {"diff": 0.0, "diff_ci": (0.0, 0.0)}
    better = paired_chrf(refs, worse, refs)
    assert better["diff"] > 0 and better["diff_ci"][0] > 0
    with pytest.raises(ValueError, match="same references"):
        paired_chrf(refs[:3], worse, refs)
