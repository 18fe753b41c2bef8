"""Word-vector evaluation: analogies (3CosAdd, 3CosMul), similarity correlations, coverage, neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from lmlab.eval.word_vectors import (
    analogy,
    evaluate_all,
    evaluate_analogies,
    evaluate_similarity,
    nearest_neighbors,
    read_analogies,
)
from lmlab.models.word2vec import WordVectors


def royal_vectors() -> WordVectors:
    """Axes: royalty, gender, youth, fruit, and a shared component (as real vectors have); every row has
    length √7, and king − man + woman = queen exactly."""
    words = ["king", "queen", "man", "woman", "prince", "princess", "apple"]
    rows = np.array([[1, 1, -1, 0, 2], [1, -1, -1, 0, 2], [-1, 1, -1, 0, 2], [-1, -1, -1, 0, 2],
                     [1, 1, 1, 0, 2], [1, -1, 1, 0, 2], [0, 0, 0, 3 ** 0.5, 2]], dtype=np.float32)
    return WordVectors(words, rows)


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogy_finds_queen(method):
    assert analogy(royal_vectors(), "man", "king", "woman", method=method)[0][0] == "queen"


def test_analogy_unknown_word_is_named():
    with pytest.raises(KeyError, match="'kingdom' is not in the vocabulary"):
        analogy(royal_vectors(), "man", "kingdom", "woman")


def test_evaluate_analogies_counts_coverage(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text(": royal\nman king woman queen\nman prince woman princess\n"
                    ": fruit\napple pear man woman\n", encoding="utf-8")
    for method in ("3cosadd", "3cosmul"):
        r = evaluate_analogies(royal_vectors(), path, method=method)
        assert (r.total, r.covered, r.correct) == (3, 2, 2)
        assert r.accuracy == 1.0 and r.coverage == pytest.approx(2 / 3)
        assert r.sections == {"royal": 1.0}


def test_bundled_sets_are_read():
    rows = read_analogies()
    assert len(rows) > 19_000 and rows[0][1] == ("athens", "greece", "baghdad", "iraq")


def test_similarity_spearman_and_coverage(tmp_path):
    path = tmp_path / "sim.tsv"
    path.write_text("# word1 word2 score\nking queen 9\nman woman 8\nking apple 1\nqueen unknownword 5\n",
                    encoding="utf-8")
    wv = royal_vectors()
    r = evaluate_similarity(wv, str(path))
    assert (r.covered, r.total) == (3, 4)
    ours = [wv.similarity("king", "queen"), wv.similarity("man", "woman"), wv.similarity("king", "apple")]
    from scipy.stats import spearmanr

    assert r.spearman == pytest.approx(spearmanr(ours, [9, 8, 1]).statistic)


def test_similarity_missing_file_is_named():
    with pytest.raises(FileNotFoundError, match="nothere.tsv"):
        evaluate_similarity(royal_vectors(), "nothere.tsv")


def test_nearest_neighbors_excludes_the_word():
    wv = royal_vectors()
    near = nearest_neighbors(wv, "king", topn=6)
    assert all(w != "king" for w, _ in near) and near[3][0] == "apple"
    assert [s for _, s in near] == pytest.approx([5 / 7, 5 / 7, 5 / 7, 4 / 7, 3 / 7, 3 / 7], abs=1e-6)
    with pytest.raises(KeyError, match="'kin' is not in the vocabulary"):
        nearest_neighbors(royal_vectors(), "kin")


def test_evaluate_all_reports_every_score_with_coverage():
    scores = evaluate_all(royal_vectors())
    assert {"wordsim353_spearman", "wordsim353_coverage", "simlex999_spearman", "simlex999_coverage",
            "analogy_3cosadd_accuracy", "analogy_3cosmul_accuracy", "analogy_coverage"} <= set(scores)
    assert 0 < scores["analogy_coverage"] < 0.01  # a 7-word vocabulary covers a handful of questions
