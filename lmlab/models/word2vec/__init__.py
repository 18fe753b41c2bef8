"""word2vec (skip-gram and CBOW with negative sampling) and GloVe, from the formulas up.

    from lmlab.models.word2vec import Word2VecConfig, tokenize, train_word2vec
    result = train_word2vec(tokenize(text), Word2VecConfig(model="skipgram", dim=100))
    result.vectors.most_similar("king")

Modules: ``vocab`` (tokens, counts, sub-sampling, noise distribution), ``kernels`` (the numba inner loops),
``torch_sgns`` (the batched GPU path), ``trainer`` (both through ``lmlab.train.fit``), ``glove``,
``vectors`` (look-up, neighbours, the word2vec text format).
"""

from lmlab.models.word2vec.glove import GloVeConfig, train_glove
from lmlab.models.word2vec.trainer import PRESETS, Word2VecConfig, Word2VecResult, train_word2vec
from lmlab.models.word2vec.vectors import WordVectors
from lmlab.models.word2vec.vocab import Vocab, tokenize, tokenize_chars

__all__ = ["PRESETS", "GloVeConfig", "Vocab", "Word2VecConfig", "Word2VecResult", "WordVectors", "tokenize",
           "tokenize_chars", "train_glove", "train_word2vec"]
