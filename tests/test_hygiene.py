"""Early stopping restores best.pt; the text augmentation keeps labels and edits only by deletion/swaps."""

from __future__ import annotations

import random

import pytest
import torch

from lmlab.checkpoint import load_checkpoint
from lmlab.models.augment import augment, augment_sentence
from lmlab.models.transformer import GPT, GPTConfig
from lmlab.models.transformer.early_stop import train_early_stopping
from lmlab.models.transformer.trainer import GPTRecipe, TokenData, TrainConfig
from lmlab.tokenizers import CharTokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_early_stopping_stops_when_validation_turns_and_restores_the_best(tmp_path):
    # a tiny training text memorised fast, a validation text it does not predict: over-fitting by design
    g = torch.Generator().manual_seed(0)
    alphabet = "abcdefgh"
    train = "".join(alphabet[i] for i in torch.randint(8, (300,), generator=g).tolist())
    val = "".join(alphabet[i] for i in torch.randint(8, (300,), generator=g).tolist())
    tok = CharTokenizer.fit(train + val)
    data = TokenData.from_text(train, tok, val_text=val)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=32))
    tcfg = TrainConfig(batch_size=16, max_iters=400, lr=1e-2, min_lr=1e-2, warmup_iters=0, lr_decay_iters=400,
                       eval_interval=10, eval_iters=4, weight_decay=0.0)
    result = train_early_stopping(GPTRecipe(tcfg, data), model=model, patience=2, out=tmp_path,
                                  progress=False)
    extra = result.extra
    assert extra["stopped_at"] < 400  # it stopped early
    assert extra["stopped_at"] == extra["best_iter"] + 2 * tcfg.eval_interval  # after 2 worse evaluations
    vals = [r["val_loss"] for r in result.history.records if "val_loss" in r]
    assert min(vals) == pytest.approx(extra["best_val"]) and vals[-1] > extra["best_val"]
    best = load_checkpoint(tmp_path / "best.pt")["model"]
    for k, v in model.state_dict().items():  # the model now holds the best weights, not the last
        torch.testing.assert_close(v, best[k])
    with pytest.raises(ValueError, match="patience"):
        train_early_stopping(GPTRecipe(tcfg, data), model=model, patience=0, out=tmp_path)


def test_augmentation_deletes_and_swaps_words_and_keeps_labels():
    texts, labels = ["a fine and moving film", "dull , flat and far too long"], [1, 0]
    out_t, out_y = augment(texts, labels, copies=3, p_delete=0.2, seed=1)
    assert out_t[:2] == texts and len(out_t) == 8 and out_y == labels + labels * 3
    for i, t in enumerate(out_t[2:]):
        words = t.split()
        assert set(words) <= set(texts[i % 2].split()) and words  # only the sentence's own words
    assert augment(texts, labels, copies=3, seed=1) == augment(texts, labels, copies=3, seed=1)
    assert augment_sentence("one", random.Random(0), p_delete=0.99) == "one"  # never empty
    with pytest.raises(ValueError, match="p_delete"):
        augment(texts, labels, p_delete=1.0)
