"""The trainer contract (CONTRIBUTING.md): one schedule, one sampler, one optimizer policy, one resume API,
divergence shown and never saved, metrics that are valid JSON, GPT init pinned to its old numbers."""

from __future__ import annotations

import json
import math
import signal

import pytest
import torch

from lmlab.checkpoint import NonFiniteWeights, save_checkpoint
from lmlab.train import History, fit, iteration_batch, step_generator, write_metrics
from lmlab.train.batches import random_windows
from lmlab.train.schedule import cosine_lr, linear_lr, scheduled_lr, time_cosine_lr, warmup_lr

# --- one schedule -----------------------------------------------------------------------------------


def test_gpt_and_lstm_share_one_warmup_and_one_cosine():
    from lmlab.models.lstm.trainer import LSTMTrainConfig, lr_at

    cfg = LSTMTrainConfig(lr=1e-2, min_lr_frac=0.1, warmup_iters=10, max_iters=100)
    for it in (0, 5, 9, 10, 40, 99, 150):
        assert lr_at(cfg, it, 0.0) == cosine_lr(it, 1e-2, 1e-3, 10, 100)
    assert warmup_lr(0, 1.0, 10) == pytest.approx(1 / 11)  # never 0 at the first step
    budget = LSTMTrainConfig(lr=1.0, min_lr_frac=0.1, warmup_iters=10, max_iters=100_000, time_budget_s=300)
    assert lr_at(budget, 50, 150.0) == time_cosine_lr(50, 150.0, 300.0, 1.0, 0.1, 10) == pytest.approx(0.55)
    # with a budget the clock alone sets the progress (the GPT benchmark's reference does the same)
    assert scheduled_lr(100, lr=1.0, min_lr=0.1, warmup_iters=0, decay_iters=100, elapsed_s=150.0,
                        budget_s=300.0) == pytest.approx(0.55)


def test_word2vec_schedule_is_the_straight_line_it_always_was():
    alpha, min_alpha, total = 0.025, 0.0001, 12_345.0
    for done in (0.0, 1000.0, total):
        assert linear_lr(done, total, alpha, min_alpha) == alpha - (alpha - min_alpha) * done / total


# --- one sampler ------------------------------------------------------------------------------------


def test_one_sampler_gives_the_gpt_and_the_session_the_same_windows():
    from lmlab.models.transformer.trainer import TokenData

    ids = torch.arange(500)
    data = TokenData(train=ids, val=ids)
    x1, y1 = data.batch("train", 6, 16, step_generator(9, 3))
    x2, y2 = iteration_batch(ids, 3, seed=9, batch_size=6, block_size=16)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and torch.equal(y1[:, :-1], x1[:, 1:])
    # pinned to the sampler the Session used before (torch.stack of slices at the same starts)
    starts = torch.randint(500 - 16, (6,), generator=step_generator(9, 3))
    assert torch.equal(x2, torch.stack([ids[s:s + 16] for s in starts.tolist()]))
    with pytest.raises(ValueError, match="block_size"):
        random_windows(torch.arange(5), 2, 8, step_generator(0, 0))


# --- one optimizer policy ---------------------------------------------------------------------------


def test_gpt_and_lstm_get_the_same_adamw_policy():
    from lmlab.models.lstm.model import LSTMConfig, LSTMLanguageModel
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.train.optim import adamw

    gpt = GPT(GPTConfig(vocab_size=11, n_layer=1, n_head=2, n_embd=8, block_size=8))
    lstm = LSTMLanguageModel(LSTMConfig(vocab_size=11, n_embd=8, hidden=8, n_layer=1))
    for model, opt in ((gpt, gpt.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")),
                       (lstm, adamw(lstm, lr=1e-3, weight_decay=0.1, device_type="cpu"))):
        decay, no_decay = opt.param_groups
        assert all(p.dim() >= 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
        assert all(p.dim() < 2 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0
        assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
        assert opt.defaults.get("fused") == adamw(torch.nn.Linear(2, 2), lr=1e-3).defaults.get("fused")


# --- GPT init by module type, numerically as before --------------------------------------------------


def _suffix_init(module: torch.nn.Module, n_layer: int) -> None:
    """The init lmlab had before dispatching on module types (parameter-name suffixes), kept as the pin."""
    for name, p in module.named_parameters():
        if name.endswith("W_o.weight") or name.endswith("mlp.proj.weight"):
            torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
        elif p.dim() >= 2 and "ln" not in name:
            torch.nn.init.normal_(p, mean=0.0, std=0.02)
        elif name.endswith("bias"):
            torch.nn.init.zeros_(p)


@pytest.mark.parametrize("options", [{}, {"bias": True, "pos_encoding": "learned", "activation": "gelu"},
                                     {"pos_encoding": "sinusoidal", "n_layer": 3}])
def test_init_by_module_type_repeats_the_suffix_init_exactly(options, monkeypatch):
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.models.transformer import model as model_module

    cfg = GPTConfig(vocab_size=13, n_head=2, n_embd=16, block_size=8, **{"n_layer": 2, **options})
    torch.manual_seed(7)
    new = GPT(cfg).state_dict()
    monkeypatch.setattr(model_module, "_init_weights", _suffix_init)
    torch.manual_seed(7)
    old = GPT(cfg).state_dict()
    assert new.keys() == old.keys()
    for key in new:
        assert torch.equal(new[key], old[key]), key
    torch.manual_seed(7)
    encoder_old = model_module.TransformerEncoder(cfg).state_dict()
    monkeypatch.undo()
    torch.manual_seed(7)
    encoder_new = model_module.TransformerEncoder(cfg).state_dict()
    assert all(torch.equal(encoder_new[k], encoder_old[k]) for k in encoder_new)


# --- divergence -------------------------------------------------------------------------------------


def test_history_keeps_nan_where_it_happened_and_last_reports_it():
    h = History()
    h.log(iter=1, train_loss=2.0)
    h.log(iter=2, train_loss=torch.tensor(float("nan")))
    h.log(iter=2, val_loss=1.5)
    assert math.isnan(h.last("train_loss")) and h.first_nonfinite() == 2
    assert History([{"iter": 1, "train_loss": 1.0}]).first_nonfinite() is None


@pytest.mark.parametrize("as_tensor, deferred", [(False, False), (True, False), (True, True)])
def test_fit_stops_at_the_first_nonfinite_loss_and_checkpoints_nothing_after(as_tensor, deferred, capsys,
                                                                              monkeypatch):
    from lmlab.train import loop

    if deferred:  # the path of accelerator losses: checked at logs and checkpoints, one sync for many
        monkeypatch.setattr(loop, "_on_accelerator", lambda loss: isinstance(loss, torch.Tensor))
    saved = []

    def step(it):
        loss = float("inf") if it == 6 else 1.0 / (it + 1)
        return {"loss": torch.tensor(loss) if as_tensor else loss, "lr": 0.5}

    history = History()
    result = fit(step, max_iters=20, history=history, checkpoint=saved.append, checkpoint_interval=5,
                 evaluate=lambda: {"val_loss": 1.0}, eval_interval=5, log_interval=3, progress=False)
    assert result.stopped == "diverged" and result.diverged_at == 7 and result.next_iter == 7
    assert saved == [5]  # the interval checkpoint before it, none after
    assert history.records[-1]["iter"] == 7 and history.records[-1]["train_loss"] == float("inf")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "iteration 7" in err and "inf" in err and "--lr" in err
    assert result.failure == err.strip()


def test_metrics_json_stays_strict_json_and_shows_the_divergence(tmp_path):
    write_metrics(tmp_path, {"lr": 1.0}, train_loss=float("nan"), val=float("inf"), stopped="diverged",
                  diverged_at=7, nested={"x": [1.0, float("-inf")]})
    text = (tmp_path / "metrics.json").read_text()
    data = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in metrics.json"))
    assert data["train_loss"] is None and data["val"] is None and data["nested"] == {"x": [1.0, None]}
    assert data["stopped"] == "diverged" and data["diverged_at"] == 7


def test_save_checkpoint_refuses_nonfinite_weights(tmp_path):
    model = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path / "ckpt.pt", model=model, config={}, kind="toy")
    good = (tmp_path / "ckpt.pt").read_bytes()
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(NonFiniteWeights, match="'weight' holds nan"):
        save_checkpoint(tmp_path / "ckpt.pt", model=model, config={}, kind="toy")
    assert (tmp_path / "ckpt.pt").read_bytes() == good
    # a model with a -inf buffer (an attention mask) is fine: only parameters are checked
    model.register_buffer("mask", torch.full((2,), float("-inf")))
    with torch.no_grad():
        model.weight[0, 0] = 0.0
    save_checkpoint(tmp_path / "ckpt.pt", model=model, config={}, kind="toy")


def test_curves_mark_the_divergence():
    from lmlab.viz.curves import _LiveFigure, plot_history, status_line

    h = History([{"iter": i, "train_loss": 1.0 / i} for i in range(1, 6)] + [{"iter": 6, "train_loss":
                                                                               float("nan")}])
    fig = plot_history(h)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "diverged at 6" in labels
    live = _LiveFigure("t")
    live.draw(h)
    assert live.divergence is not None and live.divergence.get_xdata()[0] == 6
    assert "DIVERGED at iteration 6" in status_line(h)


# --- Ctrl-C handler ---------------------------------------------------------------------------------


def test_interrupt_handler_is_restored_even_when_the_previous_one_was_not_from_python(monkeypatch):
    from lmlab.train import loop

    real_getsignal = signal.getsignal
    monkeypatch.setattr(loop.signal, "getsignal", lambda sig: None)  # a handler installed from C
    try:
        fit(lambda it: {"loss": 1.0}, max_iters=2, progress=False)
        assert real_getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C works again
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# --- one resume API ---------------------------------------------------------------------------------


def test_every_trainer_takes_resume_on_the_command_line():
    from lmlab.cli import build_parser

    parser = build_parser()
    for model in ("gpt", "lstm", "word2vec"):
        args = parser.parse_args(["train", model, "--out", "x", "--resume"])
        assert args.resume is True, model


def test_lstm_resumes_with_resume_true(tmp_path):
    from lmlab.models.lstm import LSTMRecipe, preset_config
    from lmlab.train.engine import train

    text = "the cat sat on the mat. " * 80
    cfg = preset_config("smoke", hidden=8, block_size=8, batch_size=2, max_iters=4, device="cpu")
    train(LSTMRecipe(cfg, text), out=tmp_path, progress=False)
    cfg.max_iters = 6
    run = train(LSTMRecipe(cfg, text), out=tmp_path, progress=False, resume=True)
    assert run.metrics["iters"] == 6 and (tmp_path / "best.pt").exists()
    with pytest.raises(FileNotFoundError, match="drop --resume"):
        train(LSTMRecipe(cfg, text), out=tmp_path / "none", progress=False, resume=True)


def test_session_keeps_best_pt_by_validation_loss(tmp_path):
    from lmlab.checkpoint import load_checkpoint
    from lmlab.train import Session

    model = torch.nn.Linear(1, 1)
    vals = iter([3.0, 1.0, 2.0, 5.0])
    session = Session(lambda it: {"loss": 1.0}, model=model, max_iters=20, out=tmp_path, kind="toy",
                      checkpoint_interval=5, evaluate=lambda: {"val_loss": next(vals)}, eval_interval=5,
                      progress=False)
    session.fit()
    assert load_checkpoint(tmp_path / "best.pt")["extra"]["next_iter"] == 10  # val 1.0
    assert load_checkpoint(tmp_path / "ckpt.pt")["extra"]["next_iter"] == 20


def test_word2vec_resumes_after_ctrl_c_to_the_same_vectors(tmp_path):
    from lmlab.checkpoint import load_checkpoint
    from lmlab.models.word2vec import Word2VecConfig, Word2VecRecipe
    from lmlab.train.engine import train

    corpus = [f"the {a} cat sat on a {b} mat near the {c} dog".split()
              for a in ("red", "blue", "old") for b in ("big", "small") for c in ("fat", "thin")] * 20
    cfg = Word2VecConfig(dim=8, epochs=3, min_count=1, threads=1, job_words=100)
    whole = train(Word2VecRecipe(cfg, corpus), progress=False, out=tmp_path / "whole")

    def interrupt(it, out):  # a real SIGINT, delivered to fit's handler in the middle of an epoch
        if it == 4:
            signal.raise_signal(signal.SIGINT)

    part = train(Word2VecRecipe(cfg, corpus, on_step=interrupt), progress=False, out=tmp_path / "split")
    assert part.metrics["stopped"] == "interrupted" and part.next_iter == 5 < part.metrics["max_iters"]
    assert load_checkpoint(tmp_path / "split")["extra"]["next_iter"] == 5
    with pytest.raises(ValueError, match="pass --resume"):
        train(Word2VecRecipe(cfg, corpus), progress=False, out=tmp_path / "split", overwrite=False)
    rest = train(Word2VecRecipe(cfg, corpus), progress=False, out=tmp_path / "split", resume=True)
    assert rest.next_iter == whole.next_iter
    assert torch.equal(torch.from_numpy(rest.recipe.W_in), torch.from_numpy(whole.recipe.W_in))
    assert (tmp_path / "split" / "best.pt").exists() and rest.metrics["best_loss"] is not None
    with pytest.raises(ValueError, match="config does not match"):
        train(Word2VecRecipe(Word2VecConfig(dim=16, epochs=3, min_count=1, threads=1, job_words=100), corpus),
              progress=False, out=tmp_path / "split", resume=True)
