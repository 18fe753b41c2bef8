"""``python -m lmlab.tokenizers``: a worked example of each tokenizer, step by step."""

from lmlab.tokenizers import CharTokenizer, JiebaTokenizer, WordTokenizer
from lmlab.tokenizers.char import UNITS


def main() -> None:
    sample = "café, cafe\u0301, 中文, 👨\u200d👩\u200d👧, 🇫🇷"
    print("What is a character? The same text cut two ways (decode(encode(text)) == text both times).")
    for unit in UNITS:
        tok = CharTokenizer.fit(sample, unit=unit)
        print(f"\n{unit}: {len(tok.encode(sample))} tokens, vocabulary of {tok.vocab_size}")
        for char, i, name in tok.show(sample):
            print(f"  {i:3d}  {char!r:16}  {name}")

    text = "The king met the queen. The queen didn't smile; the well-known king did!"
    tok = WordTokenizer.fit(text, min_count=2)
    print("\nWords seen at least twice (id, word, count):",
          list(zip(range(tok.vocab_size), tok.itos, tok.counts, strict=True)))
    sentence = "The king smiled at the queen."
    for piece, i, became in tok.show(sentence):
        print(f"  {piece!r:10} -> {i:2d} {became}")
    print("decoded:", tok.decode(tok.encode(sentence)))

    poem = "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。"
    tok = JiebaTokenizer.fit(poem)
    print("\njieba words:", " / ".join(tok.split(poem)))


if __name__ == "__main__":
    main()
