"""A Tang poem's season, taken from its title; a model reads the body, every cue character removed.

    texts, labels, names = season_dataset(per_season=300)   # 春 夏 秋 冬, 300 poems each, cues removed
    strip_cues("春眠不覺曉，處處聞啼鳥。")                     # "眠不覺曉，處處聞啼鳥。"

Why this task: the label comes from the title (《春曉》 is a spring poem), and the body names
its season far less often than its imagery does (杏花, 鶯; 蟬, 荷; 菊, 雁; 雪, 爐). With the
season words and a few direct giveaways removed from the body, a classifier must know that 鶯
goes with spring and 砧 with autumn. A bag of characters learns that from the labels alone, so
with *few* labels it has seen few of these images; a model pre-trained on the whole collection has
read them beside each other thousands of times. Where pre-training on unlabelled poems teaches
something a labelled task can use, this is where it should show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

SEASONS = ("春", "夏", "秋", "冬")  # the same characters in both scripts
# Removed from the body: the season names, and words that name a season's time or weather outright:
# 暑 (summer heat), 臘 (the twelfth month), 凍 (frozen). Imagery (花, 蟬, 菊, 雪) stays: it is what a model
# has to learn.
CUES = {"traditional": "春夏秋冬暑臘凍", "simplified": "春夏秋冬暑腊冻"}


def season_of(title: str) -> int | None:
    """The index in ``SEASONS`` of the one season character in ``title``; None for none or several."""
    found = {k for k, s in enumerate(SEASONS) if s in title}
    return found.pop() if len(found) == 1 else None


def strip_cues(text: str, script: str = "traditional") -> str:
    """``text`` without any character of ``CUES[script]``."""
    if script not in CUES:
        raise ValueError(f"unknown script {script!r}; use 'traditional' or 'simplified'")
    return text.translate({ord(c): None for c in CUES[script]})


def season_examples(poems: Iterable[dict[str, Any]], script: str = "traditional", *,
                    per_season: int | None = None, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """(bodies with cues removed, season ids) of the poems whose title names exactly one season.

    ``per_season``: at most that many of each season, drawn at random (equal counts: chance is 1/4).
    A body left empty once its cues are gone is dropped."""
    by_season: list[list[str]] = [[] for _ in SEASONS]
    for p in poems:
        k = season_of(p.get("title", ""))
        body = strip_cues("\n".join(p.get("paragraphs", [])), script).strip()
        if k is not None and body:
            by_season[k].append(body)
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels: list[int] = []
    for k, own in enumerate(by_season):
        if per_season is not None and len(own) > per_season:
            own = [own[i] for i in sorted(rng.choice(len(own), per_season, replace=False))]
        texts += own
        labels += [k] * len(own)
    if len(set(labels)) < 2:
        raise ValueError("fewer than two seasons have a poem; the collection has no titled seasons here")
    return texts, np.asarray(labels, dtype=np.int64)


def majority_share(labels: Sequence[int]) -> float:
    """The accuracy of always answering the commonest label: the floor every classifier must clear."""
    counts = Counter(int(y) for y in labels)
    return max(counts.values()) / sum(counts.values())


def season_dataset(*, per_season: int | None = 300, script: str | None = None, seed: int = 0,
                   fallback: bool = False) -> tuple[list[str], np.ndarray, list[str]]:
    """(poem bodies with cues removed, season ids, season names) from the Tang poems in ``script`` (default:
    the edition's, :func:`lmlab.data.edition_script`). ``fallback=True``: without the corpus, the 18
    built-in poems (titles by their first line: few carry a season, the scores mean nothing)."""
    from lmlab.data.corpora import edition_script, load_tang_poems, to_simplified

    script = edition_script(script)
    try:
        poems = load_tang_poems(script)
    except FileNotFoundError as err:
        if not fallback:
            raise
        from lmlab.models.bert.poems import FALLBACK_POEMS
        from lmlab.say import say

        say("note: the Tang poems are not available here ({err}); using a handful of built-in lines "
            "instead: the scores below will mean little. Set LMLAB_DATA_DIR to a mirror for the real run.",
            err=err)
        # the built-in poems have no titles: their lines that hold a season word stand in for titled poems,
        # each repeated 80 times so that every split and label count of the lesson (30, 100) has examples
        lines = [s for ps in FALLBACK_POEMS.values() for p in ps for s in p.split("\n")]
        if script == "simplified":
            lines = to_simplified(lines)
        poems = [{"title": s, "paragraphs": [s]} for s in lines] * 80
    texts, labels = season_examples(poems, script, per_season=per_season, seed=seed)
    return texts, labels, list(SEASONS)
