"""The recurrent cells match PyTorch, the model ties weights, streams are contiguous, samples well formed."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from lmlab.models.lstm import (
    LSTMCell,
    LSTMConfig,
    LSTMLanguageModel,
    RNNCell,
    ScratchLSTM,
    StreamBatches,
    detach_state,
    generate,
    generate_poem,
    load_for_sampling,
)
from lmlab.models.lstm.generate import poem_positions
from lmlab.models.lstm.poems import BUILTIN_POEMS, is_regular, poems_text, regular_poems
from lmlab.tokenizers import CharTokenizer


def test_lstm_cell_equals_torch_lstm_step():
    torch.manual_seed(0)
    ref = nn.LSTM(7, 11, batch_first=True)
    cell = LSTMCell(7, 11).copy_from_torch(ref)
    x = torch.randn(3, 1, 7)
    h0, c0 = torch.randn(1, 3, 11), torch.randn(1, 3, 11)
    _, (h_ref, c_ref) = ref(x, (h0, c0))
    h, c = cell(x[:, 0], (h0[0], c0[0]))
    assert torch.allclose(h, h_ref[0], atol=1e-5) and torch.allclose(c, c_ref[0], atol=1e-5)


def test_scratch_lstm_equals_torch_lstm_over_a_sequence_two_layers():
    torch.manual_seed(1)
    ref = nn.LSTM(5, 8, num_layers=2, batch_first=True)
    scratch = ScratchLSTM.from_torch(ref)
    x = torch.randn(4, 20, 5)
    state = (torch.randn(2, 4, 8), torch.randn(2, 4, 8))
    out_ref, (h_ref, c_ref) = ref(x, state)
    out, (h, c) = scratch(x, state)
    assert (out - out_ref).abs().max() <= 1e-5
    assert (h - h_ref).abs().max() <= 1e-5 and (c - c_ref).abs().max() <= 1e-5


def test_scratch_lstm_gates_obey_the_equations():
    torch.manual_seed(2)
    scratch = ScratchLSTM(3, 6)
    x = torch.randn(2, 9, 3)
    out, _, internals = scratch(x, return_internals=True)
    g = internals[0]
    for name in ("input_gate", "forget_gate", "output_gate"):
        assert g[name].shape == (2, 9, 6) and g[name].min() >= 0 and g[name].max() <= 1
    c_prev = torch.cat([torch.zeros(2, 1, 6), g["cell_state"][:, :-1]], dim=1)
    assert torch.allclose(g["cell_state"], g["forget_gate"] * c_prev + g["input_gate"] * g["candidate"])
    assert torch.allclose(out, g["output_gate"] * torch.tanh(g["cell_state"]))


def test_lstm_cell_gradients_match_torch():
    torch.manual_seed(3)
    ref = nn.LSTM(4, 5, batch_first=True)
    scratch = ScratchLSTM.from_torch(ref)
    x = torch.randn(2, 6, 4)
    ref(x)[0].sum().backward()
    scratch(x)[0].sum().backward()
    w_ref = ref.weight_hh_l0.grad.chunk(4)[1]       # forget-gate rows of the recurrent weights
    assert torch.allclose(scratch.cells[0].U_f.weight.grad, w_ref, atol=1e-5)


def test_rnn_cell_equals_torch_rnn():
    torch.manual_seed(4)
    ref = nn.RNN(6, 9, batch_first=True)
    cell = RNNCell(6, 9).copy_from_torch(ref)
    x = torch.randn(3, 12, 6)
    out_ref, _ = ref(x)
    h = torch.zeros(3, 9)
    for t in range(12):
        h = cell(x[:, t], h)
    assert (h - out_ref[:, -1]).abs().max() <= 1e-5


def test_model_ties_weights_only_when_sizes_allow():
    tied = LSTMLanguageModel(LSTMConfig(vocab_size=30, n_embd=16, hidden=16, n_layer=2))
    assert tied.head.weight is tied.embedding.weight
    untied = LSTMLanguageModel(LSTMConfig(vocab_size=30, n_embd=8, hidden=16, n_layer=1))
    assert untied.head.weight is not untied.embedding.weight
    assert tied.num_params() < LSTMLanguageModel(LSTMConfig(30, 16, 16, 2, tie_weights=False)).num_params()
    logits, (h, c) = tied(torch.randint(30, (4, 7)))
    assert logits.shape == (4, 7, 30) and h.shape == c.shape == (2, 4, 16)


def test_model_forget_bias_starts_at_one():
    model = LSTMLanguageModel(LSTMConfig(vocab_size=10, hidden=8, n_embd=8, n_layer=1))
    b = model.lstm.bias_ih_l0 + model.lstm.bias_hh_l0
    assert torch.allclose(b[8:16], torch.ones(8))


def test_state_carried_equals_one_long_pass():
    torch.manual_seed(5)
    model = LSTMLanguageModel(LSTMConfig(vocab_size=12, hidden=10, n_embd=10, n_layer=2)).eval()
    idx = torch.randint(12, (2, 30))
    full, _ = model(idx)
    first, state = model(idx[:, :13])
    second, _ = model(idx[:, 13:], detach_state(state))
    assert torch.allclose(torch.cat([first, second], 1), full, atol=1e-5)


def test_streams_are_contiguous_across_batches():
    ids = torch.arange(1000)
    batches = StreamBatches(ids, batch_size=4, block_size=10, seed=0)
    x0, y0, new0 = batches.get(0)
    x1, _, new1 = batches.get(1)
    assert new0 and not new1
    assert torch.equal(y0[:, :-1], x0[:, 1:]) and torch.equal(y0[:, -1], x0[:, -1] + 1)
    assert torch.equal(x1[:, 0], x0[:, -1] + 1)         # row b of batch 1 continues row b of batch 0
    assert len(set(x0[:, 0].tolist())) == 4
    again, _, _ = StreamBatches(ids, 4, 10, seed=0).get(1)
    assert torch.equal(again, x1)                        # the iteration alone fixes the batch


def test_streams_reject_a_corpus_shorter_than_a_batch():
    with pytest.raises(ValueError, match="shorter than one batch"):
        StreamBatches(torch.arange(50), batch_size=8, block_size=16)


def _tiny(text: str = "hello world\n", hidden: int = 8) -> tuple[LSTMLanguageModel, CharTokenizer]:
    tok = CharTokenizer.fit(text)
    torch.manual_seed(0)
    return LSTMLanguageModel(LSTMConfig(vocab_size=tok.vocab_size, n_embd=hidden, hidden=hidden,
                                        n_layer=1)), tok


def test_generate_returns_prompt_and_continuation_and_is_seeded():
    model, tok = _tiny()
    a = generate(model, tok, "he", 20, temperature=0.9, top_k=5, seed=3)
    b = generate(model, tok, "he", 20, temperature=0.9, top_k=5, seed=3)
    assert a == b and a.startswith("he") and len(a) == 22
    assert set(a) <= set("hello world\n")
    greedy = generate(model, tok, "h", 10, top_k=1, seed=0)
    assert greedy == generate(model, tok, "h", 10, top_k=1, seed=99)


@pytest.mark.parametrize("prompt, n, match", [("hez", 5, "not in the vocabulary"), ("", 5, "empty"),
                                              ("he", 0, "max_new_tokens")])
def test_generate_bad_input_is_a_clear_error(prompt, n, match):
    model, tok = _tiny()
    with pytest.raises(ValueError, match=match):
        generate(model, tok, prompt, n)


def test_load_for_sampling_rejects_a_checkpoint_of_another_vocabulary():
    model, tok = _tiny()
    payload = {"kind": "lstm", "config": vars(model.config), "model": model.state_dict(),
               "tokenizer": CharTokenizer.fit("abc").to_dict()}
    with pytest.raises(ValueError, match="another|mismatch"):
        load_for_sampling(payload)
    payload["tokenizer"] = tok.to_dict()
    loaded, tok2 = load_for_sampling(payload)
    assert generate(loaded, tok2, "h", 8, seed=1) == generate(model, tok, "h", 8, seed=1)


@pytest.mark.parametrize("n, lines", [(5, 4), (7, 8)])
def test_poem_mode_writes_regular_lines_even_untrained(n, lines):
    model, tok = _tiny(poems_text(BUILTIN_POEMS))
    poem = generate_poem(model, tok, chars_per_line=n, n_lines=lines, seed=0)
    couplets = poem.split("\n")
    assert len(couplets) == lines // 2
    assert all(re.fullmatch(rf"[^\W\d_]{{{n}}}，[^\W\d_]{{{n}}}。", c) for c in couplets), poem
    acrostic = generate_poem(model, tok, 5, 4, heads="春江明月", seed=1)
    assert [line[0] for line in re.split("[，。\n]+", acrostic) if line] == list("春江明月")


def test_poem_mode_bad_input():
    model, tok = _tiny(poems_text(BUILTIN_POEMS))
    with pytest.raises(ValueError, match="5 or 7"):
        poem_positions(6, 4)
    with pytest.raises(ValueError, match="cannot write"):
        generate_poem(model, tok, prompt="x")
    english, etok = _tiny()
    with pytest.raises(ValueError, match="vocabulary has no"):
        generate_poem(english, etok)


def test_regular_poem_filter():
    assert all(is_regular(p) for p in BUILTIN_POEMS)
    assert not is_regular(["床前明月光，疑是地上霜。"])             # one couplet = two lines only
    assert not is_regular(["床前明月光，疑是地上霜", "舉頭望明月，低頭思故鄉。"])
    mixed = [{"paragraphs": BUILTIN_POEMS[0]}, {"paragraphs": ["短句，長句子。", "x，y。"]}]
    assert regular_poems(mixed) == [BUILTIN_POEMS[0]]
    assert regular_poems(BUILTIN_POEMS, chars_per_line=(7,)) == BUILTIN_POEMS[10:]
