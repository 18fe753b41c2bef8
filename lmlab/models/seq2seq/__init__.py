"""Sequence to sequence: the encoder–decoder Transformer with cross-attention, the GRU encoder–decoder
with and without Bahdanau attention, couplet data, decoding (greedy, beam, sampling), BLEU/chrF.

    from lmlab.models.seq2seq import Seq2SeqConfig, build_model, load_couplets
"""

from lmlab.models.seq2seq.config import ARCHS, Seq2SeqConfig
from lmlab.models.seq2seq.couplets import CoupletData, load_couplets, read_pairs
from lmlab.models.seq2seq.rnn import RNNSeq2Seq
from lmlab.models.seq2seq.transformer import Seq2SeqTransformer
from lmlab.models.seq2seq.vocab import BOS, EOS, PAD, UNK, Seq2SeqVocab


def build_model(config: Seq2SeqConfig) -> Seq2SeqTransformer | RNNSeq2Seq:
    """The model ``config.arch`` names."""
    return Seq2SeqTransformer(config) if config.arch == "transformer" else RNNSeq2Seq(config)


__all__ = ["ARCHS", "BOS", "EOS", "PAD", "UNK", "CoupletData", "RNNSeq2Seq", "Seq2SeqConfig",
           "Seq2SeqTransformer", "Seq2SeqVocab", "build_model", "load_couplets", "read_pairs"]
