"""Making models small: post-training int8 quantization and magnitude pruning, each measured.

    small = quantize_int8(model)                 # Linear (and LSTM) weights stored as int8
    print(model_bytes(model), model_bytes(small))
    magnitude_prune(model, 0.5)                  # the 50 % smallest weights set to zero
"""

from lmlab.compress.prune import magnitude_prune, nonzero_bytes, prunable, sparsity
from lmlab.compress.quantize import int8_bytes, model_bytes, quantize_int8

__all__ = ["int8_bytes", "magnitude_prune", "model_bytes", "nonzero_bytes", "prunable", "quantize_int8",
           "sparsity"]
