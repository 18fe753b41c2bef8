"""Generation settings, checked the same way for every generating model (GPT, LSTM; lmlab.models.sampling).

temperature >= 0 (0 is greedy), 1 <= top_k <= vocabulary, 0 < top_p <= 1, max_new_tokens >= 1; a GPT
prompt longer than the context keeps its last block_size tokens with a note; unseen characters are an
error naming them; unseen words (word tokenizers) become <unk> with a note naming them.
"""

from __future__ import annotations

import math
import re
import warnings

import pytest
import torch

from lmlab.errors import UsageError
from lmlab.models.lstm import LSTMConfig, LSTMLanguageModel
from lmlab.models.lstm import generate as lstm_generate
from lmlab.models.sampling import GenerationNote, filter_logits, sample_next
from lmlab.models.transformer import GPT, GPTConfig, generate, sample_text
from lmlab.tokenizers import CharTokenizer, WordTokenizer

TEXT = "to be or not to be, that is the question.\n"


@pytest.fixture(scope="module")
def gpt():
    tok = CharTokenizer.fit(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    return model.eval(), tok


@pytest.fixture(scope="module")
def lstm():
    tok = CharTokenizer.fit(TEXT)
    torch.manual_seed(0)
    model = LSTMLanguageModel(LSTMConfig(vocab_size=tok.vocab_size, n_embd=16, hidden=16, n_layer=1))
    return model.eval(), tok


def generators(gpt, lstm):
    """(name, text generator) with one signature: (prompt, n, **settings) -> text."""
    return [("gpt", lambda p, n, **kw: sample_text(*gpt, p, n, **kw)),
            ("lstm", lambda p, n, **kw: lstm_generate(*lstm, p, n, **kw))]


BAD = [
    (dict(temperature=-0.5), "temperature must be a number >= 0, got -0.5"),
    (dict(temperature=math.nan), "temperature must be a number >= 0, got nan"),
    (dict(temperature=math.inf), "temperature"),
    (dict(top_k=0), "top_k must be a whole number >= 1, got 0"),
    (dict(top_k=-3), "got -3"),
    (dict(top_k=1000), "top_k=1000 is more than the vocabulary (16 tokens)"),
    (dict(top_p=0.0), "top_p must be in (0, 1], got 0.0"),
    (dict(top_p=1.01), "got 1.01"),
    (dict(top_p=-0.2), "got -0.2"),
]


@pytest.mark.parametrize("settings, message", BAD, ids=[str(s) for s, _ in BAD])
def test_bad_settings_are_one_clear_error_for_every_model(gpt, lstm, settings, message):
    assert gpt[1].vocab_size == 16
    for _name, gen in generators(gpt, lstm):
        with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
            gen("to be", 5, **settings)
    with pytest.raises(UsageError):  # the tensor-level GPT generate checks the same
        generate(gpt[0], torch.tensor([[1, 2]]), 3, **settings)


@pytest.mark.parametrize("n", [0, -1])
def test_max_new_tokens_must_be_at_least_one(gpt, lstm, n):
    for _name, gen in generators(gpt, lstm):
        with pytest.raises(UsageError, match=f"max_new_tokens must be a whole number >= 1, got {n}"):
            gen("to be", n)
    with pytest.raises(UsageError, match="max_new_tokens"):
        generate(gpt[0], torch.tensor([[1, 2]]), n)


def test_temperature_zero_is_greedy_for_every_model(gpt, lstm):
    for name, gen in generators(gpt, lstm):
        greedy = gen("to be", 12, temperature=0.0, seed=1)
        assert greedy == gen("to be", 12, temperature=0.0, seed=99)  # no draw: the seed does not matter
        assert greedy == gen("to be", 12, top_k=1, seed=5), name  # the same as top-k 1
    logits = torch.tensor([[0.1, 3.0, -1.0, 3.0]])
    assert sample_next(logits, temperature=0).item() == 1  # a tie goes to the first maximum
    probs = torch.softmax(filter_logits(logits, temperature=0), -1)
    assert probs.tolist() == [[0.0, 1.0, 0.0, 0.0]]


def test_top_k_equal_to_the_vocabulary_and_top_p_one_are_accepted(gpt, lstm):
    for _name, gen in generators(gpt, lstm):
        assert gen("to be", 4, top_k=16, top_p=1.0, seed=0).startswith("to be")


def test_unseen_characters_are_an_error_naming_them(gpt, lstm):
    for _name, gen in generators(gpt, lstm):
        with pytest.raises(UsageError, match=r"'Z', '€'.*characters from the training corpus"):
            gen("Zebra€ to be", 3)
        with pytest.raises(UsageError, match="empty"):
            gen("", 3)


def test_a_gpt_prompt_longer_than_the_context_keeps_its_end_with_a_note(gpt):
    model, tok = gpt
    prompt = TEXT * 2  # 86 characters, block_size 16
    with pytest.warns(GenerationNote, match="using its last 16 tokens"):
        out = sample_text(model, tok, prompt, 3, temperature=0)
    assert out.startswith(prompt) and len(out) == len(prompt) + 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the greedy continuation of the cropped prompt is the same
        assert sample_text(model, tok, prompt[-16:], 3, temperature=0)[16:] == out[len(prompt):]


def test_an_lstm_reads_a_prompt_of_any_length_without_a_note(lstm):
    with warnings.catch_warnings():
        warnings.simplefilter("error", GenerationNote)
        out = lstm_generate(*lstm, TEXT * 5, 3, seed=0)
    assert out.startswith(TEXT * 5) and len(out) == len(TEXT) * 5 + 3


def test_unseen_words_become_unk_with_a_note_naming_them():
    tok = WordTokenizer.fit(TEXT * 3)
    torch.manual_seed(0)
    model = LSTMLanguageModel(LSTMConfig(vocab_size=tok.vocab_size, n_embd=8, hidden=8, n_layer=1)).eval()
    with pytest.warns(GenerationNote, match=r"never saw are read as <unk>: 'hamlet', 'prince'"):
        lstm_generate(model, tok, "to be hamlet prince", 3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GenerationNote)
        lstm_generate(model, tok, "to be or not", 3, seed=0)  # every word known: no note


@pytest.mark.parametrize("settings, message", BAD[:8], ids=[str(s) for s, _ in BAD[:8]])
def test_poem_mode_checks_the_same_settings(settings, message):
    from lmlab.models.lstm import generate_poem
    from lmlab.models.lstm.poems import BUILTIN_POEMS, poems_text

    text = poems_text(BUILTIN_POEMS)
    tok = CharTokenizer.fit(text)
    torch.manual_seed(0)
    model = LSTMLanguageModel(LSTMConfig(vocab_size=tok.vocab_size, n_embd=16, hidden=16, n_layer=1)).eval()
    expected = message.replace("16 tokens", f"{tok.vocab_size} tokens")
    with pytest.raises(UsageError, match=re.escape(expected)):
        generate_poem(model, tok, **settings, seed=0)
