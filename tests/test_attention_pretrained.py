"""The packaged pretrained encoder (all-MiniLM-L6-v2), offline: attention, sentence pairs, arithmetic."""

from __future__ import annotations

import pytest
import torch

from lmlab.viz.attention import attention_of, attention_steps, head_view, model_view


@pytest.fixture(scope="module")
def minilm():
    from lmlab.models.pretrained import load_minilm

    return load_minilm()


def test_minilm_attention_shapes_and_wordpiece_tokens(minilm):
    maps = attention_of(minilm, "The cat sat on the mat.")
    assert maps.tokens == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
    assert maps.weights.shape == (6, 12, 9, 9) and maps.causal is False
    torch.testing.assert_close(maps.weights.sum(-1), torch.ones(6, 12, 9))
    assert float(maps.weights.triu(diagonal=1).sum()) > 1.0  # bidirectional: it looks ahead too


def test_sentence_pair_marks_where_sentence_b_starts(minilm):
    maps = attention_of(minilm, "The cat sat.", text_b="It purred loudly.")
    b = maps.sentence_b_start
    assert maps.tokens[b - 1] == "[SEP]" and maps.tokens[b] == "it" and maps.tokens[-1] == "[SEP]"
    same = attention_of(minilm, "The cat sat.", "It purred loudly.")  # the second text as a positional
    assert same.sentence_b_start == b
    html = head_view(maps).to_html()
    assert "Sentence B -\\u003e Sentence A" in html and 'id="filter"' in html


def test_minilm_steps_match_its_reported_attention(minilm):
    s = attention_steps(minilm, "The cat sat on the mat.", layer=2, head=5, token=3)
    assert s.d_k == 32 and s.causal is False
    assert s.max_abs_diff < 1e-5
    assert not torch.isinf(s.masked).any()


def test_long_input_is_truncated_with_a_note(minilm):
    maps = attention_of(minilm, "word " * 300, max_tokens=40)
    assert maps.n_tokens == 40 and "300" not in maps.tokens and "the first 40" in maps.note
    assert model_view(maps).maps.n_tokens <= 40


def test_unknown_pretrained_name_is_a_clear_error():
    from lmlab.models.pretrained import load_pretrained

    with pytest.raises(ValueError, match="available: minilm"):
        load_pretrained("bert-large")


def test_cli_viz_attention_minilm(tmp_path, capsys):
    from lmlab.cli import main

    out = tmp_path / "pair.html"
    assert main(["viz", "attention", "minilm", "--text", "The cat sat.", "--text-b", "It purred.",
                 "--view", "head", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert '"sat"' in text and '"it"' in text and "cdnjs" not in text
