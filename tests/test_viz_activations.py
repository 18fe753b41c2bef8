"""Gradient decay, gates, neurons and trajectories: the numbers behind the pictures, and the pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from lmlab.models.lstm import LSTMConfig, LSTMLanguageModel, analysis
from lmlab.tokenizers import CharTokenizer
from lmlab.viz import activations as viz


@pytest.fixture(scope="module")
def tiny():
    text = "To be, or not to be:\nthat is the question.\n床前明月光，疑是地上霜。\n"
    tok = CharTokenizer.fit(text)
    torch.manual_seed(0)
    model = LSTMLanguageModel(LSTMConfig(vocab_size=tok.vocab_size, n_embd=12, hidden=12, n_layer=2))
    return model, tok, text


def test_rnn_gradient_vanishes_faster_than_lstm_with_open_forget_gate():
    curves = analysis.rnn_vs_lstm(steps=60, hidden=32, forget_biases=(0.0, 3.0))
    rnn, lstm_closed, lstm_open = curves.values()
    assert all(len(c) == 60 for c in curves.values())
    assert rnn[40] < 1e-6 * rnn[0]                        # the RNN forgets 40 steps back
    assert lstm_open[40] > 1e-2 * lstm_open[0]            # an open forget gate keeps the gradient
    assert lstm_open[40] > 1e3 * lstm_closed[40]


def test_internals_match_the_fast_model(tiny):
    model, tok, text = tiny
    inside = analysis.internals(model, tok, text)
    T = len(text)
    assert inside["forget_gate"][1].shape == (T, 12) and len(inside["cell_state"]) == 2
    logits, _ = model.eval()(torch.tensor([tok.encode(text)]))
    assert np.allclose(inside["probs"][0], torch.softmax(logits[0], -1).detach().numpy(), atol=1e-5)


def test_find_neuron_recovers_a_planted_unit():
    rng = np.random.default_rng(0)
    text = ("a line of text\nand another one here\n" * 5)
    position = analysis.line_position(text)
    assert position[0] == 0 and position[text.index("\n") + 1] == 0 and position[3] == 3
    acts = rng.normal(size=(len(text), 20))
    acts[:, 13] = -0.1 * position + 0.01 * rng.normal(size=len(text))
    unit, r = analysis.find_neuron(acts, position)
    assert unit == 13 and r < -0.95
    with pytest.raises(ValueError, match="constant"):
        analysis.find_neuron(acts, np.zeros(len(text)))
    assert analysis.inside_quotes("say 'hi' now").tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]


def test_figures_render_and_save_small_png_and_svg(tiny, tmp_path):
    model, tok, text = tiny
    inside = analysis.internals(model, tok, text)
    layer = {k: v[0] for k, v in inside.items() if k != "probs"}
    figures = {
        "decay": viz.plot_gradient_decay(analysis.rnn_vs_lstm(steps=20, hidden=8)),
        "gates": viz.plot_gates(text, layer, units=range(6)),
        "neuron": viz.plot_text_heat(text, layer["cell_state"][:, 3], width=24),
        "pca": viz.plot_pca_trajectory(layer["hidden_state"], text),
        "probs": viz.plot_next_char_probs(text, inside["probs"][0], tok.itos),
    }
    for name, fig in figures.items():
        png = viz.save(fig, tmp_path / f"{name}.png")
        assert 2_000 < png.stat().st_size < 600_000, name
        with Image.open(png) as im:
            assert im.size[0] > 100 and im.size[1] > 50
    svg = viz.save(figures["neuron"], tmp_path / "neuron.svg")
    assert svg.read_text().startswith("<?xml") and svg.stat().st_size < 2_000_000


def test_cjk_characters_render_with_a_real_font(tmp_path):
    import warnings

    from lmlab.viz.style import find_cjk_font

    assert find_cjk_font() is not None, "no CJK font found (mplfonts ships Noto Sans CJK)"
    fig = viz.plot_text_heat("床前明月光，\n疑是地上霜。", np.arange(13.0), width=8)
    assert any(t.get_text() == "床" for t in fig.axes[0].texts)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        viz.save(fig, tmp_path / "cjk.png")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing


def test_text_heat_html_and_bad_lengths():
    html = viz.text_heat_html("a<b\n", [0.0, 1.0, -1.0, 0.5])
    assert "&lt;" in html and html.count("<span") == 4 and "<br>" in html
    with pytest.raises(ValueError, match="one value per character"):
        viz.text_heat_html("abc", [1.0])
    with pytest.raises(ValueError, match="T >= 3"):
        viz.pca_2d(np.zeros((2, 4)))
