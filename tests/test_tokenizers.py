"""Tokenizers: Unicode-correct characters, regex words, jieba words, JSON vocabularies."""

from __future__ import annotations

import json
import unicodedata

import pytest

from lmlab.tokenizers import (
    CharTokenizer,
    JiebaTokenizer,
    Tokenizer,
    WordTokenizer,
    load_tokenizer,
    save_tokenizer,
    split_characters,
    tokenizer_from_dict,
)

DECOMPOSED_E = "e\u0301"  # e + combining acute accent: looks like é
FAMILY = "👨\u200d👩\u200d👧"  # three emoji joined by zero-width joiners
FLAG = "🇫🇷"  # two regional-indicator symbols
MIXED = f"Café caf{DECOMPOSED_E} 床前明月光，疑是地上霜。 {FAMILY} {FLAG} 👍🏽\n"


# ---- characters -----------------------------------------------------------------------------------------

def test_codepoint_is_pythons_character():
    assert split_characters(DECOMPOSED_E) == ["e", "\u0301"]
    assert len(split_characters(FAMILY)) == 5 and len(split_characters(FLAG)) == 2
    assert split_characters("中文") == ["中", "文"]


def test_grapheme_is_what_a_reader_sees():
    assert split_characters(DECOMPOSED_E, "grapheme") == [DECOMPOSED_E]
    assert split_characters(FAMILY, "grapheme") == [FAMILY]
    assert split_characters(FLAG + "👍🏽", "grapheme") == [FLAG, "👍🏽"]
    assert split_characters("中文", "grapheme") == ["中", "文"]


@pytest.mark.parametrize("unit", ["codepoint", "grapheme"])
def test_char_round_trip_is_exact(unit):
    tok = CharTokenizer.fit(MIXED, unit=unit)
    ids = tok.encode(MIXED)
    assert tok.decode(ids) == MIXED
    assert len(ids) == len(split_characters(MIXED, unit))
    assert isinstance(tok, Tokenizer)


def test_no_normalisation_precomposed_and_decomposed_stay_distinct():
    tok = CharTokenizer.fit("é" + DECOMPOSED_E)
    assert unicodedata.normalize("NFC", DECOMPOSED_E) == "é"
    assert tok.encode("é") != tok.encode(DECOMPOSED_E)
    assert tok.decode(tok.encode(DECOMPOSED_E)) == DECOMPOSED_E


def test_grapheme_vocab_counts_a_family_once():
    assert CharTokenizer.fit(FAMILY * 3, unit="grapheme").vocab_size == 1
    assert CharTokenizer.fit(FAMILY * 3).vocab_size == 4  # man, woman, girl, joiner


def test_char_unknown_characters_are_named():
    tok = CharTokenizer.fit("abc")
    with pytest.raises(ValueError, match=r"1 character\(s\) not in the vocabulary: 'z'"):
        tok.encode("abz")


@pytest.mark.parametrize("call, match", [
    (lambda: CharTokenizer.fit(""), "empty text"),
    (lambda: CharTokenizer(["a", "a"]), "duplicates"),
    (lambda: CharTokenizer(["ab"]), "single code points"),
    (lambda: CharTokenizer.fit("abc", unit="byte"), "unknown character unit 'byte'"),
    (lambda: CharTokenizer.fit("abc").decode([0, 7]), r"token id\(s\) \[7\] out of range"),
])
def test_char_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_char_show_names_each_piece():
    rows = CharTokenizer.fit(DECOMPOSED_E, unit="grapheme").show(DECOMPOSED_E)
    assert rows == [(DECOMPOSED_E, 0, "LATIN SMALL LETTER E + COMBINING ACUTE ACCENT")]


# ---- words ----------------------------------------------------------------------------------------------

TEXT = "The king met the queen. The queen didn't smile; the well-known king did!"


def test_word_split_and_lowercase():
    tok = WordTokenizer.fit(TEXT)
    assert tok.split("Didn't the well-known King?") == ["didn't", "the", "well-known", "king", "?"]
    cased = WordTokenizer.fit(TEXT, lowercase=False)
    assert "The" in cased.stoi and "the" in cased.stoi
    assert "The" not in tok.stoi


def test_word_vocab_order_min_count_and_unk():
    tok = WordTokenizer.fit(TEXT, min_count=2)
    assert tok.itos == ["<unk>", "the", "king", "queen"]  # by count, ties alphabetical
    assert tok.counts[1:] == [4, 2, 2]
    assert tok.counts[0] == len(tok.split(TEXT)) - 8  # everything else is <unk>
    assert tok.encode("the dragon") == [1, 0]
    assert tok.decode(tok.encode("The king smiled, the queen")) == "the king <unk> <unk> the queen"


def test_word_max_size():
    tok = WordTokenizer.fit(TEXT, max_size=3)
    assert tok.itos == ["<unk>", "the", "king"]


def test_word_decode_glues_punctuation():
    tok = WordTokenizer.fit(TEXT)
    assert tok.decode(tok.encode("the king, the queen!")) == "the king <unk> the queen!"
    assert tok.decode(tok.encode("the queen.")) == "the queen."


def test_word_handles_unicode_words():
    tok = WordTokenizer.fit("Café naïve Ελληνικά café")
    assert tok.split("CAFÉ") == ["café"] and tok.stoi["café"] == 1


@pytest.mark.parametrize("call, match", [
    (lambda: WordTokenizer.fit(TEXT, min_count=0), "min_count must be >= 1"),
    (lambda: WordTokenizer.fit(TEXT, min_count=99), "no word occurs at least min_count=99"),
    (lambda: WordTokenizer.fit(TEXT, max_size=1), "max_size must be >= 2"),
    (lambda: WordTokenizer.fit("   "), "no words"),
    (lambda: WordTokenizer.fit(TEXT, pattern="("), "invalid word pattern"),
    (lambda: WordTokenizer(["the", "<unk>"]), "must start with the unknown-word token"),
    (lambda: WordTokenizer(["<unk>", "a", "a"]), "duplicates, e.g. 'a'"),
])
def test_word_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- jieba ----------------------------------------------------------------------------------------------

POEM = "床前明月光，疑是地上霜。\n舉頭望明月，低頭思故鄉。\n"


def test_jieba_segments_words_and_round_trips():
    tok = JiebaTokenizer.fit(POEM)
    pieces = tok.split(POEM)
    assert "".join(pieces) == POEM  # jieba drops nothing
    assert any(len(p) > 1 for p in pieces)  # real words, not characters
    assert tok.decode(tok.encode(POEM)) == POEM
    assert len(tok.encode(POEM)) < len(POEM)


def test_jieba_unknown_and_min_count():
    tok = JiebaTokenizer.fit(POEM + POEM + "白日依山盡", min_count=2)
    assert tok.encode("白日")[0] == tok.unk_id
    assert "白日" not in tok.decode(tok.encode("白日依山盡"))


# ---- JSON round trip ------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: CharTokenizer.fit(MIXED),
    lambda: CharTokenizer.fit(MIXED, unit="grapheme"),
    lambda: WordTokenizer.fit(TEXT, min_count=2, lowercase=False),
    lambda: JiebaTokenizer.fit(POEM, hmm=False),
])
def test_vocab_saved_and_loaded_as_json(tmp_path, make):
    tok = make()
    path = tmp_path / "vocab.json"
    save_tokenizer(tok, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["kind"] == tok.kind
    assert "床" in path.read_text(encoding="utf-8") or tok.kind == "word"  # readable, not \u-escaped
    back = load_tokenizer(path)
    assert type(back) is type(tok) and back.to_dict() == tok.to_dict()
    sample = POEM if tok.kind == "jieba" else (TEXT if tok.kind == "word" else MIXED)
    assert back.encode(sample) == tok.encode(sample)


@pytest.mark.parametrize("data, match", [
    ({"kind": "morse"}, "unknown tokenizer kind 'morse'"),
    ({"kind": "char"}, "malformed 'char' tokenizer"),
    (["a"], "JSON object"),
])
def test_bad_tokenizer_data(data, match):
    with pytest.raises(ValueError, match=match):
        tokenizer_from_dict(data)


def test_bad_tokenizer_file(tmp_path):
    path = tmp_path / "v.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not a tokenizer JSON file"):
        load_tokenizer(path)


def test_worked_example_runs(capsys):
    from lmlab.tokenizers.__main__ import main

    main()
    out = capsys.readouterr().out
    assert "codepoint: 26 tokens" in out and "grapheme: 20 tokens" in out
    assert "jieba words: 床前 / 明月光" in out


# ---- counting unknown characters (the notebook tests' script check) -------------------------------------

def test_unknown_characters_are_counted_per_vocabulary_and_reader_only_when_asked(tmp_path, monkeypatch):
    from lmlab.models.seq2seq import Seq2SeqVocab
    from lmlab.tokenizers import unknown

    monkeypatch.setattr(unknown, "_totals", {})
    vocab = Seq2SeqVocab.fit(["春眠不覺曉處處聞啼鳥"])
    monkeypatch.delenv(unknown.ENV, raising=False)
    vocab.encode("春眠不觉晓")
    assert not list(tmp_path.iterdir())  # not asked: nothing counted, nothing written
    monkeypatch.setenv(unknown.ENV, str(tmp_path))
    assert vocab.encode("春眠不觉晓")[3] == 3  # 觉 -> <unk>
    vocab.encode("處處聞啼鳥")
    report = unknown.read_log(tmp_path)
    (name, entry), = report.items()
    assert name.startswith("couplet vocabulary of 9 symbols [")
    assert name.endswith(", read by test_tokenizers.test_unknown_characters_are_counted_per_vocabulary_and_"
                         "reader_only_when_asked")
    assert (entry["chars"], entry["unknown"], dict(entry["worst"])) == (10, 2, {"觉": 1, "晓": 1})
    (line,) = unknown.too_many(report, 0.01)
    assert "2 of 10 characters unknown (20.0%)" in line and "'觉'×1" in line
    assert unknown.too_many(report, 0.25) == []
    unknown.count("couplet vocabulary", 1000, [], where="pre-training")  # another reader: counted apart
    assert len(unknown.read_log(tmp_path)) == 2 and len(unknown.too_many(unknown.read_log(tmp_path))) == 1


def test_bert_vocabulary_counts_unknown_characters_but_not_its_specials(tmp_path, monkeypatch):
    from lmlab.models.bert.vocab import BertVocab
    from lmlab.tokenizers import unknown

    monkeypatch.setattr(unknown, "_totals", {})
    monkeypatch.setenv(unknown.ENV, str(tmp_path))
    vocab = BertVocab(CharTokenizer.fit("床前明月光舉頭望"))
    ids = vocab.encode("举頭望明[MASK]")
    assert ids[0] == vocab.unk_id and ids[-1] == vocab.mask_id
    (entry,) = unknown.read_log(tmp_path).values()
    assert (entry["chars"], entry["unknown"], dict(entry["worst"])) == (4, 1, {"举": 1})
