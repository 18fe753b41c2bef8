"""``torchrun --nproc_per_node=2 -m lmlab train gpt --parallel fsdp|tp|pp`` against one process.

The same global batch: each scheme's logged losses and final weights equal the single-process run's
(float32 sums in another order: 1e-5 / 1e-4), a run resumed on the same world size continues the curve,
another world size is refused in one line, and FSDP's sharded DCP checkpoint loads into one process.
"""

from __future__ import annotations

import pytest
import torch

from lmlab.checkpoint import load_checkpoint
from lmlab.cli import main as lmlab_main
from lmlab.distributed import launch

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

FLAGS = ["--preset", "smoke", "--n-layer", "2", "--n-head", "2", "--n-embd", "32", "--block-size", "16",
         "--lr-decay-iters", "6", "--warmup-iters", "2", "--eval-interval", "3", "--eval-iters", "2",
         "--log-interval", "1", "--grad-accum", "2", "--dropout", "0", "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    sentence = ("the king shall speak of love and war to his people while night falls on the old city "
                "where rivers run and ships sail far beyond the quiet hills")
    words = sentence.split(" ")
    idx = torch.randint(len(words), (6000,), generator=torch.Generator().manual_seed(0)).tolist()
    path = tmp_path_factory.mktemp("corpus") / "salad.txt"
    path.write_text("\n".join(" ".join(words[i] for i in idx[k:k + 12]) for k in range(0, 6000, 12)))
    return str(path)


@pytest.fixture(scope="module")
def single(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    assert lmlab_main(["train", "gpt", "--corpus", corpus, *FLAGS, "--batch-size", "8", "--max-iters", "6",
                       "--out", str(out)]) == 0
    return load_checkpoint(out / "ckpt.pt")


def _steps(payload) -> list[tuple[int, float]]:
    """(iter, train loss) of every training step (evaluation records carry val_loss)."""
    return [(r["iter"], r["train_loss"]) for r in payload["history"] if "val_loss" not in r]


def _assert_same_run(payload, single):
    a, b = _steps(payload), _steps(single)
    assert [i for i, _ in a] == [i for i, _ in b]
    assert [v for _, v in a] == pytest.approx([v for _, v in b], abs=1e-5)
    val = {r["iter"]: r["val_loss"] for r in payload["history"] if "val_loss" in r}
    for r in single["history"]:  # the same evaluation where the single run evaluated (a resumed run
        if "val_loss" in r:      # also evaluated where its first part ended)
            assert val[r["iter"]] == pytest.approx(r["val_loss"], abs=1e-5)
    assert payload["model"].keys() == single["model"].keys()
    for k, v in single["model"].items():
        torch.testing.assert_close(payload["model"][k], v, atol=1e-4, rtol=1e-4,
                                   msg=lambda m, k=k: f"{k}: {m}")


@pytest.mark.parametrize("scheme", ["fsdp", "tp"])
def test_sharded_schemes_resume_on_the_single_process_curve(scheme, corpus, single, tmp_path, capsys):
    # FSDP is data parallel (--batch-size per rank); under TP both ranks work on the whole batch
    batch = "4" if scheme == "fsdp" else "8"
    common = ["train", "gpt", "--corpus", corpus, *FLAGS, "--batch-size", batch, "--parallel", scheme,
              "--out", str(tmp_path)]
    launch(2, [*common, "--max-iters", "4"], echo=False)
    launch(2, [*common, "--max-iters", "6", "--resume"], echo=False)
    payload = load_checkpoint(tmp_path / "ckpt.pt")
    _assert_same_run(payload, single)
    assert payload["extra"]["config_record"]["world_size"] == 2
    # one process may not resume a 2-rank run: the global batch would change
    assert lmlab_main([*common, "--max-iters", "8", "--resume"]) == 2
    assert "trained on 2 rank(s) but this run has 1" in capsys.readouterr().err
    if scheme == "fsdp":  # the sharded checkpoint, one file per rank, read back by one process
        from lmlab.models.transformer import GPT, GPTConfig
        from lmlab.models.transformer.generate import generate
        from lmlab.parallel.checkpoint import load_sharded_into

        assert sorted(p.name for p in (tmp_path / "dcp").iterdir()) == [".metadata", "__0_0.distcp",
                                                                          "__1_0.distcp"]
        model = load_sharded_into(GPT(GPTConfig(**payload["config"])), tmp_path / "dcp")
        for k, v in payload["model"].items():
            torch.testing.assert_close(model.state_dict()[k], v)
        ids = generate(model.eval(), torch.zeros(1, 1, dtype=torch.long), 10)
        assert ids.shape == (1, 11)


def test_pipeline_equals_the_single_process(corpus, single, tmp_path):
    launch(2, ["train", "gpt", "--corpus", corpus, *FLAGS, "--batch-size", "8", "--parallel", "pp",
               "--max-iters", "6", "--out", str(tmp_path)], echo=False)
    _assert_same_run(load_checkpoint(tmp_path / "ckpt.pt"), single)


def test_a_world_size_that_does_not_divide_the_heads_is_one_clear_line(corpus, tmp_path):
    import os
    import subprocess

    from lmlab.distributed import torchrun_command

    args = ["train", "gpt", "--corpus", corpus, *FLAGS, "--n-head", "3", "--n-embd", "48", "--parallel", "tp",
            "--max-iters", "2", "--out", str(tmp_path)]
    proc = subprocess.run(torchrun_command(2, args), capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode != 0
    assert "lmlab: error: tensor parallelism splits the 3 heads over 2 ranks" in proc.stderr
    assert not (tmp_path / "ckpt.pt").exists()
