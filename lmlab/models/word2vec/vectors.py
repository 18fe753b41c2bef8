"""Trained word vectors: look-up, cosine neighbours, and the word2vec text format (gensim can read it)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lmlab.atomic import atomic_write


class WordVectors:
    """A vocabulary and one row per word: ``wv["king"]``, ``wv.most_similar("king")``."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"need one vector per word: {len(words)} words but vectors of shape "
                             f"{vectors.shape}")
        self.words = list(words)
        self.vectors = vectors  # (V, D)
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("the word list has duplicates; each word needs exactly one vector")
        self._unit: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.key(word)]

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def key(self, word: str) -> int:
        """Row of ``word``; an unknown word is an error that suggests close spellings."""
        try:
            return self.index[word]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(word, self.words[:50_000], n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"word {word!r} is not in the vocabulary ({len(self)} words){hint}") from None

    @property
    def unit(self) -> np.ndarray:
        """Rows scaled to length 1, so a dot product is a cosine."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.maximum(norms, 1e-8)
        return self._unit

    def similarity(self, a: str, b: str) -> float:
        """cos(v_a, v_b)."""
        return float(self.unit[self.key(a)] @ self.unit[self.key(b)])

    def most_similar(self, positive: str | Sequence[str] | np.ndarray, negative: Sequence[str] = (),
                     topn: int = 10) -> list[tuple[str, float]]:
        """Nearest words by cosine to a word, a vector, or Σ positive − Σ negative (query words excluded)."""
        if isinstance(positive, np.ndarray):
            query, exclude = positive.astype(np.float32), set()
        else:
            pos = [positive] if isinstance(positive, str) else list(positive)
            query = sum(self.unit[self.key(w)] for w in pos) - sum(
                (self.unit[self.key(w)] for w in negative), np.zeros(self.dim, np.float32))
            exclude = {self.index[w] for w in [*pos, *negative]}
        query = query / max(float(np.linalg.norm(query)), 1e-8)
        scores = self.unit @ query
        order = np.argsort(-scores)[: topn + len(exclude)]
        return [(self.words[i], float(scores[i])) for i in order if i not in exclude][:topn]

    def save_word2vec_format(self, path: str | os.PathLike) -> Path:
        """The word2vec text format: a header ``V D``, then ``word x1 x2 ...`` per line."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        for w in self.words:
            if not w or any(c.isspace() for c in w):
                raise ValueError(f"word {w!r} contains whitespace and cannot be written in the text format")
        with atomic_write(path) as f:
            f.write(f"{len(self)} {self.dim}\n")
            for word, row in zip(self.words, self.vectors, strict=True):
                f.write(word + " " + " ".join(f"{x:.6g}" for x in row) + "\n")
        return path

    @classmethod
    def load_word2vec_format(cls, path: str | os.PathLike) -> WordVectors:
        """Read the text format written by ``save_word2vec_format``, gensim or the C tool."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"vectors file {str(path)!r} does not exist; check the path "
                                    "('lmlab train word2vec --out DIR' writes DIR/vectors.txt)")
        with open(path, encoding="utf-8") as f:
            header = f.readline().split()
            if len(header) != 2 or not all(h.isdigit() for h in header):
                raise ValueError(f"{str(path)!r} has header {' '.join(header)!r}; the word2vec text format "
                                 "starts with a line 'VOCAB_SIZE DIM', e.g. '10000 100'")
            n, dim = int(header[0]), int(header[1])
            words, rows = [], np.empty((n, dim), dtype=np.float32)
            for i, line in enumerate(f):
                if i >= n:
                    raise ValueError(f"{str(path)!r} has more than the {n} vectors its header announces")
                parts = line.rstrip("\n").rstrip().split(" ")
                if len(parts) != dim + 1:
                    raise ValueError(f"{str(path)!r} line {i + 2} has {len(parts) - 1} numbers, "
                                     f"the header says {dim}")
                words.append(parts[0])
                rows[i] = np.array(parts[1:], dtype=np.float32)
        if len(words) != n:
            raise ValueError(f"{str(path)!r} has {len(words)} vectors but its header announces {n}")
        return cls(words, rows)
