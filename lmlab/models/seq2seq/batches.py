"""Pairs as padded id tensors, and the batch of iteration ``it`` (seeded by (seed, it): a resumed run sees
the batches an uninterrupted one would).

    src     = x_1 .. x_S                 <pad> ...
    tgt_in  = <s> y_1 .. y_n              <pad> ...    what the decoder reads (teacher forcing)
    tgt_out = y_1 .. y_n </s>             <pad> ...    what it must predict: tgt_in shifted by one
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmlab.models.seq2seq.couplets import Pair
from lmlab.models.seq2seq.vocab import BOS, EOS, PAD, Seq2SeqVocab


@dataclass
class PairTensors:
    """All pairs of one split: src (N, S_max), tgt (N, T_max + 2) = <s> y </s> <pad>..."""

    src: torch.Tensor
    tgt: torch.Tensor

    @classmethod
    def from_pairs(cls, pairs: list[Pair], vocab: Seq2SeqVocab, max_len: int) -> PairTensors:
        too_long = [i for i, (a, b) in enumerate(pairs) if len(a) > max_len or len(b) + 1 > max_len]
        if too_long:
            a, b = pairs[too_long[0]]
            raise ValueError(f"{len(too_long)} pair(s) are longer than max_len={max_len} (first: {a!r} -> "
                             f"{b!r}); raise --max-len or drop the long pairs")
        S = max(len(a) for a, _ in pairs)
        T = max(len(b) for _, b in pairs) + 2
        src = torch.full((len(pairs), S), PAD, dtype=torch.long)
        tgt = torch.full((len(pairs), T), PAD, dtype=torch.long)
        for i, (a, b) in enumerate(pairs):
            src[i, :len(a)] = torch.tensor(vocab.encode(a))
            tgt[i, :len(b) + 2] = torch.tensor([BOS, *vocab.encode(b), EOS])
        return cls(src, tgt)

    def __len__(self) -> int:
        return self.src.size(0)

    def rows(self, index: torch.Tensor, device: torch.device | str = "cpu"
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(src, tgt_in, tgt_out) of the given rows, trimmed to the longest row (less padding)."""
        src, tgt = self.src[index], self.tgt[index]
        s_len = int((src != PAD).sum(1).max())
        t_len = int((tgt != PAD).sum(1).max())
        src, tgt = src[:, :s_len], tgt[:, :t_len]
        return src.to(device), tgt[:, :-1].to(device), tgt[:, 1:].to(device)

    def batch(self, generator: torch.Generator, batch_size: int, device: torch.device | str = "cpu"):
        """Random rows drawn from ``generator`` (``step_generator(seed, it)``: the same on every resume)."""
        index = torch.randint(len(self), (batch_size,), generator=generator)
        return self.rows(index, device)
