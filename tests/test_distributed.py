"""Data parallelism: sharding, no_sync accumulation, and 2 gloo ranks matching one process exactly."""

from __future__ import annotations

import os
import sys

import pytest
import torch
import torch.multiprocessing as mp

from lmlab.distributed import (
    DistContext,
    all_reduce_mean,
    broadcast_flag,
    global_batch_size,
    init_distributed,
    no_sync_unless,
    shard,
    shutdown,
    torchrun_command,
    unwrap,
    wrap_ddp,
)
from lmlab.models.transformer import GPT, GPTConfig

TINY = dict(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.0)
SINGLE = DistContext(rank=0, local_rank=0, world_size=1)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_shard_splits_the_global_batch_into_disjoint_rank_slices():
    batch = torch.arange(12).reshape(6, 2)
    parts = [shard(batch, DistContext(rank=r, local_rank=r, world_size=3)) for r in range(3)]
    assert [p.shape for p in parts] == [(2, 2)] * 3
    assert torch.equal(torch.cat(parts), batch)  # together the ranks see every row once, in order
    assert shard(batch, SINGLE) is batch


def test_shard_rejects_a_batch_that_does_not_divide():
    with pytest.raises(ValueError, match="does not split over 4 ranks"):
        shard(torch.zeros(6, 2), DistContext(rank=0, local_rank=0, world_size=4))


def test_global_batch_is_batch_times_ranks_times_accumulation():
    assert global_batch_size(12, 4, 5) == 240
    with pytest.raises(ValueError, match="grad_accum must be >= 1"):
        global_batch_size(12, 4, 0)


def test_single_process_helpers_are_identities():
    model = torch.nn.Linear(2, 2)
    assert wrap_ddp(model, SINGLE) is model and unwrap(model) is model
    assert all_reduce_mean(3.5, SINGLE, torch.device("cpu")) == 3.5
    assert broadcast_flag(True, SINGLE, torch.device("cpu")) is True
    with no_sync_unless(model, sync=False):  # plain modules have no no_sync: a no-op
        pass


def test_not_launched_by_torchrun_means_world_one(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_distributed("cpu") == SINGLE


def test_torchrun_command_uses_this_python_and_a_free_port():
    cmd = torchrun_command(2, ["train", "gpt", "--device", "cpu"])
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--standalone" in cmd and "--nproc_per_node=2" in cmd
    assert cmd[-5:] == ["lmlab", "train", "gpt", "--device", "cpu"]


# ---------------------------------------------------------------------------------------------------
# The harness: the same training code run by one process (global batch) and by two gloo ranks.


def _train(ctx: DistContext, iters: int = 4, per_rank: int = 4, accum: int = 2) -> dict:
    """AdamW on a tiny GPT; each micro-step draws the *global* micro-batch and keeps this rank's shard."""
    torch.manual_seed(0)
    model = wrap_ddp(GPT(GPTConfig(**TINY)), ctx)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    data = torch.randint(0, TINY["vocab_size"], (512,), generator=torch.Generator().manual_seed(1))
    losses, unsynced_grad = [], None
    for it in range(iters):
        step_loss = 0.0
        for k in range(accum):
            g = torch.Generator().manual_seed(1000 * it + k)
            starts = torch.randint(0, len(data) - 9, (per_rank * ctx.world_size,), generator=g)
            x = torch.stack([data[s:s + 8] for s in starts.tolist()])
            y = torch.stack([data[s + 1:s + 9] for s in starts.tolist()])
            x, y = shard(x, ctx), shard(y, ctx)
            with no_sync_unless(model, sync=(k == accum - 1)):
                _, loss = model(x, y)
                (loss / accum).backward()
            if it == 0 and k == 0:
                unsynced_grad = unwrap(model).lm_head.weight.grad.clone()
            step_loss += loss.item() / accum
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(all_reduce_mean(step_loss, ctx, torch.device("cpu")))
    return {"losses": losses, "state": {k: v.detach().clone() for k, v in unwrap(model).state_dict().items()},
            "unsynced_grad": unsynced_grad}


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    ctx = init_distributed("cpu")
    try:
        result = _train(ctx)
        # every rank's weights must be identical after each synced step; gather them to rank 0 to compare
        flat = torch.cat([p.reshape(-1) for p in result["state"].values()])
        grads = [torch.zeros_like(result["unsynced_grad"]) for _ in range(world)]
        weights = [torch.zeros_like(flat) for _ in range(world)]
        torch.distributed.all_gather(grads, result["unsynced_grad"])
        torch.distributed.all_gather(weights, flat)
        if ctx.is_main:
            result["rank_grads"] = grads
            result["rank_weights"] = weights
            torch.save(result, out)
    finally:
        shutdown(ctx)


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    from lmlab.net import free_port

    out = str(tmp_path_factory.mktemp("ddp") / "rank0.pt")
    mp.spawn(_worker, args=(2, free_port(), out), nprocs=2, join=True)
    return torch.load(out, weights_only=True)


@pytest.mark.slow
def test_two_gloo_ranks_follow_the_single_process_loss_curve(two_rank_run):
    single = _train(SINGLE, per_rank=8)  # one process, the same global batch of 8 x 2 micro-steps
    # tolerance: float32 sums are taken in another order (per rank, then averaged), nothing else differs
    assert two_rank_run["losses"] == pytest.approx(single["losses"], abs=1e-5)
    assert single["losses"][-1] < single["losses"][0]  # it trained
    for name, value in single["state"].items():
        torch.testing.assert_close(two_rank_run["state"][name], value, atol=2e-5, rtol=1e-4)


@pytest.mark.slow
def test_no_sync_skips_the_all_reduce_until_the_last_micro_step(two_rank_run):
    g0, g1 = two_rank_run["rank_grads"]
    # after the first micro-step under no_sync each rank holds the gradient of its own shard only
    assert not torch.allclose(g0, g1)
    w0, w1 = two_rank_run["rank_weights"]
    # after the synced step the ranks applied the same averaged gradient: identical weights
    assert torch.equal(w0, w1)
