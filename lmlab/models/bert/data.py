"""MLM training data: the corpus as one id stream, random windows as [CLS] window [SEP], optional words."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmlab.models.bert.vocab import BertVocab
from lmlab.train.batches import random_windows


@dataclass
class MLMData:
    """Token ids of the training and validation text; ``*_words``: word number per token (or None)."""

    train: torch.Tensor  # (N_train,) int64
    val: torch.Tensor  # (N_val,)
    train_words: torch.Tensor | None = None
    val_words: torch.Tensor | None = None

    @classmethod
    def from_text(cls, train_text: str, val_text: str, vocab: BertVocab,
                  whole_word: bool = False) -> MLMData:
        """Encode both splits; ``whole_word`` segments them with jieba (char tokenizers only)."""
        train = torch.tensor(vocab.encode(train_text), dtype=torch.long)
        val = torch.tensor(vocab.encode(val_text), dtype=torch.long)
        words = (None, None)
        if whole_word:
            if vocab.base.kind != "char":
                raise ValueError("whole-word masking segments characters into words; use --tokenizer char "
                                 "with --whole-word (a BPE token is already part of a word)")
            from lmlab.models.bert.masking import word_index

            words = (word_index(train_text), word_index(val_text))
            if len(words[0]) != len(train) or len(words[1]) != len(val):  # "[MASK]" written in the text
                raise ValueError("whole-word masking needs one token per character, but the text holds "
                                 "special token names such as [MASK]; remove them from the corpus")
        return cls(train, val, *words)

    def check_block_size(self, block_size: int) -> None:
        for name, ids in (("training", self.train), ("validation", self.val)):
            if len(ids) < block_size:
                raise ValueError(f"block_size={block_size} is too large for the {name} split of {len(ids)} "
                                 f"tokens; use --block-size below {len(ids)} or a larger corpus")

    def batch(self, split: str, batch_size: int, block_size: int, generator: torch.Generator,
              vocab: BertVocab) -> tuple[torch.Tensor, torch.Tensor | None]:
        """ids (B, block_size) = [CLS] + block_size-2 tokens + [SEP]; word ids (B, block_size) or None."""
        ids = self.train if split == "train" else self.val
        words = self.train_words if split == "train" else self.val_words
        n = block_size - 2
        # lmlab's one window sampler, run on positions: x and y together are n consecutive positions
        x_pos, y_pos = random_windows(torch.arange(len(ids)), batch_size, n - 1, generator)
        offsets = torch.cat([x_pos, y_pos[:, -1:]], dim=1)  # (B, n)
        starts = offsets[:, 0]
        B = batch_size
        cls = torch.full((B, 1), vocab.cls_id, dtype=torch.long)
        sep = torch.full((B, 1), vocab.sep_id, dtype=torch.long)
        x = torch.cat([cls, ids[offsets], sep], dim=1)  # (B, T)
        if words is None:
            return x, None
        w = words[offsets] - words[starts][:, None] + 1  # words numbered 1.. within the window
        w = torch.cat([torch.zeros(B, 1, dtype=torch.long), w, torch.zeros(B, 1, dtype=torch.long)], dim=1)
        return x, w.clamp(max=block_size - 1)
