"""Fill in the blank (完形填空): the MLM's top-k guesses for every [MASK] in a line.

    fill_mask(model, vocab, "床前明[MASK]光")   # [[("月", 0.62), ("日", 0.05), ...]]
"""

from __future__ import annotations

import torch

from lmlab.models.bert.vocab import BertVocab
from lmlab.say import learner_text

MASK = "[MASK]"


def masked_ids(vocab: BertVocab, text: str, block_size: int) -> torch.Tensor:
    """(1, T) ids of [CLS] text [SEP], checked: at least one [MASK], and all of it within the context."""
    ids = vocab.encode(text)
    n_masks = ids.count(vocab.mask_id)
    if n_masks == 0:
        raise ValueError(learner_text("no {mask} in {text!r}: write {mask} where the missing token goes, "
                                      "e.g. '床前明{mask}光'", mask=MASK, text=text))
    if n_masks > block_size - 2:
        raise ValueError(learner_text("{n} masks but the model's context holds only {room} tokens besides "
                                      "[CLS] and [SEP]; use fewer masks", n=n_masks, room=block_size - 2))
    if len(ids) + 2 > block_size:
        raise ValueError(learner_text("the line is {n} tokens long, more than the {room} the context holds "
                                      "besides [CLS] and [SEP]; shorten it around the mask", n=len(ids),
                                      room=block_size - 2))
    return torch.tensor([vocab.wrap(ids)])


@torch.no_grad()
def fill_mask(model: torch.nn.Module, vocab: BertVocab, text: str,
              k: int = 5) -> list[list[tuple[str, float]]]:
    """For each [MASK], left to right: the k most probable tokens and their probabilities.

    Special tokens are never proposed; every mask is predicted in the same single pass (BERT does not
    fill one blank, then condition on it, as a causal LM would).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    x = masked_ids(vocab, text, model.config.block_size).to(device)
    logits, _ = model(x)  # (1, T, V)
    model.train(was)
    logits = logits[0, x[0] == vocab.mask_id].float()  # (n_masks, V)
    logits[:, vocab.base.vocab_size:] = float("-inf")  # never [PAD], [CLS], ...
    probs = torch.softmax(logits, dim=-1)
    top = probs.topk(min(k, vocab.base.vocab_size), dim=-1)
    return [[(vocab.token(int(i)), float(p)) for p, i in zip(ps, ids, strict=True)]
            for ps, ids in zip(top.values, top.indices, strict=True)]
