"""The season task (lmlab.data.seasons): labels from titles, cue characters gone from the bodies."""

import numpy as np
import pytest

from lmlab.data.seasons import (
    CUES,
    SEASONS,
    majority_share,
    season_dataset,
    season_examples,
    season_of,
    strip_cues,
)

POEMS = [
    {"title": "春曉", "paragraphs": ["春眠不覺曉，處處聞啼鳥。", "夜來風雨聲，花落知多少。"]},
    {"title": "夏日山中", "paragraphs": ["懶搖白羽扇，裸袒青林中。"]},
    {"title": "秋夕", "paragraphs": ["銀燭秋光冷畫屏，輕羅小扇撲流螢。"]},
    {"title": "冬夜讀書", "paragraphs": ["臘月凍雪深，擁爐讀書。"]},
    {"title": "春夜喜雨", "paragraphs": ["好雨知時節，當春乃發生。"]},
    {"title": "春秋", "paragraphs": ["兩季在題，不算。"]},  # two seasons: ambiguous, left out
    {"title": "靜夜思", "paragraphs": ["床前明月光。"]},  # no season: left out
    {"title": "冬", "paragraphs": ["冬"]},  # nothing left once the cue is gone: dropped
]


def test_season_of_needs_exactly_one_season_in_the_title():
    titles = ("春曉", "夏日", "秋夕", "冬夜", "春秋", "靜夜思")
    assert [season_of(t) for t in titles] == [0, 1, 2, 3, None, None]


def test_strip_cues_removes_every_cue_and_keeps_the_imagery():
    assert strip_cues("臘月凍雪深，擁爐讀書。") == "月雪深，擁爐讀書。"
    assert strip_cues("腊月冻雪", "simplified") == "月雪"
    # the other script's forms are other characters
    assert strip_cues("腊月冻雪", "traditional") == "腊月冻雪"
    with pytest.raises(ValueError, match="unknown script 'latin'"):
        strip_cues("x", "latin")


def test_season_examples_label_by_title_and_hide_every_cue():
    texts, labels = season_examples(POEMS)
    assert labels.tolist() == [0, 0, 1, 2, 3]  # grouped by season, the ambiguous and the empty gone
    assert texts[0] == "眠不覺曉，處處聞啼鳥。\n夜來風雨聲，花落知多少。"
    assert not any(c in t for t in texts for c in CUES["traditional"] + "".join(SEASONS))


def test_per_season_caps_each_class_at_random():
    texts, labels = season_examples(POEMS, per_season=1, seed=3)
    assert np.bincount(labels).tolist() == [1, 1, 1, 1]
    again, _ = season_examples(POEMS, per_season=1, seed=3)
    assert texts == again


def test_majority_share_is_the_commonest_labels_share():
    assert majority_share([0, 0, 1, 2]) == 0.5
    assert majority_share(np.array([3, 3, 3])) == 1.0


def test_one_season_only_is_refused():
    with pytest.raises(ValueError, match="fewer than two seasons"):
        season_examples(POEMS[:1])


def test_season_dataset_reads_the_edition_script(monkeypatch):
    import lmlab.data.corpora as corpora

    seen = []

    def fake(script=None):
        seen.append(script)
        return [{**p, "paragraphs": [s.replace("臘", "腊").replace("凍", "冻") for s in p["paragraphs"]]}
                for p in POEMS] if script == "simplified" else POEMS

    monkeypatch.setattr(corpora, "load_tang_poems", fake)
    monkeypatch.setenv("LMLAB_LANG", "zh")
    texts, labels, names = season_dataset(per_season=None)
    assert seen == ["simplified"] and names == list(SEASONS)
    assert not any(c in t for t in texts for c in CUES["simplified"])


def test_fallback_without_the_corpus_still_gives_two_seasons(monkeypatch, capsys):
    import lmlab.data.corpora as corpora

    def missing(script=None):
        raise FileNotFoundError("tang_poems is not cached")

    monkeypatch.setattr(corpora, "load_tang_poems", missing)
    with pytest.raises(FileNotFoundError):
        season_dataset()
    texts, labels, _ = season_dataset(fallback=True, script="traditional")
    assert len(set(labels.tolist())) >= 2 and len(texts) == len(labels)
    assert "not available here" in capsys.readouterr().out
