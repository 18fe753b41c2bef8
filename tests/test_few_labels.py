"""Few-label curves: stratified label subsets, t-intervals over repeats, one probe over several features."""

import numpy as np
import pytest
from scipy import sparse

from lmlab.eval.few_labels import (
    few_label_curve,
    format_curve,
    label_subsets,
    mean_interval,
    plot_label_curve,
    tfidf_features,
)


def test_label_subsets_are_stratified_distinct_and_sized():
    y = np.array([0] * 30 + [1] * 10 + [2] * 20)
    subsets = label_subsets(y, 12, n_subsets=5, seed=3)
    assert len(subsets) == 5
    for s in subsets:
        assert len(s) == 12 and len(set(s)) == 12
        assert np.bincount(y[s], minlength=3).tolist() == [4, 4, 4]
    assert len({tuple(s) for s in subsets}) > 1  # different draws, not one subset five times
    assert [s.tolist() for s in label_subsets(y, 12, 5, seed=3)] == [s.tolist() for s in subsets]


def test_label_subsets_fill_from_the_larger_class_and_all_is_one_subset():
    y = np.array([0] * 30 + [1] * 3)
    (s,) = label_subsets(y, 10, n_subsets=1)
    assert np.bincount(y[s]).tolist() == [7, 3]
    assert [a.tolist() for a in label_subsets(y, None, 5)] == [list(range(33))]
    with pytest.raises(ValueError, match="cannot cover 2 classes"):
        label_subsets(y, 1)


def test_mean_interval_matches_the_t_formula():
    m, lo, hi = mean_interval([0.5, 0.6, 0.7])
    assert m == pytest.approx(0.6)
    assert hi - m == pytest.approx(4.302653 * 0.1 / np.sqrt(3), rel=1e-5)  # t(0.975, 2) * sd / sqrt(n)
    assert mean_interval([0.4]) == (0.4, 0.4, 0.4)


def test_few_label_curve_separates_informative_from_noise_features():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 60)
    good = y[:, None] * 2.0 + rng.normal(size=(120, 4))
    noise = rng.normal(size=(120, 4))
    train, test = np.arange(0, 120, 2), np.arange(1, 120, 2)
    rows = few_label_curve({"good": good, "noise": noise}, y, train, test, (8, None), n_subsets=4)
    by = {(r["method"], r["n_labels"]): r for r in rows}
    assert set(by) == {("good", 8), ("noise", 8), ("good", 60), ("noise", 60)}
    assert by["good", 8]["interval"] == "label subsets" and len(by["good", 8]["accuracy_scores"]) == 4
    assert by["good", 60]["interval"] == "test bootstrap"
    assert by["good", 60]["accuracy"] > 0.9 and by["noise", 60]["accuracy"] < 0.75
    assert by["good", 8]["accuracy_lo"] <= by["good", 8]["accuracy"] <= by["good", 8]["accuracy_hi"]
    text = format_curve(rows)
    assert "8 labels" in text and "60 labels" in text and "good" in text
    assert plot_label_curve(rows, chance=0.5).axes[0].get_xscale() == "log"


def test_tfidf_features_learn_the_vocabulary_from_the_given_texts_only():
    texts = ["good film", "bad film", "unseen words here"]
    X = tfidf_features(texts, fit_on=[0, 1])
    assert sparse.issparse(X) and X.shape[0] == 3
    assert X[2].nnz == 0  # words never seen when fitting have no column
    rows = few_label_curve({"tfidf": tfidf_features(texts * 4, range(12))}, [1, 0, 1] * 4,
                           range(8), range(8, 12), (None,))
    assert rows[0]["n_labels"] == 8


def test_minilm_sentence_vectors_ignore_padding_and_random_twin_differs():
    from lmlab.models.pretrained import load_minilm, sentence_vectors, untrained_like

    enc = load_minilm()
    texts = ["a fine film", "a long and rather tedious film about nothing much at all"]
    both = sentence_vectors(enc, texts, batch_size=2)
    alone = sentence_vectors(enc, texts[:1], batch_size=1)
    assert both.shape == (2, enc.config.hidden_size)
    np.testing.assert_allclose(both[0], alone[0], atol=1e-4)  # the short one was padded in the batch
    twin = sentence_vectors(untrained_like(enc, seed=0), texts)
    assert twin.shape == both.shape and not np.allclose(twin, both, atol=1e-2)
    assert enc.model.training is False
