"""Exercises of notebook 09: out-of-vocabulary rate, the share of stop words, characters merged by
simplification."""

from __future__ import annotations

from lmlab.exercises import ExerciseFailure, exercise, expect, expect_close, expect_equal


def _oov_rate(train_tokens, test_tokens) -> float:
    vocab = set(train_tokens)
    test = list(test_tokens)
    return sum(t not in vocab for t in test) / len(test)


@exercise("chinese.oov_rate", solution=_oov_rate,
          hint="build the set of training tokens once; count the held-out tokens (with repeats) not in it, "
               "divide by the number of held-out tokens",
          success="Every OOV token becomes <unk>: the model can neither read nor write it.")
def _check_oov_rate(student) -> None:
    expect(callable(student), "pass your function itself (check(..., oov_rate)), not its result")
    train, test = list("床前明月光疑是地上霜"), list("举头望明月低头思故乡")
    got = student(train, test)
    if got is not None and abs(float(got) - 8) < 1e-9:
        raise ExerciseFailure("you return the number of unknown tokens (8); divide by the number of held-out "
                              "tokens to get a rate")
    distinct = len({t for t in test if t not in set(train)}) / len(set(test))
    if got is not None and abs(float(got) - distinct) < 1e-9:
        raise ExerciseFailure("you count distinct tokens; the rate counts every occurrence (repeats too)")
    expect_close(got, 0.8, what="oov_rate(床前明月光疑是地上霜, 举头望明月低头思故乡)")
    expect_close(student(["a", "b"], ["a", "a", "c", "a"]), 0.25, what="oov_rate([a, b], [a, a, c, a])")


def _stop_word_share(tokens, stop_words) -> float:
    stop = set(stop_words)
    tokens = list(tokens)
    return sum(t in stop for t in tokens) / len(tokens)


@exercise("chinese.stop_word_share", solution=_stop_word_share,
          hint="the fraction of the tokens (every occurrence) that are in the stop-word set",
          success="A language model must predict these tokens too: they carry the grammar.")
def _check_stop_word_share(student) -> None:
    expect(callable(student), "pass your function itself, not its result")
    tokens = ["我", "的", "书", "在", "桌子", "上", "的", "左边"]
    expect_close(student(tokens, {"的", "在", "上"}), 0.5, what="the share of 的/在/上 in 我的书在桌子上的左边")  # noqa: E501
    expect_close(student(["之", "乎", "者", "也"], ["之"]), 0.25, what="stop_word_share([之乎者也], [之])")


def _merged(characters, convert) -> dict[str, list[str]]:
    groups: dict[str, set[str]] = {}
    for ch in set(characters):
        groups.setdefault(convert(ch), set()).add(ch)
    return {s: sorted(ts) for s, ts in groups.items() if len(ts) > 1}


@exercise("chinese.merged", solution=_merged,
          hint="group the distinct characters by convert(character); keep the groups with two or more "
               "members, each as a sorted list",
          success="Each group is one simplified character standing for several traditional ones: fewer "
                  "tokens to learn, and a little meaning merged away.")
def _check_merged(student) -> None:
    expect(callable(student), "pass your function itself, not its result")
    table = {"發": "发", "髮": "发", "後": "后", "后": "后", "雲": "云", "月": "月"}
    got = student("發髮後后雲月發", lambda c: table.get(c, c))
    expect_equal(dict(got) if isinstance(got, dict) else got, {"发": ["發", "髮"], "后": ["后", "後"]},
                 what="merged(發髮後后雲月發)")
