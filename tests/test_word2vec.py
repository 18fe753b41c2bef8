"""word2vec: vocabulary, sub-sampling, negative sampling, both backends learn structure, CLI, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lmlab.models.word2vec import Vocab, Word2VecConfig, Word2VecRecipe, WordVectors, tokenize
from lmlab.models.word2vec.trainer import plan_jobs
from lmlab.train.engine import train

ANIMALS = ["cat", "dog", "horse", "cow", "sheep", "goat", "duck", "mouse"]
COLOURS = ["red", "blue", "green", "yellow", "black", "white", "pink", "brown"]


def topic_corpus(n_sentences: int = 1500, seed: int = 0) -> list[list[str]]:
    """Two topics that never share a sentence: animals and colours, plus shared function words."""
    rng = np.random.default_rng(seed)
    topics = [ANIMALS, COLOURS]
    sentences = []
    for _ in range(n_sentences):
        topic = topics[rng.integers(2)]
        sentences.append([str(w) if rng.random() < 0.7 else "the" for w in rng.choice(topic, 12)])
    return sentences


def cluster_gap(wv: WordVectors) -> float:
    """Mean cosine within topics minus mean cosine across topics."""
    a = [w for w in wv.words if w in ANIMALS]
    c = [w for w in wv.words if w in COLOURS]
    within = np.mean([wv.similarity(x, y) for g in (a, c) for x in g for y in g if x != y])
    across = np.mean([wv.similarity(x, y) for x in a for y in c])
    return float(within - across)


def test_tokenize_lowercases_and_splits_lines():
    assert tokenize("The cat's hat.\n\nA dog, 42 times!") == [["the", "cat's", "hat"],
                                                             ["a", "dog", "42", "times"]]


def test_vocab_counts_sorted_and_min_count():
    vocab = Vocab.build([["a", "b", "a", "c", "a", "b"]], min_count=2)
    assert vocab.words == ["a", "b"]
    assert vocab.counts.tolist() == [3, 2]
    assert vocab.raw_words == 6
    ids, bounds = vocab.encode([["a", "c", "b"], ["c"]])
    assert ids.tolist() == [0, 1] and bounds.tolist() == [0, 2]


def test_keep_probability_is_mikolovs_formula():
    vocab = Vocab(words=["the", "rare"], counts=np.array([10, 990]), raw_words=1000)
    keep = vocab.keep_probability(sample=1e-3)
    f = 10 / 1000
    assert keep[0] == pytest.approx((math.sqrt(f / 1e-3) + 1) * 1e-3 / f, rel=1e-5)
    assert keep[1] == pytest.approx((math.sqrt(0.99 / 1e-3) + 1) * 1e-3 / 0.99, rel=1e-5)
    assert (vocab.keep_probability(0) == 1).all()


def test_noise_distribution_is_unigram_to_the_three_quarters():
    vocab = Vocab(words=["a", "b"], counts=np.array([16, 1]), raw_words=17)
    p = vocab.noise_distribution()
    assert p.sum() == pytest.approx(1.0)
    assert p[0] / p[1] == pytest.approx(16 ** 0.75)
    cum = vocab.noise_cumulative()
    assert cum[-1] == 2**31 - 1 and cum[0] == pytest.approx((2**31 - 1) * p[0], rel=1e-6)
    table = vocab.noise_table(size=10_000)  # the C tool's table: word w fills a share P_n(w) of the slots
    assert table.dtype == np.int32 and np.bincount(table, minlength=2) / 10_000 == pytest.approx(p, abs=1e-4)


def test_plan_jobs_covers_every_sentence_once():
    bounds = np.array([0, 5, 30, 31, 60, 100])
    jobs = plan_jobs(bounds, job_words=20)
    assert jobs[0][0] == 0 and jobs[-1][1] == 5
    assert all(a[1] == b[0] for a, b in zip(jobs, jobs[1:], strict=False))


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_numba_training_separates_topics_and_lowers_loss(model):
    run = train(Word2VecRecipe(Word2VecConfig(model=model, dim=16, epochs=3, min_count=1, sample=0, threads=2,
                                              job_words=2000), topic_corpus()), progress=False)
    assert cluster_gap(run.recipe.vectors) > 0.3
    losses = run.history.series("train_loss")[1]
    assert losses[-1] < losses[0]
    assert run.metrics["words_per_sec"] > 0
    assert run.recipe.vocab.raw_words == 1500 * 12 == run.metrics["raw_words"]


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_torch_backend_separates_topics(model):
    run = train(Word2VecRecipe(Word2VecConfig(model=model, dim=16, epochs=4, min_count=1, sample=0,
                                              backend="torch", batch_words=512), topic_corpus(600)),
                progress=False)
    assert cluster_gap(run.recipe.vectors) > 0.3


def test_single_thread_run_repeats_exactly():
    cfg = Word2VecConfig(dim=8, epochs=1, min_count=1, threads=1, seed=3)
    a = train(Word2VecRecipe(cfg, topic_corpus(200)), progress=False).recipe.vectors.vectors
    b = train(Word2VecRecipe(cfg, topic_corpus(200)), progress=False).recipe.vectors.vectors
    np.testing.assert_array_equal(a, b)


def test_snapshots_record_the_chosen_words():
    result = train(Word2VecRecipe(Word2VecConfig(dim=8, epochs=2, min_count=1, threads=1), topic_corpus(300),
                                  snapshot_words=["cat", "red", "nope"], snapshots_per_epoch=2),
                   progress=False).recipe
    assert result.snapshots[0][0] == 0.0 and result.snapshots[-1][0] == pytest.approx(2.0)
    assert result.snapshots[-1][1].shape == (2, 8)
    np.testing.assert_allclose(result.snapshots[-1][1][0], result.vectors["cat"])


def test_word2vec_format_round_trip_and_gensim_reads_it(tmp_path):
    from gensim.models import KeyedVectors

    wv = WordVectors(["king", "queen", "春"], np.arange(12, dtype=np.float32).reshape(3, 4) / 7)
    path = wv.save_word2vec_format(tmp_path / "v.txt")
    back = WordVectors.load_word2vec_format(path)
    assert back.words == wv.words
    np.testing.assert_allclose(back.vectors, wv.vectors, rtol=1e-5)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=False)
    np.testing.assert_allclose(kv["春"], wv["春"], rtol=1e-5)


def test_bad_inputs_name_the_value(tmp_path):
    with pytest.raises(ValueError, match="corpus is empty"):
        train(Word2VecRecipe(Word2VecConfig(), []))
    with pytest.raises(ValueError, match="min_count=50 leaves no vocabulary"):
        train(Word2VecRecipe(Word2VecConfig(min_count=50), [["a", "b", "a"]]))
    with pytest.raises(ValueError, match="window=5"):
        train(Word2VecRecipe(Word2VecConfig(min_count=1, window=5), [["a", "b", "c"]]))
    with pytest.raises(ValueError, match="unknown model 'glove'"):
        Word2VecRecipe(Word2VecConfig(model="glove"), [["a", "b"]])
    bad = tmp_path / "bad.txt"
    bad.write_text("king 0.1 0.2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has header 'king 0.1 0.2'"):
        WordVectors.load_word2vec_format(bad)
    wv = WordVectors(["king", "kings"], np.eye(2, dtype=np.float32))
    with pytest.raises(KeyError, match="'kingg' is not in the vocabulary.*'king'"):
        wv.most_similar("kingg")


def test_glove_counts_and_learns_topics():
    from lmlab.models.word2vec.glove import GloVeConfig, cooccurrence, train_glove

    rows, cols, X = cooccurrence(np.array([0, 1, 2], dtype=np.int32), np.array([0, 3]), 3, window=2)
    table = {(int(r), int(c)): float(x) for r, c, x in zip(rows, cols, X, strict=True)}
    assert table == {(0, 1): 1.0, (1, 0): 1.0, (1, 2): 1.0, (2, 1): 1.0, (0, 2): 0.5, (2, 0): 0.5}
    result = train_glove(topic_corpus(400), GloVeConfig(dim=16, epochs=60, min_count=1, window=5),
                         progress=False)
    assert cluster_gap(result.vectors) > 0.1  # random vectors: about 0 ± 0.05
    losses = result.history.series("train_loss")[1]
    assert losses[-1] < losses[0]


def test_cli_writes_vectors_and_metrics(tmp_path):
    from lmlab.cli import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(s) for s in topic_corpus(300)), encoding="utf-8")
    out = tmp_path / "run"
    code = main(["train", "word2vec", "--corpus", str(corpus), "--model", "cbow", "--dim", "8",
                 "--epochs", "1", "--min-count", "1", "--device", "cpu", "--preset", "class",
                 "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("words_per_sec", "wall_s", "vocab_size", "wordsim353_spearman", "wordsim353_coverage",
                "analogy_3cosadd_accuracy", "simlex999_coverage"):
        assert key in metrics
    assert metrics["vocab_size"] == 17 and metrics["config"]["model"] == "cbow"
    assert len(WordVectors.load_word2vec_format(out / "vectors.txt")) == 17


def test_cli_reports_bad_min_count_in_one_line(tmp_path, capsys):
    from lmlab.cli import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c a\n", encoding="utf-8")
    code = main(["train", "word2vec", "--corpus", str(corpus), "--min-count", "9", "--preset", "class",
                 "--device", "cpu", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "min_count=9 leaves no vocabulary" in capsys.readouterr().err


def test_exercises_give_specific_feedback(capsys):
    from lmlab.exercises import check
    from lmlab.exercises.word2vec import _keep_probability, _sgns_loss, _skipgram_pairs

    assert check("word2vec.keep_probability", _keep_probability, quiet=True)
    assert not check("word2vec.keep_probability", lambda c, t: 1 - _keep_probability(c, t))
    assert "probability of DROPPING" in capsys.readouterr().out
    assert not check("word2vec.skipgram_pairs", lambda s, w: _skipgram_pairs(s, w) + [(s[0], s[0])])
    assert "not its own context" in capsys.readouterr().out
    assert not check("word2vec.sgns_loss", lambda v, u, U: -_sgns_loss(v, u, U))
    assert "sign is flipped" in capsys.readouterr().out
    assert not check("word2vec.sgns_loss", lambda v, u, U: ...)
    assert "still returns `...`" in capsys.readouterr().out


def test_a_prepared_run_loads_as_the_trained_run_reads(tmp_path):
    from lmlab.prepared import PreparedRun, load_word2vec, save_word2vec

    cfg = Word2VecConfig(dim=8, epochs=2, min_count=1, threads=1)
    run = train(Word2VecRecipe(cfg, topic_corpus(300), snapshot_words=["cat"], snapshots_per_epoch=2),
                progress=False)
    metrics = save_word2vec(run, tmp_path)
    assert metrics["words_per_sec"] == run.metrics["words_per_sec"] > 0
    back = load_word2vec(PreparedRun("01_skipgram", tmp_path, {"metrics": metrics}), run.recipe.vocab, cfg)
    assert back.metrics["words_per_sec"] == run.metrics["words_per_sec"]
    assert back.recipe.vectors.words == run.recipe.vectors.words
    np.testing.assert_allclose(back.recipe.vectors["cat"], run.recipe.vectors["cat"], rtol=1e-5)
    assert len(back.recipe.snapshots) == len(run.recipe.snapshots) and back.recipe.tcfg is cfg
