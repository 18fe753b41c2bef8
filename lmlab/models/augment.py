"""Text data augmentation for the classifier: new training sentences made by small edits of real ones.

EDA (Wei & Zou, 2019) without a thesaurus: each copy randomly **deletes** words (each with probability
p) and **swaps** a few neighbouring pairs. The label stays; the model sees more ways of saying the
same thing. It helps most with tiny training sets and can hurt when an edit flips the meaning
("not good" -> "good"), so its effect is measured, not assumed (notebook 08).
"""

from __future__ import annotations

import random


def augment_sentence(text: str, rng: random.Random, p_delete: float = 0.1, n_swaps: int = 1) -> str:
    """One edited copy: each word dropped with probability ``p_delete``, then ``n_swaps`` random swaps."""
    words = text.split()
    kept = [w for w in words if rng.random() >= p_delete] or words[:1]
    for _ in range(n_swaps if len(kept) > 1 else 0):
        i, j = rng.randrange(len(kept)), rng.randrange(len(kept))
        kept[i], kept[j] = kept[j], kept[i]
    return " ".join(kept)


def augment(texts: list[str], labels: list[int], copies: int = 1, *, p_delete: float = 0.1,
            n_swaps: int = 1, seed: int = 0) -> tuple[list[str], list[int]]:
    """The originals followed by ``copies`` edited versions of each (labels repeated)."""
    if copies < 0 or not 0.0 <= p_delete < 1.0:
        raise ValueError(f"need copies >= 0 and 0 <= p_delete < 1, got copies={copies}, p_delete={p_delete}")
    rng = random.Random(seed)
    out_t, out_y = list(texts), list(labels)
    for _ in range(copies):
        for t, y in zip(texts, labels, strict=True):
            out_t.append(augment_sentence(t, rng, p_delete, n_swaps))
            out_y.append(y)
    return out_t, out_y
