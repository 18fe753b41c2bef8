"""Looking inside recurrent networks: how far gradients reach back, and what the gates and cells do on text.

    decay = gradient_decay(torch.nn.RNN(16, 64, batch_first=True))   # ‖∂h_T/∂x_{T-k}‖ for k = 0..T-1
    inside = internals(model, tokenizer, "ROMEO:\\nWhat light ...")     # every gate of every layer
    unit, r = find_neuron(inside["cell_state"][-1], line_position(text))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from lmlab.models.lstm.cells import ScratchLSTM
from lmlab.models.lstm.threads import single_thread


def gradient_decay(module: nn.Module, steps: int = 100, batch: int = 16, seed: int = 0) -> np.ndarray:
    """Mean ‖∂(Σ h_T)/∂x_{T-k}‖ over a random batch, for k = 0 .. steps-1 (k steps back from the end).

    ``module`` is batch-first and returns (outputs, ...): nn.RNN, nn.LSTM, ScratchLSTM, ScratchRNN.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2 to look back in time, got {steps}")
    input_size = getattr(module, "input_size", None)
    if input_size is None:
        first = next(m for m in module.modules() if isinstance(m, nn.Linear))
        input_size = first.in_features
    g = torch.Generator().manual_seed(seed)
    param = next(module.parameters())
    x = torch.randn(batch, steps, input_size, generator=g).to(param).requires_grad_(True)  # (B, T, C)
    with single_thread(param.device):
        out = module(x)[0]                                # (B, T, H)
        out[:, -1].sum().backward()                       # the last hidden state's sensitivity ...
    norms = x.grad.norm(dim=-1).mean(dim=0)               # ... to each input, (T,)
    return norms.flip(0).detach().cpu().numpy()           # index k = k steps back


def rnn_vs_lstm(steps: int = 100, hidden: int = 64, input_size: int = 16,
                forget_biases: tuple[float, ...] = (0.0, 1.0, 3.0), seed: int = 0) -> dict[str, np.ndarray]:
    """Gradient decay of a tanh RNN and of LSTMs whose forget-gate bias starts at each given value."""
    torch.manual_seed(seed)
    curves = {"RNN (tanh)": gradient_decay(nn.RNN(input_size, hidden, batch_first=True), steps, seed=seed)}
    for b in forget_biases:
        torch.manual_seed(seed)
        lstm = nn.LSTM(input_size, hidden, batch_first=True)
        with torch.no_grad():
            lstm.bias_ih_l0[hidden:2 * hidden].fill_(b)   # rows [H, 2H) are the forget gate
            lstm.bias_hh_l0[hidden:2 * hidden].zero_()
        curves[f"LSTM, forget bias {b:g}"] = gradient_decay(lstm, steps, seed=seed)
    return curves


@torch.no_grad()
def internals(model: Any, tokenizer: Any, text: str) -> dict[str, list[np.ndarray]]:
    """Gates, cell states and hidden states of every layer while ``model`` reads ``text``.

    Uses a ``ScratchLSTM`` holding the model's own weights (the same numbers as nn.LSTM, but every
    intermediate is kept). Returns ``{"input_gate": [layer0 (T, H), layer1 ...], ..., "probs": [(T, V)]}``.
    """
    ids = tokenizer.encode(text)
    if not ids:
        raise ValueError("the text is empty; give some text to read")
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        scratch = ScratchLSTM.from_torch(model.lstm)
        with single_thread(device):
            x = model.embedding(torch.tensor([ids], device=device))       # (1, T, C)
            out, _, layers = scratch(x, return_internals=True)
            probs = torch.softmax(model.head(out), dim=-1)[0]              # (T, V)
    finally:
        model.train(was_training)
    result: dict[str, list[np.ndarray]] = {k: [layer[k][0].float().cpu().numpy() for layer in layers]
                                           for k in layers[0]}
    result["probs"] = [probs.float().cpu().numpy()]
    return result


def line_position(text: str) -> np.ndarray:
    """For each character, how many characters since the last newline (0 at a line start)."""
    pos, out = 0, []
    for ch in text:
        out.append(pos)
        pos = 0 if ch == "\n" else pos + 1
    return np.asarray(out, dtype=float)


def inside_quotes(text: str, quotes: str = "'\"") -> np.ndarray:
    """1.0 for characters between an opening and a closing quote mark, else 0.0 (quote marks included)."""
    inside, out = False, []
    for ch in text:
        if ch in quotes:
            inside = not inside
            out.append(1.0)
        else:
            out.append(1.0 if inside else 0.0)
    return np.asarray(out)


def find_neuron(activations: np.ndarray, feature: np.ndarray) -> tuple[int, float]:
    """The unit (column of ``activations`` (T, H)) most correlated with ``feature`` (T,), and that r."""
    acts = np.asarray(activations, dtype=float)
    feature = np.asarray(feature, dtype=float)
    if acts.ndim != 2 or acts.shape[0] != feature.shape[0]:
        raise ValueError(f"activations {acts.shape} and feature {feature.shape} must share the time axis")
    if feature.std() == 0:
        raise ValueError("the feature is constant over this text; choose a text where it varies")
    a = (acts - acts.mean(0)) / (acts.std(0) + 1e-8)
    f = (feature - feature.mean()) / feature.std()
    r = (a * f[:, None]).mean(0)                                   # Pearson r per unit, (H,)
    best = int(np.abs(r).argmax())
    return best, float(r[best])
