"""lmlab.parallel in one process: the layouts, the stage split, the bubble formula and the checks."""

from __future__ import annotations

import pytest
import torch

from lmlab.models.transformer import GPT, GPTConfig
from lmlab.parallel.checks import check_parallel, check_resume
from lmlab.parallel.pipeline import bubble_fraction, pipeline_stage, stage_layers
from lmlab.parallel.tensor import qkv_major, rank_major

TINY = dict(vocab_size=16, block_size=8, n_layer=4, n_head=4, n_embd=16, dropout=0.0)


def test_rank_major_gives_each_rank_its_heads_of_q_k_and_v():
    C, n = 8, 2  # 4 heads of 2 channels, 2 ranks
    w = torch.arange(3 * C).float()[:, None]  # row i of [q; k; v] holds the number i
    r = rank_major(w, n).squeeze(1)
    # rank 0: q rows 0-3, k rows 8-11, v rows 16-19 (heads 0, 1); rank 1 the rest (heads 2, 3)
    assert r[:12].tolist() == [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19]
    assert r[12:].tolist() == [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23]
    assert torch.equal(qkv_major(rank_major(w, n), n), w)


def test_pipeline_stages_chained_in_one_process_equal_the_gpt():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY))
    x = torch.randint(0, 16, (2, 8))
    stages = [pipeline_stage(model, s, 2) for s in range(2)]
    assert list(stages[0].blocks) == ["0", "1"] and list(stages[1].blocks) == ["2", "3"]
    assert stages[0].lm_head is None and stages[1].embed is None
    torch.testing.assert_close(stages[1](stages[0](x)), model(x)[0])
    # parameter names are the GPT's, so the stages' state dicts together are the model's
    names = set(stages[0].state_dict()) | set(stages[1].state_dict())
    assert names == set(model.state_dict())


def test_bubble_formula():
    assert bubble_fraction(1, 8) == 0  # one stage never waits
    assert bubble_fraction(2, 1) == 0.5
    assert bubble_fraction(4, 4) == pytest.approx(3 / 7)
    assert [bubble_fraction(2, m) for m in (1, 2, 4, 8)] == pytest.approx([1 / 2, 1 / 3, 1 / 5, 1 / 9])
    with pytest.raises(ValueError, match="m >= 1"):
        bubble_fraction(2, 0)


def test_stage_layers_split_evenly_or_say_why_not():
    assert [list(stage_layers(6, 3, s)) for s in range(3)] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(ValueError, match="6 layers over 4 ranks"):
        stage_layers(6, 4, 0)


def test_checks_name_what_does_not_divide():
    cfg = GPTConfig(**{**TINY, "n_head": 2, "n_layer": 3})
    check_parallel("fsdp", cfg, 3)  # FSDP shards flat parameters: any world size
    check_parallel("tp", cfg, 1)
    with pytest.raises(ValueError, match="2 heads over 4 ranks.*--n-head divisible by 4"):
        check_parallel("tp", cfg, 4)
    with pytest.raises(ValueError, match="3 layers over 2 ranks"):
        check_parallel("pp", cfg, 2)
    with pytest.raises(ValueError, match="--batch-size 6 in --grad-accum 4 micro-batches"):
        check_parallel("pp", GPTConfig(**TINY), 2, batch_size=6, grad_accum=4)
    with pytest.raises(ValueError, match="unknown --parallel 'zero'"):
        check_parallel("zero", cfg, 2)


def test_resume_needs_the_same_world_size():
    payload = {"extra": {"config_record": {"world_size": 2}}}
    check_resume(payload, 2)
    check_resume({"extra": {}}, 4)  # an older checkpoint that did not record it
    with pytest.raises(ValueError, match="trained on 2 rank.*this run has 4.*--nproc_per_node=2"):
        check_resume(payload, 4)


def test_the_package_exports_every_plan_on_first_use():
    import lmlab.parallel as par

    for name in par.__all__:
        assert callable(getattr(par, name)), name
    with pytest.raises(AttributeError, match="no attribute 'zero3'"):
        par.zero3  # noqa: B018


def test_resume_needs_the_same_scheme_on_several_ranks():
    payload = {"extra": {"config_record": {"world_size": 2, "parallel": "fsdp"}}}
    check_resume(payload, 2, "fsdp")
    with pytest.raises(ValueError, match="--parallel fsdp but this run asks for --parallel tp"):
        check_resume(payload, 2, "tp")
    with pytest.raises(ValueError, match="--parallel fsdp but this run asks for --parallel ddp"):
        check_resume(payload, 2, None)  # no flag is ddp


def test_write_together_in_one_process_is_the_write_itself():
    from lmlab.distributed import DistContext, write_together
    from lmlab.train.failures import WriteFailed

    ctx = DistContext(rank=0, local_rank=0, world_size=1)
    done = []
    write_together(ctx, lambda: done.append(1))
    write_together(ctx, None)
    assert done == [1]

    def fail() -> None:
        raise WriteFailed("could not write the checkpoint x")

    with pytest.raises(WriteFailed, match="could not write"):
        write_together(ctx, fail)


def test_a_gathered_state_with_nan_is_refused_like_a_model(tmp_path):
    from lmlab.checkpoint import NonFiniteWeights, load_checkpoint, save_checkpoint

    model = GPT(GPTConfig(**TINY))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    save_checkpoint(tmp_path / "ok.pt", model=state, config=model.config, kind="gpt")
    assert load_checkpoint(tmp_path / "ok.pt")["model"].keys() == model.state_dict().keys()
    state["blocks.1.mlp.proj.weight"][0, 0] = float("nan")  # one weight of one rank's gathered piece
    with pytest.raises(NonFiniteWeights, match="'blocks.1.mlp.proj.weight' holds nan or inf"):
        save_checkpoint(tmp_path / "bad.pt", model=state, config=model.config, kind="gpt")
    assert not (tmp_path / "bad.pt").exists()
