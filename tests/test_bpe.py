"""Byte-level BPE: the from-scratch merges, lossless round trips, and the fast library tokenizer."""

from __future__ import annotations

import pytest

from lmlab.tokenizers import tokenizer_from_dict
from lmlab.tokenizers.bpe import GPT2_SPLIT, BytePairEncoding, FastBPETokenizer, merge_pair

TEXT = "low lower lowest newer newest wider widest " * 5


def test_merge_pair_is_left_to_right_non_overlapping():
    assert merge_pair([1, 1, 1, 2], (1, 1), 9) == [9, 1, 2]
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 7) == [7, 3, 7]


def test_first_merge_is_the_most_frequent_pair():
    bpe = BytePairEncoding.train("aaab aaab aaab", n_merges=1)
    assert bpe.merges == [((97, 97), 256)]  # "aa": twice in every "aaab" chunk
    assert bpe.token_text(256) == "aa" and bpe.vocab_size == 257


def test_encode_applies_merges_in_learned_order_and_shows_work():
    bpe = BytePairEncoding.train(TEXT, n_merges=10)
    ids = bpe.encode("lowest")
    assert len(ids) < len(b"lowest")  # merges made it shorter
    work = bpe.encode_and_show_work("lowest")
    assert work[0]["ids"] == ids and work[0]["bytes"] == list(b"lowest")
    ranks = [bpe.ranks[s["merge"]] for s in work[0]["steps"]]
    assert ranks == sorted(ranks)  # earliest-learned merge first
    assert work[0]["steps"][-1]["tokens"] == work[0]["tokens"]


@pytest.mark.parametrize("text", ["hello world", "唐詩 três_bien 123!!\n\n  x", "🙂 emoji", ""])
def test_scratch_bpe_is_lossless_on_any_text(text):
    bpe = BytePairEncoding.train(TEXT, n_merges=20)
    assert bpe.decode(bpe.encode(text)) == text
    assert "".join(GPT2_SPLIT.findall(text)) == text  # the pre-tokenizer drops nothing


def test_scratch_bpe_round_trips_through_dict_and_rejects_bad_input():
    bpe = BytePairEncoding.train(TEXT, n_merges=5)
    again = tokenizer_from_dict(bpe.to_dict())
    assert again.encode("newest") == bpe.encode("newest")
    with pytest.raises(ValueError, match="empty"):
        BytePairEncoding.train("", 3)
    with pytest.raises(ValueError, match="not in this vocabulary"):
        bpe.decode([999])


def test_fast_bpe_is_lossless_and_serialises():
    tok = FastBPETokenizer.train(TEXT * 4 + "唐詩 café", vocab_size=300)
    assert 256 < tok.vocab_size <= 300
    for text in ("lowest widest", "唐詩 café", "unseen ñ words 🙂"):
        assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode("lowest lowest")) < len("lowest lowest")
    again = tokenizer_from_dict(tok.to_dict())
    assert again.encode("newer") == tok.encode("newer") and again.kind == "bpe"
    with pytest.raises(ValueError, match="at least 257"):
        FastBPETokenizer.train(TEXT, vocab_size=100)
