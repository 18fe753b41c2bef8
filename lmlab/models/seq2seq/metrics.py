"""Scores of generated couplets: sacrebleu's BLEU and chrF at the character level (both run 0–100), BLEU
by hand, bootstrap intervals, three baselines (copy the source; answer with the target of the most similar
training source; the per-position lookup table of ``lookup.py``) and the checks a reader of couplets cares
about (same length; no character repeated from the source at the same place; ``couplet_rules.py``).

    BLEU = BP · exp(¼ Σ_{n=1..4} log p_n),  p_n = clipped matching n-grams / n-grams in the hypotheses,
    BP = min(1, exp(1 - r / c))  (r, c: total reference and hypothesis lengths)
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from lmlab.models.seq2seq.couplets import Pair


def bleu_chrf(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU (sacrebleu, tokenize='zh': every Chinese character a token) and chrF (characters)."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references; give one each")
    if not hypotheses:
        raise ValueError("no hypotheses to score")
    bleu = sacrebleu.corpus_bleu(hypotheses, [references], tokenize="zh")
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])
    return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2)}


def _metrics():
    from sacrebleu.metrics import BLEU, CHRF

    return {"chrf": CHRF(), "bleu": BLEU(tokenize="zh")}


def _line_statistics(name: str, outputs: list[str], references: list[str]):
    """sacrebleu's per-line statistics of metric ``name`` (n, k) and the corpus score of their sum: what a
    bootstrap resamples and rescores."""
    metric = _metrics()[name]
    stats = np.array(metric._extract_corpus_statistics(outputs, [references]), dtype=np.float64)
    as_int = name == "bleu"  # BLEU's statistics are counts

    def score(row) -> float:
        return float(metric._compute_score_from_stats([int(x) if as_int else x for x in row]).score)
    return stats, score


def scores_with_intervals(sources: list[str], outputs: list[str], references: list[str], n_boot: int = 1000,
                          seed: int = 0) -> dict[str, float | tuple[float, float]]:
    """chrF and BLEU (0–100, sacrebleu) and the couplet score (0–100, reference-free), each with its 95%
    bootstrap interval over the test lines: {"chrf": x, "chrf_ci": (lo, hi), …}."""
    from lmlab.eval.bootstrap import bootstrap_corpus, bootstrap_mean
    from lmlab.models.seq2seq.couplet_rules import per_line_score

    if not (len(sources) == len(outputs) == len(references)) or not outputs:
        raise ValueError(f"need one output and one reference per source (and at least one), got "
                         f"{len(sources)} sources, {len(outputs)} outputs, {len(references)} references")
    out: dict[str, float | tuple[float, float]] = {}
    for name in _metrics():
        stats, score = _line_statistics(name, outputs, references)
        out[name] = round(score(stats.sum(0)), 2)
        lo, hi = bootstrap_corpus(stats, score, n_boot=n_boot, seed=seed)
        out[f"{name}_ci"] = (round(lo, 2), round(hi, 2))
    per_line = per_line_score(sources, outputs)
    out["couplet"] = round(float(per_line.mean()), 2)
    lo, hi = bootstrap_mean(per_line, n_boot=n_boot, seed=seed)
    out["couplet_ci"] = (round(lo, 2), round(hi, 2))
    return out


def paired_chrf(outputs_a: list[str], outputs_b: list[str], references: list[str], n_boot: int = 1000,
                seed: int = 0) -> dict[str, float | tuple[float, float]]:
    """chrF of system a minus chrF of system b on the same references, with its 95% paired bootstrap
    interval: {"diff": d, "diff_ci": (lo, hi)}. a is better on these lines when lo > 0."""
    from lmlab.eval.bootstrap import bootstrap_corpus_difference

    if not (len(outputs_a) == len(outputs_b) == len(references)) or not references:
        raise ValueError(f"need both systems' answers to the same references (and at least one), got "
                         f"{len(outputs_a)} and {len(outputs_b)} answers for {len(references)} references")
    stats_a, score = _line_statistics("chrf", outputs_a, references)
    stats_b, _ = _line_statistics("chrf", outputs_b, references)
    lo, hi = bootstrap_corpus_difference(stats_a, stats_b, score, n_boot=n_boot, seed=seed)
    diff = score(stats_a.sum(0)) - score(stats_b.sum(0))
    return {"diff": round(diff, 2), "diff_ci": (round(lo, 2), round(hi, 2))}


def ngrams(chars: str, n: int) -> Counter:
    return Counter(chars[i:i + n] for i in range(len(chars) - n + 1))


def bleu_by_hand(hypotheses: list[str], references: list[str], max_n: int = 4) -> float:
    """BLEU × 100 from the formula above, characters as tokens (no smoothing: every p_n must be > 0)."""
    matches, totals = [0] * max_n, [0] * max_n
    for hyp, ref in zip(hypotheses, references, strict=True):
        for n in range(1, max_n + 1):
            h, r = ngrams(hyp, n), ngrams(ref, n)
            matches[n - 1] += sum(min(c, r[g]) for g, c in h.items())  # clipped by the reference's count
            totals[n - 1] += sum(h.values())
    if min(matches) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / max_n
    c, r = sum(len(h) for h in hypotheses), sum(len(x) for x in references)
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return 100 * bp * math.exp(log_p)


def couplet_checks(sources: list[str], outputs: list[str]) -> dict[str, float]:
    """length_match: share of outputs as long as their source; same_position_repeats: share of positions
    where the output repeats the source's character (a good 下联 almost never does)."""
    same_len = [len(o) == len(s) for s, o in zip(sources, outputs, strict=True)]
    repeats, positions = 0, 0
    for s, o in zip(sources, outputs, strict=True):
        n = min(len(s), len(o))
        repeats += sum(s[i] == o[i] for i in range(n))
        positions += n
    return {"length_match": round(float(np.mean(same_len)), 4) if same_len else 0.0,
            "same_position_repeats": round(repeats / positions, 4) if positions else 0.0}


def copy_baseline(sources: list[str]) -> list[str]:
    """Answer every 上联 with itself: every character repeated in place, the length always right."""
    return list(sources)


class NearestPair:
    """Answer with the target of the training source that shares the most characters (the same character
    at the same position counts twice): retrieval, no learning beyond a lookup."""

    def __init__(self, train: list[Pair]) -> None:
        from scipy.sparse import csr_matrix

        self.targets = [b for _, b in train]
        self.features: dict[str, int] = {}
        rows = [self._feats(a, grow=True) for a, _ in train]
        self.matrix = csr_matrix(self._rows(rows, len(self.features)))

    def _feats(self, text: str, grow: bool = False) -> list[int]:
        out = []
        for key in [c for c in text] + [f"{i}:{c}" for i, c in enumerate(text)]:
            if key not in self.features and grow:
                self.features[key] = len(self.features)
            if key in self.features:
                out.append(self.features[key])
        return out

    @staticmethod
    def _rows(rows: list[list[int]], n_cols: int):
        from scipy.sparse import coo_matrix

        r = [i for i, f in enumerate(rows) for _ in f]
        c = [j for f in rows for j in f]
        return coo_matrix((np.ones(len(c), dtype=np.float32), (r, c)), shape=(len(rows), n_cols))

    def __call__(self, sources: list[str], chunk: int = 512) -> list[str]:
        from scipy.sparse import csr_matrix

        out = []
        for i in range(0, len(sources), chunk):
            q = csr_matrix(self._rows([self._feats(s) for s in sources[i:i + chunk]], len(self.features)))
            best = np.asarray((q @ self.matrix.T).argmax(axis=1)).ravel()  # (chunk,)
            out.extend(self.targets[j] for j in best)
        return out


def baseline_answers(train: list[Pair], sources: list[str]) -> dict[str, list[str]]:
    """The three baselines' answers: copy the source, the nearest training pair, the lookup table."""
    from lmlab.models.seq2seq.lookup import LookupTable

    return {"copy_source": copy_baseline(sources), "nearest_pair": NearestPair(train)(sources),
            "lookup_table": LookupTable(train)(sources)}


def baselines(train: list[Pair], test: list[Pair]) -> dict[str, dict[str, float]]:
    """BLEU, chrF and couplet checks of the three baselines on the test pairs."""
    sources, refs = [a for a, _ in test], [b for _, b in test]
    out = {}
    answers = baseline_answers(train, sources)
    for name, outputs in answers.items():
        out[name] = {**bleu_chrf(outputs, refs), **couplet_checks(sources, outputs)}
    return out
