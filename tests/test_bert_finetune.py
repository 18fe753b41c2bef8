"""Fine-tuning helpers, fill-in-the-blank, bootstrap intervals, and their bad-input messages."""

import numpy as np
import pytest
import torch

from lmlab.eval.bootstrap import bootstrap_ci, score
from lmlab.models.bert import BertConfig, BertForMaskedLM
from lmlab.models.bert.fill import fill_mask
from lmlab.models.bert.finetune import (
    EncoderClassifier,
    FineTuneConfig,
    check_labels,
    class_weights,
    encode_batch,
    fine_tune_curve,
    label_subset,
    learning_curve,
    poet_dataset,
    pool,
    train_classifier,
)
from lmlab.models.bert.prenorm import build_encoder
from lmlab.models.bert.vocab import BertVocab
from lmlab.tokenizers import CharTokenizer

VOCAB = BertVocab(CharTokenizer.fit("床前明月光疑是地上霜举头望低思故乡abcdefgh"))


def _model(block_size=16, layout="bert"):
    torch.manual_seed(0)
    return build_encoder(layout, VOCAB.vocab_size, VOCAB.pad_id, block_size=block_size, n_layer=1, n_head=2,
                         n_embd=16).eval()


def test_fill_mask_gives_top_k_per_mask_without_specials():
    out = fill_mask(_model(), VOCAB, "床前[MASK]月[MASK]", k=3)
    assert len(out) == 2 and all(len(guesses) == 3 for guesses in out)
    for guesses in out:
        probs = [p for _, p in guesses]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
        assert not any(t.startswith("[") for t, _ in guesses)


def test_fill_mask_bad_input_one_line_each():
    model = _model(block_size=8)
    with pytest.raises(ValueError, match=r"no \[MASK\] in '床前明月光'"):
        fill_mask(model, VOCAB, "床前明月光")
    with pytest.raises(ValueError, match="7 masks but the model's context holds only 6"):
        fill_mask(model, VOCAB, "[MASK]" * 7)
    with pytest.raises(ValueError, match="shorten it"):
        fill_mask(model, VOCAB, "床前明月光疑[MASK]")


def test_unknown_label_and_one_class():
    from collections import Counter

    known = Counter({"李白": 3, "杜甫": 2})
    with pytest.raises(ValueError, match="unknown label '王小二'.*李白 \\(3\\)"):
        check_labels(["李白", "王小二"], known)
    with pytest.raises(ValueError, match="at least two classes"):
        check_labels(["李白", "李白"], known)
    model = EncoderClassifier(_model(), 2)
    ids, mask = encode_batch(VOCAB, ["床前", "明月"], 16)
    with pytest.raises(ValueError, match="one class only"):
        train_classifier(model, ids, mask, np.array([1, 1]), FineTuneConfig(steps=1))


def test_the_engine_fine_tunes_the_head_and_the_encoder_at_their_own_rates():
    model = EncoderClassifier(_model(), 2)
    ids, mask = encode_batch(VOCAB, ["床前明月光", "低头", "思故乡", "举头望"], 16)
    before = [p.detach().clone() for p in model.encoder.parameters()]
    cfg = FineTuneConfig(steps=3, batch_size=2, encoder_lr=1e-3, head_lr=5e-3)
    run = train_classifier(model, ids, mask, np.array([0, 1, 0, 1]), cfg)
    head = {id(p) for p in model.head.parameters()}
    rates = {id(p): g["lr"] for g in run.optimizer.param_groups for p in g["params"]}
    assert [rates[i] for i in head] == pytest.approx([5e-3] * len(head))
    assert [r for i, r in rates.items() if i not in head] == pytest.approx([1e-3] * (len(rates) - len(head)))
    assert run.next_iter == 3 and np.isfinite(run.metrics["train_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.encoder.parameters(), strict=True))


def test_pooling_and_padding():
    ids, mask = encode_batch(VOCAB, ["床前明月光", "低头"], 16)
    assert ids.shape == (2, 7) and mask.tolist()[1] == [1, 1, 1, 1, 0, 0, 0]
    assert ids[1, 4] == VOCAB.pad_id and ids[0, 0] == VOCAB.cls_id
    h = torch.arange(2 * 7 * 3, dtype=torch.float).view(2, 7, 3)
    assert torch.equal(pool(h, mask, "cls"), h[:, 0])
    assert torch.allclose(pool(h, mask, "mean")[1], h[1, :4].mean(0))
    with pytest.raises(ValueError, match="'mean' or 'cls'"):
        pool(h, mask, "max")


def test_class_weights_and_label_subset():
    y = np.array([0] * 90 + [1] * 10)
    w = class_weights(y, 2)
    assert torch.allclose(w * torch.tensor([90.0, 10.0]), torch.tensor([50.0, 50.0]))
    sub = label_subset(y, 0.01)
    assert sorted(set(y[sub].tolist())) == [0, 1]  # at least one per class
    assert len(label_subset(y, 0.1)) == 10


def test_bootstrap_interval_contains_the_score():
    rng = np.random.default_rng(0)
    y = rng.integers(3, size=200)
    p = np.where(rng.random(200) < 0.7, y, rng.integers(3, size=200))
    for name in ("accuracy", "macro_f1"):
        s = score(y, p, name, 3)
        lo, hi = bootstrap_ci(y, p, name, n_classes=3, n_boot=300)
        assert lo < s < hi and hi - lo < 0.2
    assert score([0, 1, 2], [0, 1, 1], "macro_f1", 3) == pytest.approx((1 + 2 / 3 + 0) / 3)


@pytest.mark.slow  # trains twelve tiny classifiers
def test_learning_curve_rows_and_untouched_test_split():
    texts = ["床前明月光" * 2, "疑是地上霜" * 2, "举头望明月", "低头思故乡"] * 10
    labels = np.array([0, 0, 1, 1] * 10)
    cfg = FineTuneConfig(steps=3, batch_size=4, block_size=16)
    out = learning_curve(_model(), VOCAB, texts, labels, random_init=_model(), fractions=(0.1, 1.0), cfg=cfg)
    rows = out["rows"]
    assert [r["method"] for r in rows[:3]] == ["fine-tuned", "random init", "linear probe"]
    assert len(rows) == 6 and all(r["accuracy_lo"] <= r["accuracy"] <= r["accuracy_hi"] for r in rows)
    assert not set(out["test_idx"]) & set(out["train_idx"])
    assert rows[0]["n_labels"] < rows[3]["n_labels"] == len(out["train_idx"])


def test_fine_tune_curve_averages_label_subsets_and_learns_a_separable_task():
    texts = ["床前明月光" * 2, "举头望明月", "疑是地上霜" * 2, "低头思故乡"] * 10
    labels = np.array([0, 0, 1, 1] * 10)  # 月 lines vs the others: one character tells them apart
    train_idx, test_idx = np.arange(0, 40, 2), np.arange(1, 40, 2)
    cfg = FineTuneConfig(steps=30, batch_size=8, block_size=16, encoder_lr=3e-3, head_lr=1e-2)
    rows = fine_tune_curve({"a": _model(), "b": _model()}, VOCAB, texts, labels, train_idx, test_idx,
                           (4, None), n_subsets=3, cfg=cfg)
    assert [(r["method"], r["n_labels"], r["n_subsets"]) for r in rows] == [
        ("a", 4, 3), ("b", 4, 3), ("a", 20, 1), ("b", 20, 1)]
    assert rows[0]["interval"] == "label subsets" and len(rows[0]["accuracy_scores"]) == 3
    assert rows[2]["interval"] == "test bootstrap"
    assert all(r["accuracy_lo"] <= r["accuracy"] <= r["accuracy_hi"] for r in rows)
    assert rows[0] == {**rows[1], "method": "a"}  # the same weights and seeds: the same scores
    assert rows[2]["accuracy"] > 0.9  # all 20 labels: the task is learnt


def test_prenorm_classifier_works_too():
    model = EncoderClassifier(_model(layout="prenorm"), 2)
    ids, mask = encode_batch(VOCAB, ["床前", "明月光"], 16)
    assert model(ids, mask).shape == (2, 2)
    assert isinstance(_model(), BertForMaskedLM) and isinstance(_model().config, BertConfig)


def test_layer_states_and_probe():
    from lmlab.eval.layer_probe import layer_states, probe_layers

    model = _model()
    ids, mask = encode_batch(VOCAB, ["床前明月光疑是地上霜"] * 30, 16)
    states = layer_states(model, ids, mask)
    assert len(states) == model.config.n_layer + 1 and states[0].shape == (30, 12, 16)
    pos = torch.arange(12).expand_as(ids)
    accs = probe_layers(states, pos % 2, mask.bool())
    assert len(accs) == 2 and all(0 <= a <= 1 for a in accs)
    assert accs[0] > 0.9  # the position embedding gives parity away at layer 0
    with pytest.raises(ValueError, match="one class only"):
        probe_layers(states, torch.zeros_like(ids), mask.bool())


def test_figures_draw():
    from lmlab.viz.bert import plot_fill, plot_layer_probe, plot_learning_curve

    rows = [{"method": m, "n_labels": n, "accuracy": 0.5, "accuracy_lo": 0.4, "accuracy_hi": 0.6}
            for m in ("fine-tuned", "random init", "linear probe") for n in (3, 30)]
    fig = plot_learning_curve(rows, metric="accuracy", chance=1 / 3)
    assert len(fig.axes[0].lines) >= 4
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["3", "30"]
    fig = plot_fill("床前[MASK]月[MASK]", fill_mask(_model(), VOCAB, "床前[MASK]月[MASK]", k=3))
    assert len(fig.axes) == 2
    # a barely trained model's 0.4 %: the axis fits the bars (not 0-1), a newline reads as a word
    fig = plot_fill("x[MASK]", [[("，", 0.004), ("\n", 0.003)]])
    assert fig.axes[0].get_xlim()[1] == pytest.approx(1.3 * 0.004)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["↵ newline", "，"]
    fig = plot_layer_probe({"q": [0.5, 0.7]}, chance={"q": 0.5})
    assert fig.axes[0].get_xlabel().startswith("layer")


def test_vectorised_bootstrap_equals_scoring_each_resample():
    import numpy as np

    from lmlab.eval.bootstrap import resampled_scores, score

    rng = np.random.default_rng(1)
    for k in (2, 3, 5):
        y, p = rng.integers(k, size=40), rng.integers(k, size=40)
        p[:4] = 0  # some classes never predicted in some resamples: F1's 0/0 must be 0 as in the report
        idx = rng.integers(40, size=(100, 40))
        for name in ("accuracy", "macro_f1"):
            want = [score(y[i], p[i], name, k) for i in idx]
            assert resampled_scores(y[idx], p[idx], name, k) == pytest.approx(want, abs=1e-12)


def test_fill_in_widget_shows_bad_input_as_one_line(capsys):
    pytest.importorskip("ipywidgets")
    from lmlab.viz.bert import fill_mask_widget

    model = _model(block_size=8)
    from IPython.core.interactiveshell import InteractiveShell

    shown = []
    shell = InteractiveShell.instance()
    shell.display_pub.publish = lambda data, *a, **k: shown.append(data)
    try:
        ui = fill_mask_widget(model, VOCAB, value="床前明月光")  # no [MASK]
    finally:
        InteractiveShell.clear_instance()
    assert shown == []  # returned, not displayed: a cell ending with the call shows it once
    lines = [s for s in capsys.readouterr().out.splitlines() if s.startswith("error:")]
    assert len(lines) == 1 and "no [MASK] in '床前明月光'" in lines[0]
    ui.children[0].value = "[MASK]" * 7  # more masks than the context holds
    lines = [s for s in capsys.readouterr().out.splitlines() if s.startswith("error:")]
    assert len(lines) == 1 and "7 masks but the model's context holds only 6" in lines[0]


def test_learning_curve_and_poet_dataset_refuse_bad_label_sets():
    with pytest.raises(ValueError, match="unknown label '王小二'"):
        poet_dataset(("李白", "王小二"), fallback=True)
    with pytest.raises(ValueError, match="at least two classes"):
        poet_dataset(("李白",), fallback=True)
    model = _model()
    with pytest.raises(ValueError, match="at least two classes"):
        learning_curve(model, VOCAB, ["床前", "明月"], np.array([0, 0]), random_init=_model())


def test_a_learning_rate_of_zero_is_named_in_one_line():
    with pytest.raises(ValueError, match="encoder_lr must be > 0, got 0"):
        FineTuneConfig(encoder_lr=0)
