"""Recurrent language models: an RNN and an LSTM cell from the equations, the LSTM language model,
its trainer (truncated BPTT over contiguous streams) and sampling (free text and regular Tang poems).

``lmlab sample DIR`` uses ``load_for_sampling(payload) -> (model, tokenizer)`` and ``generate(...)``.
"""

from lmlab.models.lstm.cells import GATES, LSTMCell, RNNCell, ScratchLSTM, ScratchRNN
from lmlab.models.lstm.generate import generate, generate_poem, load_for_sampling
from lmlab.models.lstm.model import LSTMConfig, LSTMLanguageModel, detach_state
from lmlab.models.lstm.streams import StreamBatches, stream_loss
from lmlab.models.lstm.trainer import LSTM_PRESETS, LSTMRecipe, LSTMTrainConfig, load_run, preset_config

__all__ = [
    "GATES", "LSTMCell", "LSTMConfig", "LSTMLanguageModel", "LSTMRecipe", "LSTMTrainConfig", "LSTM_PRESETS",
    "RNNCell", "ScratchLSTM", "ScratchRNN", "StreamBatches", "detach_state", "generate", "generate_poem",
    "load_for_sampling", "load_run", "preset_config", "stream_loss",
]
