"""The closed sets of names that flags and configs accept, in one torch-free module.

The command line's ``choices=`` and the configs' checks both read these tuples, so they cannot drift
apart, and ``lmlab --help`` builds every parser without importing torch.
"""

from __future__ import annotations

PRESETS = ("smoke", "class", "full")                      # lmlab.presets
PRECISIONS = ("auto", "fp32", "bf16", "fp16")             # lmlab.device.pick_precision
POS_ENCODINGS = ("rope", "learned", "sinusoidal")         # GPTConfig.pos_encoding
ACTIVATIONS = ("relu", "gelu", "relu2", "silu")           # GPTConfig.activation (the MLP's)
PROJECTIONS = ("pca", "tsne", "umap")                     # lmlab.viz.embeddings.project
