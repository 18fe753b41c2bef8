"""word2vec (skip-gram and CBOW with negative sampling) and GloVe, from the formulas up.

    from lmlab.models.word2vec import Word2VecConfig, Word2VecRecipe, tokenize
    from lmlab.train.engine import train
    run = train(Word2VecRecipe(Word2VecConfig(model="skipgram", dim=100), tokenize(text)))
    run.recipe.vectors.most_similar("king")

Modules: ``vocab`` (tokens, counts, sub-sampling, noise distribution), ``kernels`` (the numba inner loops),
``torch_sgns`` (the batched GPU path), ``trainer`` (``Word2VecRecipe``: both through the engine,
``lmlab.train.engine``), ``glove``, ``vectors`` (look-up, neighbours, the word2vec text format).
"""

from lmlab.models.word2vec.glove import GloVeConfig, train_glove
from lmlab.models.word2vec.trainer import PRESETS, Word2VecConfig, Word2VecRecipe
from lmlab.models.word2vec.vectors import WordVectors
from lmlab.models.word2vec.vocab import Vocab, tokenize, tokenize_chars

__all__ = ["PRESETS", "GloVeConfig", "Vocab", "Word2VecConfig", "Word2VecRecipe", "WordVectors", "tokenize",
           "tokenize_chars", "train_glove"]
