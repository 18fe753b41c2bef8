""""Predict, then run": one question per notebook, each aimed at a misconception the lessons' sources name.

The learner commits to ``prediction = ...`` before the measuring cell runs; afterwards
``check("topic.predict_x", prediction, measured=...)`` compares it with what that cell measured and explains,
right or wrong (see :func:`lmlab.exercises.prediction`). Each ``outcome`` below turns the measurement into the
right option (or number); ``example`` is a measurement of the kind the notebook passes, for the tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from lmlab.exercises import prediction
from lmlab.i18n import N_


def _pair(measured: Sequence[float]) -> tuple[float, float]:
    a, b = measured
    return float(a), float(b)


# ---------------------------------------------------------------- 00 · temperature

@prediction("welcome.predict_temperature",
            options={"a": N_("yes: a low temperature picks a different, better character"),
                     "b": N_("no: every temperature keeps the same order, only the spread changes")},
            hint="temperature does not make the model know more: dividing every logit by the same τ > 0 "
                 "never changes which is largest, so it only trades safety against variety",
            explain="logits / τ keeps their order for any τ > 0: the most likely character is the same at "
                    "τ = 0.5 and τ = 2; only how much probability it gets changes.",
            example=True)
def _temperature_outcome(same_order: bool) -> str:
    return "b" if bool(same_order) else "a"


# ---------------------------------------------------------------- 01 · Zipf

@prediction("word2vec.predict_top10_share", tolerance=8.0,
            hint="a text is not mostly content words: a handful of function words (the, of, and, in, a) "
                 "make up a large share of every text — which is why word2vec sub-samples them",
            explain="The share is the sum of the 10 largest counts over all words (in percent). Zipf's law "
                    "makes the first few ranks huge: these ten words carry little meaning and are seen "
                    "everywhere, so word2vec drops many of their occurrences (section 2).",
            example=24.0)
def _top10_outcome(share_percent: float) -> float:
    return float(share_percent)


# ---------------------------------------------------------------- 02 · the cell state's memory

@prediction("lstm.predict_memory",
            options={"a": N_("more than 100 characters: the cell state remembers the whole passage"),
                     "b": N_("between 10 and 100 characters"),
                     "c": N_("fewer than 10 characters")},
            hint="the cell state is not a memory of everything read so far: each step multiplies it by the "
                 "forget gate, so what it holds fades unless f stays very close to 1",
            explain="The half-life of a unit is ln 0.5 / ln f̄, with f̄ its forget gate averaged over the "
                    "passage (as in Exercise 1). The number measured is the median over the layer's units: "
                    "a few units may keep f near 1 and remember long, most forget much sooner.",
            example=[0.6, 0.9, 0.97, 0.5])
def _memory_outcome(mean_forget: Sequence[float]) -> str:
    halves = sorted(math.log(0.5) / math.log(min(max(float(f), 1e-6), 1 - 1e-9)) for f in mean_forget)
    median = halves[len(halves) // 2]
    return "a" if median > 100 else "b" if median >= 10 else "c"


# ---------------------------------------------------------------- 03 · the race

@prediction("transformer.predict_race",
            options={"a": N_("the GPT, by more than 0.05 nats"),
                     "b": N_("the LSTM, by more than 0.05 nats"),
                     "c": N_("neither: within 0.05 nats of each other")},
            hint="the newer architecture does not win every race: at equal parameters and a short CPU budget "
                 "the LSTM is often as good; the Transformer's advantage grows with scale and parallel "
                 "hardware",
            explain="Both models had the same parameters and the same seconds; read the validation losses "
                    "above. A gap under 0.05 nats is within what another seed or budget changes.",
            example={"GPT": {"val_loss": 2.31}, "LSTM": {"val_loss": 2.28}})
def _race_outcome(race: Mapping[str, Mapping[str, float]]) -> str:
    gap = float(race["GPT"]["val_loss"]) - float(race["LSTM"]["val_loss"])
    return "a" if gap < -0.05 else "b" if gap > 0.05 else "c"


# ---------------------------------------------------------------- 04 · weights are not importance

@prediction("attention.predict_knockout",
            options={"a": N_("yes: the head with the clearest pattern is the one the model needs most"),
                     "b": N_("no: switching off another head costs more")},
            hint="attention weights do not explain the prediction: a striking pattern shows where a head "
                 "looks, not how much its output matters; only an intervention (switching it off) measures "
                 "that",
            explain="The measurement switched off one head at a time (its output set to zero) and recorded "
                    "how much the loss rose. Where a head looks and how much the model relies on it are "
                    "different questions.",
            example={"previous_token_head": (0, 1), "loss_increase": [[0.01, 0.2], [0.05, 0.03]]})
def _knockout_outcome(measured: Mapping) -> str:
    rise = [list(map(float, row)) for row in measured["loss_increase"]]
    worst = max(((layer, h) for layer, row in enumerate(rise) for h in range(len(row))),
                key=lambda lh: rise[lh[0]][lh[1]])
    return "a" if tuple(measured["previous_token_head"]) == worst else "b"


# ---------------------------------------------------------------- 05 · more parameters

@prediction("scaling.predict_finetune",
            options={"a": N_("fine-tuning, clearly: its 95 % interval lies above the probe's"),
                     "b": N_("no clear winner: the intervals overlap"),
                     "c": N_("the probe, clearly: its interval lies above")},
            hint="training more parameters is not always better: with 150 examples the 22.7 M-parameter "
                 "encoder has little new to learn, and a test set of 50 cannot tell small gains from noise",
            explain="Each accuracy a on n test reviews has a 95 % interval a ± 1.96·√(a(1−a)/n). Only "
                    "intervals that do not overlap show a difference this test set can see.",
            example=(0.74, 0.76, 50))
def _finetune_outcome(measured: Sequence[float]) -> str:
    probe, tuned, n = float(measured[0]), float(measured[1]), int(measured[2])

    def interval(a: float) -> tuple[float, float]:
        half = 1.96 * math.sqrt(max(a * (1 - a), 0.0) / max(n, 1))
        return a - half, a + half

    (p_lo, p_hi), (t_lo, t_hi) = interval(probe), interval(tuned)
    return "a" if t_lo > p_hi else "c" if p_lo > t_hi else "b"


# ---------------------------------------------------------------- 06 · what chrF rewards

@prediction("seq2seq.predict_scrambled",
            options={"a": N_("low, like a bad answer: it is no couplet at all"),
                     "b": N_("higher than every model and baseline above")},
            hint="BLEU and chrF do not measure a couplet: they count character n-grams shared with one "
                 "reference line, so the reference's own characters in reverse order score well, and a "
                 "fine couplet that differs from the reference scores near zero",
            explain="The reversed lines keep every character of the reference (all 1-grams match) and lose "
                    "the order. chrF rewards the shared characters, not tone, parallelism or sense: read a "
                    "score beside the rules a couplet must keep.",
            example=(17.5, 1.2))
def _scrambled_outcome(measured: Sequence[float]) -> str:
    scrambled, best_other = _pair(measured)
    return "b" if scrambled > best_other else "a"


# ---------------------------------------------------------------- 07 · a score needs its baseline

@prediction("bert.predict_baseline",
            options={"a": N_("far above: more than twice the baseline's accuracy"),
                     "b": N_("above, but less than twice the baseline"),
                     "c": N_("no better than always guessing the commonest character")},
            hint="a masked-token accuracy means little on its own: always answering the commonest character "
                 "(the comma) already gets a share right, and a short pre-training first learns exactly that",
            explain="The baseline answers every blank with the most frequent character of the validation "
                    "text. A model has learned from context only by the margin it keeps above that line.",
            example=(0.31, 0.11))
def _baseline_outcome(measured: Sequence[float]) -> str:
    model, baseline = _pair(measured)
    return "a" if model > 2 * baseline else "b" if model > baseline else "c"


# ---------------------------------------------------------------- 08 · model parallelism is one model

@prediction("parallel.predict_same_model",
            options={"a": N_("the same, up to float rounding (gaps below 1e-4)"),
                     "b": N_("clearly different: each rank trains its own part, and the parts are merged")},
            hint="model parallelism is not training the parts of a model separately and merging them: the "
                 "ranks exchange activations and gradients at every step, so they compute exactly one "
                 "model's forward and backward pass",
            explain="The measurement is the largest gap between the 2-rank engines (FSDP's and the "
                    "pipeline's losses, tensor parallelism's logits and gradients) and one process training "
                    "the whole model.",
            example=3e-7)
def _same_model_outcome(largest_gap: float) -> str:
    return "a" if float(largest_gap) < 1e-4 else "b"


# ---------------------------------------------------------------- 09 · function words

@prediction("chinese.predict_function_loss",
            options={"a": N_("easier: a lower loss on the function characters"),
                     "b": N_("harder: a higher loss on the function characters")},
            hint="function words are not empty: a search engine may drop them, but a language model must "
                 "write them, and frequent characters are not always the predictable ones",
            explain="The measurement is the model's mean loss (nats) on the function characters against all "
                    "other characters of the validation text.",
            example=(4.1, 5.3))
def _function_loss_outcome(measured: Sequence[float]) -> str:
    stop, other = _pair(measured)
    return "a" if stop < other else "b"
