"""Byte-level BPE: a short from-scratch version that shows every merge, and a fast library one.

    bpe = BytePairEncoding.train("low lower lowest", n_merges=5)
    bpe.merges                             # [((108, 111), 256), ...]: "l"+"o" became token 256, ...
    bpe.encode_and_show_work("lowest")     # the byte ids, then each merge applied in rank order

``BytePairEncoding`` (kind "bpe_scratch") is for reading and small texts; ``FastBPETokenizer`` (kind
"bpe", Hugging Face ``tokenizers``, Rust) trains on a whole corpus in about a second and is what
``lmlab train gpt --tokenizer bpe`` uses. Both start from the 256 byte values, so any text encodes.
Neither imports the registry: ``lmlab.tokenizers.get("bpe")`` imports this module and registers them.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise
from typing import Any

# GPT-2's pre-tokenizer: merges never cross these chunks (words with their leading space, numbers, ...).
# [^\W\d_] is "a letter" in Python's re (GPT-2 writes \p{L} with the regex module).
GPT2_SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+|_+""")


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of ``pair`` in ``ids`` (left to right) by ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BytePairEncoding:
    """From scratch: start from UTF-8 bytes (ids 0..255), repeatedly merge the most frequent pair."""

    kind = "bpe_scratch"

    def __init__(self, merges: list[tuple[tuple[int, int], int]]) -> None:
        self.merges = [((int(a), int(b)), int(n)) for (a, b), n in merges]
        self.ranks = {pair: rank for rank, (pair, _) in enumerate(self.merges)}
        self.pair_to_id = {pair: new_id for pair, new_id in self.merges}
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges:
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]

    @classmethod
    def train(cls, text: str, n_merges: int, verbose: bool = False) -> BytePairEncoding:
        """Learn ``n_merges`` merges from ``text`` (counted once per distinct chunk, times its count)."""
        if not text:
            raise ValueError("cannot learn BPE merges from empty text")
        if n_merges < 0:
            raise ValueError(f"n_merges must be >= 0, got {n_merges}")
        words = Counter(tuple(chunk.encode("utf-8")) for chunk in GPT2_SPLIT.findall(text))
        merges: list[tuple[tuple[int, int], int]] = []
        for step in range(n_merges):
            pairs: Counter = Counter()
            for word, count in words.items():
                for pair in pairwise(word):
                    pairs[pair] += count
            if not pairs:
                break  # every chunk is a single token already
            pair, freq = max(pairs.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))
            new_id = 256 + step
            merges.append((pair, new_id))
            words = Counter({tuple(merge_pair(list(w), pair, new_id)): c for w, c in words.items()})
            if verbose:
                from lmlab.i18n import _  # here, not at the top: the tokenizers stay free of lmlab.i18n

                print(_("merge {step}: {pair} -> {new_id} {token!r} ({freq} times)").format(
                    step=step + 1, pair=pair, new_id=new_id, token=cls._show(merges, new_id), freq=freq))
        return cls(merges)

    @staticmethod
    def _show(merges: list[tuple[tuple[int, int], int]], token: int) -> str:
        return BytePairEncoding(merges).token_text(token)

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

    def token_text(self, token: int) -> str:
        """What a token stands for, as text (partial UTF-8 shown with replacement characters)."""
        return self.vocab[token].decode("utf-8", errors="replace")

    def _encode_chunk(self, ids: list[int], steps: list[dict[str, Any]] | None = None) -> list[int]:
        while len(ids) >= 2:
            # apply the earliest-learned merge present: the order training learned them in
            pair = min(pairwise(ids), key=lambda p: self.ranks.get(p, float("inf")))
            if pair not in self.ranks:
                break
            ids = merge_pair(ids, pair, self.pair_to_id[pair])
            if steps is not None:
                steps.append({"merge": pair, "new_id": self.pair_to_id[pair],
                              "new_token": self.token_text(self.pair_to_id[pair]),
                              "tokens": [self.token_text(i) for i in ids]})
        return ids

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        for chunk in GPT2_SPLIT.findall(text):
            out.extend(self._encode_chunk(list(chunk.encode("utf-8"))))
        return out

    def encode_and_show_work(self, text: str) -> list[dict[str, Any]]:
        """One entry per chunk: its bytes, every merge applied (in order), and the final tokens."""
        work = []
        for chunk in GPT2_SPLIT.findall(text):
            steps: list[dict[str, Any]] = []
            ids = self._encode_chunk(list(chunk.encode("utf-8")), steps)
            work.append({"chunk": chunk, "bytes": list(chunk.encode("utf-8")), "steps": steps, "ids": ids,
                         "tokens": [self.token_text(i) for i in ids]})
        return work

    def decode(self, ids: list[int]) -> str:
        try:
            data = b"".join(self.vocab[i] for i in ids)
        except KeyError as err:
            raise ValueError(f"token id {err.args[0]} is not in this vocabulary of "
                             f"{self.vocab_size}") from None
        return data.decode("utf-8", errors="replace")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "merges": [[a, b, n] for (a, b), n in self.merges]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BytePairEncoding:
        return cls([((a, b), n) for a, b, n in data["merges"]])


class FastBPETokenizer:
    """Byte-level BPE trained with Hugging Face ``tokenizers`` (GPT-2's scheme, learned on your corpus)."""

    kind = "bpe"

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer

    @classmethod
    def train(cls, text: str, vocab_size: int = 512) -> FastBPETokenizer:
        """Learn a vocabulary of ``vocab_size`` tokens (>= 257: the 256 bytes plus at least one merge)."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        if not text:
            raise ValueError("cannot train a BPE tokenizer on empty text")
        if vocab_size < 257:
            raise ValueError(f"vocab_size={vocab_size} is too small for byte-level BPE; use at least 257 "
                             "(256 byte tokens + merges), e.g. 512 for characters-and-syllables")
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=[],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        chunk = 1 << 16
        tok.train_from_iterator((text[i:i + chunk] for i in range(0, len(text), chunk)), trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text).ids

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(list(ids))

    def tokens(self, text: str) -> list[str]:
        """The pieces as text (GPT-2's byte alphabet: a leading 'Ġ' is a space)."""
        return self._tok.encode(text).tokens

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "json": self._tok.to_str()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FastBPETokenizer:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(data["json"]))


if __name__ == "__main__":
    bpe = BytePairEncoding.train("low lower lowest newer newest wider widest " * 3, n_merges=8, verbose=True)
    for entry in bpe.encode_and_show_work("lowest widest"):
        print(entry["chunk"], entry["bytes"], "->", entry["tokens"])
        for s in entry["steps"]:
            print("   merge", s["merge"], "->", s["new_id"], repr(s["new_token"]), s["tokens"])
