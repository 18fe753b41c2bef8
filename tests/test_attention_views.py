"""Attention views: shapes, the step-by-step arithmetic against the model, escaping, saved files, CLI."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import torch

from lmlab.checkpoint import save_checkpoint
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.model import GPT
from lmlab.tokenizers.char import CharTokenizer
from lmlab.viz.attention import (
    AttentionMaps,
    as_attention_maps,
    attention_of,
    attention_steps,
    grid_view,
    head_view,
    model_view,
    next_token_view,
    positional_view,
    sinusoidal_table,
    steps_view,
)

EVIL = "<script>alert(1)</script>"
TEXT = "To be, or not to be:\n床前明月光，疑是地上霜。"


@pytest.fixture(scope="module")
def gpt():
    torch.manual_seed(0)
    tok = CharTokenizer.fit(TEXT + "xyz")
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=48, n_layer=2, n_head=4, n_embd=32)).eval()
    return model, tok


def evil_maps(n_layer=2, n_head=3) -> AttentionMaps:
    tokens = ["a", EVIL, "</script><script>window.__pwned=1</script>", "\"'&", "詩"]
    w = torch.softmax(torch.randn(n_layer, n_head, 5, 5), -1)
    return as_attention_maps(w, tokens)


def test_attention_of_gpt_shapes_rows_and_causal_mask(gpt):
    model, tok = gpt
    maps = attention_of(model, TEXT, tok)
    T = len(TEXT)
    assert maps.weights.shape == (2, 4, T, T)
    assert maps.tokens[:3] == ["T", "o", "␣"] and "⏎" in maps.tokens and "床" in maps.tokens
    assert maps.causal is True
    torch.testing.assert_close(maps.weights.sum(-1), torch.ones(2, 4, T))
    assert torch.all(maps.weights.triu(diagonal=1) == 0)


def test_long_text_is_cropped_to_block_size_with_a_note(gpt):
    model, tok = gpt
    maps = attention_of(model, TEXT * 3, tok)
    assert maps.n_tokens == 48 and "block_size=48" in maps.note


def test_crop_of_a_causal_model_is_exact(gpt):
    model, tok = gpt
    full = attention_of(model, TEXT, tok)
    cropped = full.crop(10)
    short = attention_of(model, TEXT[:10], tok)
    torch.testing.assert_close(cropped.weights, short.weights)
    assert "first 10" in cropped.note and "exact" in cropped.note


def test_as_attention_maps_accepts_hf_tuples_and_rejects_bad_shapes():
    layers = tuple(torch.softmax(torch.randn(1, 2, 4, 4), -1) for _ in range(3))
    maps = as_attention_maps(layers, list("abcd"))
    assert maps.weights.shape == (3, 2, 4, 4) and maps.causal is False
    with pytest.raises(ValueError, match="batch size 2"):
        as_attention_maps([torch.rand(2, 2, 4, 4)], list("abcd"))
    with pytest.raises(ValueError, match="4 positions but 3 tokens"):
        as_attention_maps(layers, list("abc"))
    with pytest.raises(ValueError, match="layer 5 does not exist"):
        maps.head(5, 0)
    with pytest.raises(ValueError, match="sentence_b_start=9"):
        as_attention_maps(layers, list("abcd"), sentence_b_start=9)


@pytest.mark.parametrize("layer,head,token", [(0, 0, -1), (1, 3, 7), (1, 2, 0)])
def test_steps_match_the_models_own_attention(gpt, layer, head, token):
    model, tok = gpt
    s = attention_steps(model, TEXT, tok, layer=layer, head=head, token=token)
    i = s.query
    assert s.max_abs_diff < 1e-5
    assert s.q.shape == (8,) and s.K.shape == (len(TEXT), 8) and s.V.shape == (len(TEXT), 8)
    torch.testing.assert_close(s.scaled, s.K @ s.q / 8 ** 0.5)
    assert torch.all(torch.isinf(s.masked[i + 1:])) and torch.all(s.weights[i + 1:] == 0)
    torch.testing.assert_close(s.output, s.weights @ s.V)
    assert abs(float(s.weights.sum()) - 1) < 1e-5


def test_steps_reject_a_token_outside_the_text(gpt):
    model, tok = gpt
    with pytest.raises(ValueError, match="token index 99"):
        attention_steps(model, "To be", tok, token=99)


def _own_scripts_only(html: str) -> None:
    # every script element is one we opened (the libraries' own source mentions "<script" in strings,
    # which is harmless: only "</script" or "<!--" could end or derail a script element early)
    assert html.count("</script") == html.count('<script type="text/javascript">')
    assert "<!--" not in html
    assert EVIL not in html and "window.__pwned=1</script>" not in html


@pytest.mark.parametrize("make", [head_view, model_view, grid_view])
def test_token_text_is_escaped_in_every_view(make):
    _own_scripts_only(make(evil_maps()).to_html())


def test_escaping_in_steps_and_next_token_views(gpt):
    model, tok = gpt
    evil_tok = CharTokenizer(sorted(set(TEXT + EVIL + "'\"&")))
    evil_model = GPT(GPTConfig(vocab_size=evil_tok.vocab_size, block_size=48, n_layer=1, n_head=2, n_embd=16))
    html = steps_view(evil_model, "<b>&", evil_tok, token=-1).to_html()
    assert "&lt;" in html and "<b>" not in html
    _own_scripts_only(next_token_view(evil_model, EVIL, evil_tok).to_html())
    from lmlab.viz.attention import NextTokenView  # a vocabulary entry that is itself markup

    _own_scripts_only(NextTokenView(torch.randn(3), ["a", EVIL, "</script><!--"], prompt=EVIL).to_html())


def test_bertviz_html_is_offline_and_self_contained():
    html = head_view(evil_maps()).to_html()
    assert "cdnjs" not in html and not re.search(r"""src=["']https?:""", html)
    assert "https://d3js.org v5" in html  # d3 v5 inlined from the mpld3 package
    assert "jQuery v3" in html and "requirejs(['jquery', 'd3']" in html  # bertviz's own script


def test_several_views_get_distinct_roots():
    a, b = head_view(evil_maps()).to_html(), head_view(evil_maps()).to_html()
    ids = set(re.findall(r'id="(lmlab-bertviz-[0-9a-f]+)"', a + b))
    assert len(ids) == 2


def test_model_view_crops_long_inputs_with_a_visible_note():
    w = torch.softmax(torch.randn(6, 12, 200, 200), -1)
    view = model_view(as_attention_maps(w, [f"t{i}" for i in range(200)]))
    assert view.maps.n_tokens < 200
    assert view.maps.n_layer * view.maps.n_head * view.maps.n_tokens ** 2 <= 150_000
    assert "too many to draw" in view.to_html()
    assert "rows are not renormalised" in view.maps.note  # not causal: cropping is not exact


@pytest.mark.parametrize("suffix", [".html", ".png", ".svg"])
def test_every_view_saves_each_format(gpt, tmp_path, suffix):
    model, tok = gpt
    maps = attention_of(model, TEXT, tok)
    views = [head_view(maps), model_view(maps), grid_view(maps, head=None, average_heads=True),
             steps_view(model, TEXT, tok, layer=1, head=1), positional_view(model),
             next_token_view(model, "To be", tok, temperature=0.8, top_k=5)]
    for k, view in enumerate(views):
        path = view.save(tmp_path / f"v{k}{suffix}")
        data = path.read_bytes()
        assert len(data) > 500
        if suffix == ".png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
        elif suffix == ".svg":
            assert ET.fromstring(data).tag.endswith("svg")
        else:
            text = data.decode("utf-8")
            assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
            assert not re.search(r"""(src|href)=["']https?:""", text)


def test_save_rejects_unknown_formats(gpt, tmp_path):
    with pytest.raises(ValueError, match="'x.jpg'"):
        head_view(evil_maps()).save(tmp_path / "x.jpg")


def test_next_token_probabilities_follow_temperature_and_top_k(gpt):
    model, tok = gpt
    view = next_token_view(model, "To be", tok, temperature=0.5, top_k=3)
    p = view.probabilities()
    assert int((p > 0).sum()) == 3 and abs(float(p.sum()) - 1) < 1e-5
    top3 = torch.topk(view.logits, 3).indices
    torch.testing.assert_close(p[top3], torch.softmax(view.logits[top3] / 0.5, -1))
    with pytest.raises(ValueError, match="temperature"):
        next_token_view(model, "To be", tok, temperature=0)


def test_sinusoidal_table_matches_the_formula():
    from lmlab.models.transformer.attention import sinusoidal_encoding

    pe = sinusoidal_table(50, 16)
    torch.testing.assert_close(pe, sinusoidal_encoding(50, 16))
    assert float(pe[7, 2]) == pytest.approx(torch.sin(torch.tensor(7 / 10000 ** (2 / 16))).item())
    with pytest.raises(ValueError, match="even d_model"):
        sinusoidal_table(10, 7)


def _write_gpt_checkpoint(path, gpt):
    model, tok = gpt
    save_checkpoint(path / "ckpt.pt", model=model, config=model.config, kind="gpt", tokenizer=tok)
    return path


@pytest.mark.parametrize("view,suffix", [("head", ".html"), ("grid", ".png"), ("steps", ".svg"),
                                         ("model", ".html")])
def test_cli_viz_attention_on_a_checkpoint(gpt, tmp_path, view, suffix, capsys):
    from lmlab.cli import main

    ckpt = _write_gpt_checkpoint(tmp_path, gpt)
    out = tmp_path / f"out{suffix}"
    rc = main(["viz", "attention", str(ckpt), "--text", "To be, or", "--view", view, "--layer", "1",
               "--head", "2", "-o", str(out)])
    assert rc == 0 and out.stat().st_size > 500
    assert f"wrote {out}" in capsys.readouterr().out


def test_cli_viz_attention_errors_are_one_line(gpt, tmp_path, capsys):
    from lmlab.cli import main

    ckpt = _write_gpt_checkpoint(tmp_path, gpt)
    assert main(["viz", "attention", str(ckpt), "--text", "To", "-o", str(tmp_path / "a.jpg")]) == 2
    assert "a.jpg" in capsys.readouterr().err
    missing = str(tmp_path / "nope")
    assert main(["viz", "attention", missing, "--text", "To", "-o", str(tmp_path / "a.html")]) == 2
    assert "neither a checkpoint" in capsys.readouterr().err
    assert main(["viz", "attention", str(ckpt), "--text", "To", "--layer", "7", "-o",
                 str(tmp_path / "a.html")]) == 2
    assert "layer 7 does not exist" in capsys.readouterr().err


def test_cli_viz_embeddings_dispatches_to_the_embeddings_command():
    import lmlab.cli.viz_embeddings as embeddings
    from lmlab.cli import build_parser

    args = build_parser().parse_args(["viz", "embeddings", "vectors.txt", "--words", "a,b", "-o", "x.png"])
    assert args._viz is embeddings.run


def test_encoder_attention_is_bidirectional_and_steps_have_no_mask():
    from lmlab.models.transformer.model import TransformerEncoder

    tok = CharTokenizer.fit(TEXT)
    enc = TransformerEncoder(GPTConfig(vocab_size=tok.vocab_size, block_size=48, n_layer=2, n_head=2,
                                       n_embd=16)).eval()
    maps = attention_of(enc, "To be, or not", tok)
    assert maps.causal is False and float(maps.weights.triu(diagonal=1).sum()) > 0
    s = attention_steps(enc, "To be, or not", tok, layer=1, head=1, token=2)
    assert s.max_abs_diff < 1e-5 and not torch.isinf(s.masked).any()


def test_positions_of_a_rope_model_are_its_rotary_angles_and_depend_on_the_offset(gpt):
    from lmlab.viz.attention.positional import cosine_similarity_matrix, position_table

    model, _ = gpt  # rope by default: no table is added to the tokens
    table, name = position_table(model)
    assert table.shape == (48, 8) and "rotary" in name  # (block_size, head_size): cos, sin per pair
    assert table[0].tolist() == [1.0, 0.0] * 4  # position 0 is not turned
    sim = cosine_similarity_matrix(table)
    torch.testing.assert_close(torch.diagonal(sim, offset=3)[:-1], torch.diagonal(sim, offset=3)[1:])
    learned = GPT(GPTConfig(vocab_size=11, block_size=48, n_layer=1, n_head=4, n_embd=32,
                            pos_encoding="learned"))
    assert "learned" in position_table(learned)[1]


def test_every_view_speaks_the_learners_language(gpt, monkeypatch):
    """LMLAB_LANG=zh: the views' titles, controls, hints and crop note are Chinese; the script gets its words
    from the page's parameters, so what it writes on hover is Chinese too."""
    model, tok = gpt
    monkeypatch.setenv("LMLAB_LANG", "zh")
    maps = attention_of(model, TEXT * 3, tok)
    assert "只用前 48 个" in maps.note and "using the first" not in maps.note
    grid = grid_view(maps).to_html()
    for chinese in ("注意力网格", "各头平均", "鼠标悬停", "因果掩码"):
        assert chinese in grid, chinese
    import json

    script = grid[grid.index("var P = ") + len("var P = "):]
    words = json.JSONDecoder().raw_decode(script)[0]["t"]  # what the script writes on hover and click
    assert words["layer"] == "第 {l} 层" and words["future"] == "被遮住（未来的 token）", words
    for english in ("average the heads", "hover a cell", "attention grid", "mean of heads", "masked (future"):
        assert english not in grid, english
    views = [head_view(maps).to_html(), steps_view(model, TEXT, tok, layer=0, head=0, token=3).to_html(),
             next_token_view(model, TEXT[:10], tok).to_html(), positional_view(model).to_html()]
    assert "bertviz 头视图" in views[0] and "怎样分配注意力" in views[1] and "模型预测" in views[2]
    assert "cut by top-k" not in views[2] and "how token" not in views[1] and "positions ×" not in views[3]
