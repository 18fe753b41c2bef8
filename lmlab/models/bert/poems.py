"""Eighteen famous Tang poems by the three most prolific poets, built in: the BERT notebook's labelled task
still runs (roughly) on a machine without the ``tang_poems`` mirror. Traditional characters, as the corpus."""

from __future__ import annotations

FALLBACK_POEMS: dict[str, list[str]] = {
    "李白": [
        "床前明月光，疑是地上霜。\n舉頭望明月，低頭思故鄉。",
        "朝辭白帝彩雲間，千里江陵一日還。\n兩岸猿聲啼不住，輕舟已過萬重山。",
        "故人西辭黃鶴樓，煙花三月下揚州。\n孤帆遠影碧空盡，唯見長江天際流。",
        "日照香爐生紫煙，遙看瀑布掛前川。\n飛流直下三千尺，疑是銀河落九天。",
        "李白乘舟將欲行，忽聞岸上踏歌聲。\n桃花潭水深千尺，不及汪倫送我情。",
        "眾鳥高飛盡，孤雲獨去閒。\n相看兩不厭，只有敬亭山。",
    ],
    "杜甫": [
        "國破山河在，城春草木深。\n感時花濺淚，恨別鳥驚心。\n烽火連三月，家書抵萬金。\n白頭搔更短，渾欲不勝簪。",
        "好雨知時節，當春乃發生。\n隨風潛入夜，潤物細無聲。\n野徑雲俱黑，江船火獨明。\n曉看紅濕處，花重錦官城。",
        "兩個黃鸝鳴翠柳，一行白鷺上青天。\n窗含西嶺千秋雪，門泊東吳萬里船。",
        "岱宗夫如何，齊魯青未了。\n造化鍾神秀，陰陽割昏曉。\n盪胸生曾雲，決眥入歸鳥。\n會當凌絕頂，一覽眾山小。",
        "風急天高猿嘯哀，渚清沙白鳥飛回。\n無邊落木蕭蕭下，不盡長江滾滾來。",
        "黃四娘家花滿蹊，千朵萬朵壓枝低。\n留連戲蝶時時舞，自在嬌鶯恰恰啼。",
    ],
    "白居易": [
        "離離原上草，一歲一枯榮。\n野火燒不盡，春風吹又生。\n遠芳侵古道，晴翠接荒城。\n又送王孫去，萋萋滿別情。",
        "綠蟻新醅酒，紅泥小火爐。\n晚來天欲雪，能飲一杯無。",
        "一道殘陽鋪水中，半江瑟瑟半江紅。\n可憐九月初三夜，露似真珠月似弓。",
        "江南好，風景舊曾諳。\n日出江花紅勝火，春來江水綠如藍。\n能不憶江南。",
        "人間四月芳菲盡，山寺桃花始盛開。\n長恨春歸無覓處，不知轉入此中來。",
        "孤山寺北賈亭西，水面初平雲腳低。\n幾處早鶯爭暖樹，誰家新燕啄春泥。",
    ],
}


def fallback_text(script: str | None = None) -> str:
    """All of them as one text, a blank line between poems (the corpus format), in ``script`` (default: the
    edition's, simplified in the Chinese edition, as its cells read the poems)."""
    from lmlab.data.corpora import edition_script, to_simplified

    text = "\n\n".join(p for poems in FALLBACK_POEMS.values() for p in poems) + "\n"
    return to_simplified([text])[0] if edition_script(script) == "simplified" else text
