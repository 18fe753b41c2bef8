"""How good are word vectors? Analogies (3CosAdd, 3CosMul), similarity rankings (Spearman), neighbours.

Every score comes with its coverage: the share of questions/pairs whose words are all in the vocabulary
(scores are computed on the covered part only, as gensim does; compare coverage before comparing scores).

    results = evaluate_all(vectors)   # Google analogies, WordSim353, SimLex-999
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

EVAL_SETS = {"analogies": "questions-words.txt", "wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}


class Vectors(Protocol):
    words: list[str]
    index: dict[str, int]
    unit: np.ndarray


def eval_set_path(name: str) -> Path:
    """Path of a bundled evaluation set: 'analogies', 'wordsim353' or 'simlex999' (shipped by gensim)."""
    from lmlab.data import eval_set_path as data_eval_set_path

    return Path(data_eval_set_path(name))


@dataclass
class AnalogyResult:
    accuracy: float  # on covered questions
    correct: int
    covered: int
    total: int
    method: str
    sections: dict[str, float]

    @property
    def coverage(self) -> float:
        return self.covered / self.total if self.total else 0.0


@dataclass
class SimilarityResult:
    spearman: float
    pearson: float
    covered: int
    total: int
    name: str

    @property
    def coverage(self) -> float:
        return self.covered / self.total if self.total else 0.0


def read_analogies(path: str | os.PathLike | None = None) -> list[tuple[str, tuple[str, str, str, str]]]:
    """(section, (a, b, c, d)) rows of the Google analogy set: a is to b as c is to d."""
    path = Path(path) if path else eval_set_path("analogies")
    rows, section = [], ""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
        elif line.strip():
            parts = line.lower().split()
            if len(parts) == 4:
                rows.append((section, (parts[0], parts[1], parts[2], parts[3])))
    return rows


def analogy(vectors: Vectors, a: str, b: str, c: str, topn: int = 1, method: str = "3cosadd",
            restrict: int | None = None) -> list[tuple[str, float]]:
    """d = argmax over words of cos(d, b − a + c) (3CosAdd) or cos(d,b)·cos(d,c)/(cos(d,a)+ε) (3CosMul,
    cosines shifted to [0, 1]); a, b, c themselves are excluded. "man : king :: woman : ?"."""
    missing = [w for w in (a, b, c) if w not in vectors.index]
    if missing:
        raise KeyError(f"word {missing[0]!r} is not in the vocabulary ({len(vectors.words)} words)")
    unit = vectors.unit[:restrict] if restrict else vectors.unit
    ia, ib, ic = (vectors.index[w] for w in (a, b, c))
    scores = _analogy_scores(unit, vectors.unit[[ia]], vectors.unit[[ib]], vectors.unit[[ic]], method)[0]
    for i in (ia, ib, ic):
        if i < len(scores):
            scores[i] = -np.inf
    order = np.argsort(-scores)[:topn]
    return [(vectors.words[i], float(scores[i])) for i in order]


def _analogy_scores(unit: np.ndarray, A: np.ndarray, B: np.ndarray, C: np.ndarray, method: str) -> np.ndarray:
    if method == "3cosadd":
        return (B - A + C) @ unit.T  # ranking by this dot equals ranking by cosine with b − a + c
    if method == "3cosmul":
        def pos(x: np.ndarray) -> np.ndarray:
            return (1.0 + x @ unit.T) / 2.0
        return pos(B) * pos(C) / (pos(A) + 1e-3)
    raise ValueError(f"unknown analogy method {method!r}; use '3cosadd' or '3cosmul'")


def evaluate_analogies(vectors: Vectors, path: str | os.PathLike | None = None, method: str = "3cosadd",
                       restrict: int | None = 300_000, batch: int = 512) -> AnalogyResult:
    """Accuracy of d = top-1 answer on the covered questions (all four words in the first ``restrict``
    words of the vocabulary, as gensim's ``evaluate_word_analogies``)."""
    rows = read_analogies(path)
    allowed = {w: i for w, i in vectors.index.items() if restrict is None or i < restrict}
    unit = vectors.unit[:restrict] if restrict else vectors.unit
    covered = [(s, q) for s, q in rows if all(w in allowed for w in q)]
    correct_by_section: dict[str, list[int]] = {}
    correct = 0
    for start in range(0, len(covered), batch):
        chunk = covered[start:start + batch]
        idx = np.array([[allowed[w] for w in q] for _, q in chunk])  # (n, 4)
        scores = _analogy_scores(unit, unit[idx[:, 0]], unit[idx[:, 1]], unit[idx[:, 2]], method)
        rows_n = np.arange(len(chunk))
        for col in range(3):
            scores[rows_n, idx[:, col]] = -np.inf
        hit = scores.argmax(axis=1) == idx[:, 3]
        correct += int(hit.sum())
        for (section, _), h in zip(chunk, hit, strict=True):
            correct_by_section.setdefault(section, []).append(int(h))
    sections = {s: float(np.mean(v)) for s, v in correct_by_section.items()}
    return AnalogyResult(accuracy=correct / len(covered) if covered else 0.0, correct=correct,
                         covered=len(covered), total=len(rows), method=method, sections=sections)


def read_similarity_pairs(path: str | os.PathLike) -> list[tuple[str, str, float]]:
    """(word1, word2, human score) rows; '#' comment lines and a header line are skipped."""
    pairs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        try:
            pairs.append((parts[0].lower(), parts[1].lower(), float(parts[2])))
        except (IndexError, ValueError):
            continue  # a header such as 'word1 word2 SimLex999'
    return pairs


def evaluate_similarity(vectors: Vectors, name_or_path: str = "wordsim353") -> SimilarityResult:
    """Spearman (and Pearson) correlation between cos(v_a, v_b) and human ratings, on covered pairs."""
    path = eval_set_path(name_or_path) if name_or_path in EVAL_SETS else Path(name_or_path)
    if not Path(path).exists():
        raise FileNotFoundError(f"similarity set {str(name_or_path)!r} not found; use wordsim353, simlex999 "
                                "or a path to a tab-separated 'word1<TAB>word2<TAB>score' file")
    pairs = read_similarity_pairs(path)
    ours, human = [], []
    for a, b, score in pairs:
        if a in vectors.index and b in vectors.index:
            ours.append(float(vectors.unit[vectors.index[a]] @ vectors.unit[vectors.index[b]]))
            human.append(score)
    if len(ours) < 3:
        return SimilarityResult(float("nan"), float("nan"), len(ours), len(pairs), Path(path).stem)
    from scipy.stats import pearsonr, spearmanr

    return SimilarityResult(spearman=float(spearmanr(ours, human).statistic),
                            pearson=float(pearsonr(ours, human).statistic),
                            covered=len(ours), total=len(pairs), name=Path(path).stem)


def nearest_neighbors(vectors: Vectors, word: str, topn: int = 10) -> list[tuple[str, float]]:
    """The ``topn`` words with the highest cosine to ``word`` (itself excluded)."""
    if word not in vectors.index:
        raise KeyError(f"word {word!r} is not in the vocabulary ({len(vectors.words)} words)")
    scores = vectors.unit @ vectors.unit[vectors.index[word]]
    scores[vectors.index[word]] = -np.inf
    order = np.argsort(-scores)[:topn]
    return [(vectors.words[i], float(scores[i])) for i in order]


def evaluate_all(vectors: Vectors, analogy_methods: Sequence[str] = ("3cosadd", "3cosmul")) -> dict:
    """All scores as one flat JSON-ready dict (what ``metrics.json`` and the benchmark report)."""
    out: dict[str, float | int] = {}
    for name in ("wordsim353", "simlex999"):
        r = evaluate_similarity(vectors, name)
        out[f"{name}_spearman"] = r.spearman
        out[f"{name}_coverage"] = r.coverage
    for method in analogy_methods:
        r = evaluate_analogies(vectors, method=method)
        out[f"analogy_{method}_accuracy"] = r.accuracy
        out["analogy_coverage"] = r.coverage
    return out


def as_dict(result: AnalogyResult | SimilarityResult) -> dict:
    d = asdict(result)
    d["coverage"] = result.coverage
    return d
