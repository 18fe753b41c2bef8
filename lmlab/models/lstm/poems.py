"""Regular Tang poems (五言/七言 絕句 and 律詩) as training text for the poem-writing LSTM.

``regular_poems`` keeps the poems whose every couplet is ``n characters，n characters。``, so the model
learns one clean form; ``poem_corpus`` loads them from the Tang-poem corpus, or, when that is not
available offline, from a handful of famous poems built in here (enough to run, far too few to learn).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

_H = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
COUPLET = {n: re.compile(rf"^{_H}{{{n}}}，{_H}{{{n}}}。$") for n in (5, 7)}

# Eighteen famous quatrains (public domain), traditional characters, as in the corpus.
BUILTIN_POEMS: list[list[str]] = [
    ["床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"],
    ["春眠不覺曉，處處聞啼鳥。", "夜來風雨聲，花落知多少。"],
    ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"],
    ["紅豆生南國，春來發幾枝。", "願君多采擷，此物最相思。"],
    ["千山鳥飛絕，萬徑人蹤滅。", "孤舟蓑笠翁，獨釣寒江雪。"],
    ["空山不見人，但聞人語響。", "返景入深林，復照青苔上。"],
    ["松下問童子，言師采藥去。", "只在此山中，雲深不知處。"],
    ["向晚意不適，驅車登古原。", "夕陽無限好，只是近黃昏。"],
    ["眾鳥高飛盡，孤雲獨去閑。", "相看兩不厭，只有敬亭山。"],
    ["功蓋三分國，名成八陣圖。", "江流石不轉，遺恨失吞吳。"],
    ["朝辭白帝彩雲間，千里江陵一日還。", "兩岸猿聲啼不住，輕舟已過萬重山。"],
    ["葡萄美酒夜光杯，欲飲琵琶馬上催。", "醉臥沙場君莫笑，古來征戰幾人回。"],
    ["秦時明月漢時關，萬里長征人未還。", "但使龍城飛將在，不教胡馬度陰山。"],
    ["月落烏啼霜滿天，江楓漁火對愁眠。", "姑蘇城外寒山寺，夜半鐘聲到客船。"],
    ["清明時節雨紛紛，路上行人欲斷魂。", "借問酒家何處有，牧童遙指杏花村。"],
    ["日照香爐生紫煙，遙看瀑布掛前川。", "飛流直下三千尺，疑是銀河落九天。"],
    ["渭城朝雨浥輕塵，客舍青青柳色新。", "勸君更盡一杯酒，西出陽關無故人。"],
    ["獨在異鄉為異客，每逢佳節倍思親。", "遙知兄弟登高處，遍插茱萸少一人。"],
]


def is_regular(couplets: list[str], chars_per_line: Iterable[int] = (5, 7),
               n_lines: Iterable[int] = (4, 8)) -> bool:
    """True when every couplet is 'n chars，n chars。' with one n, and the poem has an allowed length."""
    if not couplets or 2 * len(couplets) not in set(n_lines):
        return False
    return any(all(COUPLET[n].match(c) for c in couplets) for n in chars_per_line)


def regular_poems(poems: Iterable[dict[str, Any] | list[str]], chars_per_line: Iterable[int] = (5, 7),
                  n_lines: Iterable[int] = (4, 8), max_vocab: int | None = None) -> list[list[str]]:
    """The regular poems (lists of couplets); with ``max_vocab``, only those written in the most common
    ``max_vocab`` characters (a smaller output layer trains faster and rare characters are unlearnable)."""
    chars_per_line, n_lines = tuple(chars_per_line), tuple(n_lines)
    kept = []
    for poem in poems:
        couplets = list(poem["paragraphs"] if isinstance(poem, dict) else poem)
        if is_regular(couplets, chars_per_line, n_lines):
            kept.append(couplets)
    if max_vocab is not None:
        counts = Counter(c for poem in kept for line in poem for c in line)
        common = {c for c, _ in counts.most_common(max_vocab)}
        kept = [p for p in kept if all(c in common for line in p for c in line)]
    return kept


def poems_text(poems: list[list[str]]) -> str:
    """One couplet per line and a blank line between poems (the corpus layout, ``lmlab.data``)."""
    return "\n\n".join("\n".join(p) for p in poems) + "\n"


def poem_corpus(chars_per_line: Iterable[int] = (5, 7), n_lines: Iterable[int] = (4, 8),
                max_vocab: int | None = 3000, max_poems: int | None = None,
                script: str | None = None) -> tuple[str, str]:
    """(text of regular Tang poems, name used): the corpus, or the built-in poems with a visible note.

    ``script`` is "traditional" (as collected) or "simplified"; by default the learner's edition decides:
    simplified with ``LMLAB_LANG=zh`` (the Chinese notebooks), traditional otherwise.
    """
    from lmlab.data.corpora import tang_poems_or_builtin

    poems, used = tang_poems_or_builtin(BUILTIN_POEMS, script)
    if used == "builtin_poems":
        max_vocab = None  # a handful of poems: keep every character
    kept = regular_poems(poems, chars_per_line, n_lines, max_vocab)
    if max_poems is not None:
        kept = kept[:max_poems]
    if not kept:
        raise ValueError(f"no regular poems with {tuple(chars_per_line)} characters per line and "
                         f"{tuple(n_lines)} lines; allow more forms")
    return poems_text(kept), used
