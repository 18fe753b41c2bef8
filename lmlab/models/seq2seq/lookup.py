"""The per-position lookup table: the simplest model of a couplet, built by counting in seconds.

Over the training pairs, count which character answers which at the same position (白 → 黃 …). To answer a
line, take at each position the most frequent answer of its character that is not banned: not the source's
own character, not one already written (where the source repeats a character, repeat its answer). An unseen
character gets the most frequent answer at that position overall. The answer always has the right length
and breaks no repeat rule: the thing a model with cross-attention must beat on meaning, not on form.
"""

from __future__ import annotations

from collections import Counter, defaultdict

Pair = tuple[str, str]


class LookupTable:
    """``LookupTable(train)(sources)`` -> one answer per source."""

    def __init__(self, train: list[Pair], top: int = 50) -> None:
        answers: dict[str, Counter] = defaultdict(Counter)
        at_position: dict[int, Counter] = defaultdict(Counter)
        for a, b in train:
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                answers[x][y] += 1
                at_position[i][y] += 1
        self.answers = {x: [y for y, _ in c.most_common(top)] for x, c in answers.items()}
        self.fallback = {i: [y for y, _ in c.most_common(top)] for i, c in at_position.items()}
        self.any = [y for y, _ in sum(at_position.values(), Counter()).most_common(top)]

    def answer(self, source: str) -> str:
        """One 下联, character by character, repeats banned."""
        out: list[str] = []
        for i, x in enumerate(source):
            earlier = source.find(x)
            if earlier < i:  # the source repeats here: so does the answer
                out.append(out[earlier])
                continue
            banned = set(out) | {x}
            for y in self.answers.get(x, []) + self.fallback.get(i, []) + self.any:
                if y not in banned:
                    out.append(y)
                    break
            else:  # a table too small to answer without a repeat
                out.append(self.any[0] if self.any else x)
        return "".join(out)

    def __call__(self, sources: list[str]) -> list[str]:
        return [self.answer(s) for s in sources]
