"""word2vec (skip-gram and CBOW with negative sampling) and GloVe, from the formulas up.

    from lmlab.models.word2vec import Word2VecConfig, tokenize, train_word2vec
    result = train_word2vec(tokenize(text), Word2VecConfig(model="skipgram", dim=100))
    result.vectors.most_similar("king")
"""

from lmlab.models.word2vec.trainer import PRESETS, Word2VecConfig, Word2VecResult, train_word2vec
from lmlab.models.word2vec.vectors import WordVectors
from lmlab.models.word2vec.vocab import Vocab, tokenize, tokenize_chars

__all__ = ["PRESETS", "Vocab", "Word2VecConfig", "Word2VecResult", "WordVectors", "tokenize",
           "tokenize_chars", "train_word2vec"]
