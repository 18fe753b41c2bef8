"""The LSTM language model: embedding → nn.LSTM (cuDNN on GPU) → dropout → linear (tied when sizes allow)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (n_layer, B, hidden)


@dataclass
class LSTMConfig:
    """Every size of the model; stored in checkpoints as a plain dict."""

    vocab_size: int
    n_embd: int = 256
    hidden: int = 256
    n_layer: int = 2
    dropout: float = 0.2
    tie_weights: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_embd", "hidden", "n_layer"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def tied(self) -> bool:
        """Tying needs the output layer's input (hidden) to be as wide as the embedding."""
        return self.tie_weights and self.n_embd == self.hidden


class LSTMLanguageModel(nn.Module):
    """Predicts token t+1 from tokens ≤ t; the recurrent state is passed in and handed back."""

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.drop_in = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(config.n_embd, config.hidden, num_layers=config.n_layer, batch_first=True,
                            dropout=config.dropout if config.n_layer > 1 else 0.0)
        self.drop_out = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)
        if config.tied:
            self.head.weight = self.embedding.weight  # one matrix reads and writes tokens
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        nn.init.normal_(self.embedding.weight, std=0.1)
        nn.init.zeros_(self.head.bias)
        H = self.config.hidden
        for layer in range(self.config.n_layer):
            # forget-gate bias 1: start by remembering, so early gradients reach far back
            # (Jozefowicz et al., 2015). Rows [H, 2H) of the stacked i, f, g, o are the forget gate.
            getattr(self.lstm, f"bias_ih_l{layer}")[H:2 * H].fill_(1.0)
            getattr(self.lstm, f"bias_hh_l{layer}")[H:2 * H].zero_()

    def forward(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        x = self.drop_in(self.embedding(idx))       # (B, T, n_embd)
        out, state = self.lstm(x, state)            # (B, T, hidden), ((L, B, H), (L, B, H))
        logits = self.head(self.drop_out(out))      # (B, T, vocab)
        return logits, state

    def init_state(self, batch_size: int, device: torch.device | None = None) -> State:
        """Zeros for (h, c): the start of a stream."""
        device = device or self.embedding.weight.device
        zeros = torch.zeros(self.config.n_layer, batch_size, self.config.hidden, device=device)
        return zeros, zeros.clone()

    def num_params(self) -> int:
        """Parameters counted once (a tied matrix is one matrix)."""
        return sum(p.numel() for p in self.parameters())


def detach_state(state: State | None) -> State | None:
    """Truncated BPTT: keep the values of (h, c), cut the graph that produced them."""
    if state is None:
        return None
    return state[0].detach(), state[1].detach()
