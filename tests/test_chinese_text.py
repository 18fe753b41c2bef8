"""The measurements of notebook 09: modern prose from the Chinese edition, tokenizer reports, OOV, merges."""

from __future__ import annotations

import opencc
import pytest

from lmlab.data.chinese import (
    bpe_vocabulary,
    han_share,
    merged_by_simplification,
    modern_prose,
    oov_rate,
    sentences,
    tokenizer_report,
)


def test_modern_prose_is_chinese_sentences_without_code_or_formulas():
    prose = modern_prose()
    assert len(prose) > 150
    assert all(han_share(s) >= 0.6 and "$" not in s and "{" not in s for s in prose)
    assert len(set(prose)) == len(prose)


def test_sentences_join_hard_wrapped_lines_and_split_at_full_stops():
    from lmlab.data.chinese import _strip

    text = _strip("## 标题\n\n这是第一句话，它被折成\n两行。这是第二句话，很短但够长。\n\n| 表格 | 不要 |")
    assert sentences(text) == ["这是第一句话，它被折成两行。", "这是第二句话，很短但够长。"]


def test_oov_and_reports():
    assert oov_rate(list("床前明月光"), list("明月几时有")) == pytest.approx(3 / 5)
    train, test = ["床前明月光", "疑是地上霜"], ["举头望明月"]
    chars = tokenizer_report("char", list, train, test)
    assert chars["vocab"] == 10 and chars["tokens_per_line"] == 5 and chars["oov"] == pytest.approx(3 / 5)
    from lmlab.tokenizers.bpe import FastBPETokenizer

    bpe = FastBPETokenizer.train("\n".join(train * 20), vocab_size=300)
    report = tokenizer_report("BPE", bpe.tokens, train, test, vocabulary=bpe_vocabulary(bpe))
    assert report["oov"] == 0.0 and report["vocab"] == bpe.vocab_size  # bytes cover any character


def test_simplification_merges_are_found():
    t2s = opencc.OpenCC("t2s").convert
    groups = merged_by_simplification("發髮後后雲云月，", t2s)
    assert groups == {"云": ["云", "雲"], "发": ["發", "髮"], "后": ["后", "後"]}
