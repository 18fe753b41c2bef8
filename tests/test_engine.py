"""The training engine's own promises (lmlab.train.engine), proved with a tiny recipe: a nan loss leaves the
previous step's weights and stops; accumulating micro-batches equals one large batch; a resumed run (from
its checkpoint, or fitted on in memory) repeats the uninterrupted one."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

from lmlab.train.engine import Recipe, start, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass
class TinyConfig:
    max_iters: int = 6
    batch_size: int = 8
    grad_accum: int = 1
    grad_clip: float = 0.0
    lr: float = 0.05
    eval_interval: int = 3
    log_interval: int = 1
    time_budget_s: float | None = None
    seed: int = 7


class Line(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.config = {"inputs": 4}
        self.linear = torch.nn.Linear(4, 1)


class LineRecipe(Recipe):
    """Least squares on a fixed set of 64 points; ``nan_at``: the iteration whose loss is nan."""

    kind = "line"

    def __init__(self, tcfg: TinyConfig, nan_at: int | None = None) -> None:
        super().__init__(tcfg)
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 4, generator=g)
        self.y = self.x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(64, 1, generator=g)
        self.nan_at, self.it = nan_at, 0

    def build(self) -> torch.nn.Module:
        torch.manual_seed(0)
        return Line()

    def optimizer(self, model, device_type):
        return torch.optim.SGD(model.parameters(), lr=self.tcfg.lr, momentum=0.9)

    def lr(self, it, train_s):
        self.it = it
        return self.tcfg.lr

    def batch(self, it, generator, micro, device):
        if micro == 0:  # one permutation per step; the micro-batches are its consecutive slices
            self.perm = torch.randperm(len(self.x), generator=generator)
        rows = self.perm[micro * self.tcfg.batch_size:(micro + 1) * self.tcfg.batch_size]
        return self.x[rows].to(device), self.y[rows].to(device)

    def loss(self, net, batch):
        x, y = batch
        loss = torch.nn.functional.mse_loss(net.linear(x), y)
        return loss * math.nan if self.it == self.nan_at else loss

    def tokens(self, batch):
        return len(batch[0])

    def evaluate(self, model):
        with torch.no_grad():
            return {"val_loss": float(torch.nn.functional.mse_loss(model.linear(self.x), self.y))}


def weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_a_nan_loss_leaves_the_previous_steps_weights_and_stops(capsys):
    good = train(LineRecipe(TinyConfig(max_iters=4)), progress=False)  # steps 0..3
    bad = train(LineRecipe(TinyConfig(max_iters=6), nan_at=4), progress=False)  # step 4 is nan
    assert bad.metrics["stopped"] == "diverged" and bad.metrics["diverged_at"] == 5 and bad.next_iter == 5
    assert math.isnan(bad.history.last("train_loss"))
    for a, b in zip(weights(good.model), weights(bad.model), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # step 4's update was never applied
    momentum = [s["momentum_buffer"] for s in bad.optimizer.state.values()]
    assert all(torch.isfinite(m).all() for m in momentum)
    err = capsys.readouterr().err
    assert "training diverged: the loss became nan at iteration 5" in err
    assert "the weights in memory are the last good ones" in err and "diverged ones" not in err


def test_two_micro_batches_of_b_equal_one_batch_of_2b():
    one = train(LineRecipe(TinyConfig(batch_size=16, grad_accum=1)), progress=False)
    two = train(LineRecipe(TinyConfig(batch_size=8, grad_accum=2)), progress=False)
    for a, b in zip(weights(one.model), weights(two.model), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert one.history.series("train_loss")[1] == pytest.approx(two.history.series("train_loss")[1], rel=1e-5)
    assert one.metrics["tokens_per_sec"] > 0 and two.result.tokens == one.result.tokens == 16 * 6


def test_the_common_metrics_and_the_run_go_on_in_memory():
    run = start(LineRecipe(TinyConfig(max_iters=6)), progress=False)
    run.fit(max_iters=3)
    assert run.next_iter == 3 and run.metrics["iters"] == 3
    assert repr(run) == "Run(kind='line', next_iter=3, max_iters=3)"  # one line when a cell ends with it
    run.fit(max_iters=6)  # the same session goes on: the same curve as one fit
    whole = train(LineRecipe(TinyConfig(max_iters=6)), progress=False)
    assert run.history.series("train_loss")[1] == pytest.approx(whole.history.series("train_loss")[1])
    assert set(run.metrics) >= {"train_loss", "val_loss", "best_val_loss", "tokens_per_sec", "train_s",
                                "wall_s", "iters", "stopped", "diverged_at", "interrupted", "out_of_time",
                                "device", "precision", "world_size"}


class ScaledRecipe(LineRecipe):
    """The bias learns 10 times faster than the weight: its group carries lr_scale=10."""

    def optimizer(self, model, device_type):
        return torch.optim.SGD([{"params": [model.linear.weight]},
                                {"params": [model.linear.bias], "lr_scale": 10.0}], lr=self.tcfg.lr)


def test_a_param_groups_lr_scale_multiplies_the_recipes_rate():
    run = train(ScaledRecipe(TinyConfig(max_iters=2, lr=0.01)), progress=False)
    assert [g["lr"] for g in run.optimizer.param_groups] == pytest.approx([0.01, 0.1])
    assert run.history.last("lr") == pytest.approx(0.01)  # the history logs the recipe's rate


TEXT = "to be or not to be, that is the question. " * 30


def test_a_gpt_resumed_from_its_checkpoint_repeats_the_uninterrupted_run(tmp_path):
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.models.transformer.trainer import GPTRecipe, TokenData, TrainConfig
    from lmlab.tokenizers import CharTokenizer

    tok = CharTokenizer.fit(TEXT)
    data = TokenData.from_text(TEXT, tok)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.1)

    def run(max_iters, out, **options):
        tcfg = TrainConfig(batch_size=4, max_iters=max_iters, lr=1e-3, min_lr=1e-4, warmup_iters=1,
                           lr_decay_iters=8, eval_interval=2, eval_iters=1, log_interval=1, grad_accum=2)
        torch.manual_seed(0)
        return train(GPTRecipe(tcfg, data, tokenizer=tok), model=GPT(cfg), out=out, progress=False, **options)

    whole = run(8, tmp_path / "whole")
    run(4, tmp_path / "parts")
    resumed = run(8, tmp_path / "parts", resume=True)
    assert resumed.next_iter == 8 and resumed.metrics["iters"] == 8
    assert resumed.history.series("train_loss")[1] == pytest.approx(whole.history.series("train_loss")[1])
    for a, b in zip(weights(whole.model), weights(resumed.model), strict=True):
        torch.testing.assert_close(a, b)
