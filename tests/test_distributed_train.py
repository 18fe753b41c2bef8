"""``torchrun --nproc_per_node=2 -m lmlab train gpt|lstm`` (gloo on CPU) against one process.

Same seed and the same *global* batch (2 ranks x B versus 1 process x 2B, both with gradient accumulation):
the logged losses agree to 1e-5 and the final weights to 1e-4 (float32 sums taken in another order is
the only difference), the 2-rank checkpoint loads in a single process, and a resumed 2-rank run continues
on the single-process curve.
"""

from __future__ import annotations

import pytest
import torch

from lmlab.checkpoint import load_checkpoint, load_model_state
from lmlab.cli import main as lmlab_main
from lmlab.distributed import launch

pytestmark = pytest.mark.slow

GPT_FLAGS = ["--preset", "smoke", "--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "16",
             "--lr-decay-iters", "6", "--warmup-iters", "2", "--eval-interval", "3", "--eval-iters", "2",
             "--log-interval", "1", "--grad-accum", "2", "--dropout", "0", "--device", "cpu", "--no-progress"]
LSTM_FLAGS = ["--preset", "smoke", "--tokenizer", "char", "--n-layer", "1", "--hidden", "32",
              "--block-size", "16", "--grad-accum", "2", "--dropout", "0", "--eval-interval", "5",
              "--max-eval-tokens", "400", "--time-budget", "0", "--device", "cpu", "--quiet"]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # what each torchrun rank uses (OMP_NUM_THREADS=1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """30 kB of varied English-like text (a seeded word salad: no data files needed)."""
    sentence = ("the king shall speak of love and war to his people while night falls on the old city "
                "where rivers run and ships sail far beyond the quiet hills")
    words = sentence.split(" ")
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(len(words), (6000,), generator=g).tolist()
    text = "\n".join(" ".join(words[i] for i in idx[k:k + 12]) for k in range(0, len(idx), 12))
    path = tmp_path_factory.mktemp("corpus") / "salad.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _step_losses(out) -> list[tuple[int, float]]:
    """(iter, train loss) of every training step (evaluation records carry val_loss and are left out)."""
    history = load_checkpoint(out)["history"]
    return [(r["iter"], r["train_loss"]) for r in history if "val_loss" not in r and "train_loss" in r]


def _assert_same_curve(a, b, tol=1e-5):
    assert [i for i, _ in a] == [i for i, _ in b]
    assert [v for _, v in a] == pytest.approx([v for _, v in b], abs=tol)


def _assert_same_weights(path_a, path_b, tol=1e-4):
    a, b = load_checkpoint(path_a)["model"], load_checkpoint(path_b)["model"]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=tol, rtol=tol, msg=lambda m, k=k: f"{k}: {m}")


def test_gpt_two_ranks_match_one_process_and_resume(corpus, tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    # one process, batch 8 x 2 micro-steps, 6 iterations straight
    assert lmlab_main(["train", "gpt", "--corpus", corpus, *GPT_FLAGS, "--batch-size", "8",
                       "--max-iters", "6", "--out", str(single)]) == 0
    # two ranks, batch 4 each x 2 micro-steps: 4 iterations, then resume to 6
    common = ["train", "gpt", "--corpus", corpus, *GPT_FLAGS, "--batch-size", "4", "--out", str(ddp)]
    launch(2, [*common, "--max-iters", "4"], echo=False)
    first = _step_losses(ddp)
    assert [i for i, _ in first] == [1, 2, 3, 4]
    launch(2, [*common, "--max-iters", "6", "--resume"], echo=False)
    _assert_same_curve(_step_losses(ddp), _step_losses(single))
    _assert_same_weights(ddp, single)

    # the 2-rank checkpoint is a plain single-process checkpoint
    from lmlab.models.transformer import GPT, GPTConfig

    payload = load_checkpoint(ddp)
    model = GPT(GPTConfig(**payload["config"]))
    load_model_state(model, payload)
    assert all(not k.startswith("module.") for k in payload["model"])
    assert payload["extra"]["next_iter"] == 6
    import json

    metrics = json.loads((ddp / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["iters"] == 6


def test_lstm_two_ranks_match_one_process(corpus, tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert lmlab_main(["train", "lstm", "--corpus", corpus, *LSTM_FLAGS, "--batch-size", "8",
                       "--max-iters", "10", "--out", str(single)]) == 0
    launch(2, ["train", "lstm", "--corpus", corpus, *LSTM_FLAGS, "--batch-size", "4", "--max-iters", "10",
               "--out", str(ddp)], echo=False)
    _assert_same_curve(_step_losses(ddp), _step_losses(single))
    _assert_same_weights(ddp, single)
    from lmlab.models.lstm.model import LSTMConfig, LSTMLanguageModel

    payload = load_checkpoint(ddp)
    load_model_state(LSTMLanguageModel(LSTMConfig(**payload["config"])), payload)
