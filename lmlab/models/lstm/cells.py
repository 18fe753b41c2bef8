"""A vanilla RNN cell and an LSTM cell written from the equations, one parameter per symbol.

The LSTM equations, as the notebook teaches them (⊙ is the element-wise product, σ the sigmoid):

    i_t = σ(W_i x_t + U_i h_{t-1} + b_i)        input gate
    f_t = σ(W_f x_t + U_f h_{t-1} + b_f)        forget gate
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)     candidate cell values
    o_t = σ(W_o x_t + U_o h_{t-1} + b_o)        output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t             cell state
    h_t = o_t ⊙ tanh(c_t)                       hidden state

Every gate reads the *current input* x_t and the *previous* hidden state h_{t-1}; no gate reads its own
output. ``ScratchLSTM.from_torch`` copies the weights of a ``torch.nn.LSTM`` (gate order i, f, g, o in
``weight_ih_l0``) so a test can prove both compute the same numbers.
"""

from __future__ import annotations

import torch
from torch import nn

GATES = ("input_gate", "forget_gate", "candidate", "output_gate")  # torch.nn.LSTM's order: i, f, g, o


class RNNCell(nn.Module):
    """h_t = tanh(W x_t + U h_{t-1} + b)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.W = nn.Linear(input_size, hidden_size, bias=True)  # the bias b lives here
        self.U = nn.Linear(hidden_size, hidden_size, bias=False)

    def forward(self, x_t: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.W(x_t) + self.U(h_prev))  # (B, H)

    @torch.no_grad()
    def copy_from_torch(self, rnn: nn.RNN, layer: int = 0) -> RNNCell:
        """Take the weights of layer ``layer`` of a ``torch.nn.RNN(nonlinearity='tanh')``."""
        self.W.weight.copy_(getattr(rnn, f"weight_ih_l{layer}"))
        self.U.weight.copy_(getattr(rnn, f"weight_hh_l{layer}"))
        bias = torch.zeros(self.hidden_size)
        if rnn.bias:
            bias = getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")
        self.W.bias.copy_(bias)
        return self


class LSTMCell(nn.Module):
    """One LSTM step from the six equations; ``forward(..., return_gates=True)`` also returns i, f, g, o."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        # one W (input weights, with the bias b) and one U (recurrent weights) per gate
        self.W_i = nn.Linear(input_size, hidden_size)
        self.U_i = nn.Linear(hidden_size, hidden_size, bias=False)
        self.W_f = nn.Linear(input_size, hidden_size)
        self.U_f = nn.Linear(hidden_size, hidden_size, bias=False)
        self.W_g = nn.Linear(input_size, hidden_size)
        self.U_g = nn.Linear(hidden_size, hidden_size, bias=False)
        self.W_o = nn.Linear(input_size, hidden_size)
        self.U_o = nn.Linear(hidden_size, hidden_size, bias=False)

    def forward(self, x_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor],
                return_gates: bool = False) -> tuple:
        h_prev, c_prev = state                                          # (B, H), (B, H)
        input_gate = torch.sigmoid(self.W_i(x_t) + self.U_i(h_prev))    # i_t
        forget_gate = torch.sigmoid(self.W_f(x_t) + self.U_f(h_prev))   # f_t
        candidate = torch.tanh(self.W_g(x_t) + self.U_g(h_prev))        # g_t
        output_gate = torch.sigmoid(self.W_o(x_t) + self.U_o(h_prev))   # o_t
        cell_state = forget_gate * c_prev + input_gate * candidate      # c_t
        hidden_state = output_gate * torch.tanh(cell_state)             # h_t
        if return_gates:
            gates = {"input_gate": input_gate, "forget_gate": forget_gate, "candidate": candidate,
                     "output_gate": output_gate}
            return hidden_state, cell_state, gates
        return hidden_state, cell_state

    @torch.no_grad()
    def copy_from_torch(self, lstm: nn.LSTM, layer: int = 0) -> LSTMCell:
        """Take layer ``layer`` of a ``torch.nn.LSTM``: its stacked rows are the gates i, f, g, o."""
        w_ih = getattr(lstm, f"weight_ih_l{layer}").chunk(4, dim=0)
        w_hh = getattr(lstm, f"weight_hh_l{layer}").chunk(4, dim=0)
        if lstm.bias:
            b = (getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")).chunk(4, dim=0)
        else:
            b = torch.zeros(4 * self.hidden_size).chunk(4, dim=0)
        for k, name in enumerate("ifgo"):
            getattr(self, f"W_{name}").weight.copy_(w_ih[k])
            getattr(self, f"W_{name}").bias.copy_(b[k])
            getattr(self, f"U_{name}").weight.copy_(w_hh[k])
        return self


class ScratchLSTM(nn.Module):
    """A stack of ``LSTMCell`` run over a sequence, batch first, with the same interface as nn.LSTM.

    Slow (a Python loop over time) and meant for reading and for looking inside: with
    ``return_internals=True`` it returns every gate, cell state and hidden state of every layer.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.cells = nn.ModuleList(
            LSTMCell(input_size if layer == 0 else hidden_size, hidden_size) for layer in range(num_layers))

    @classmethod
    def from_torch(cls, lstm: nn.LSTM) -> ScratchLSTM:
        """A ScratchLSTM holding copies of a (batch-first, unidirectional) nn.LSTM's weights."""
        if lstm.bidirectional or getattr(lstm, "proj_size", 0):
            raise ValueError("ScratchLSTM copies unidirectional nn.LSTM without proj_size only")
        scratch = cls(lstm.input_size, lstm.hidden_size, lstm.num_layers)
        for layer, cell in enumerate(scratch.cells):
            cell.copy_from_torch(lstm, layer)
        param = next(lstm.parameters())
        return scratch.to(device=param.device, dtype=param.dtype)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None,
                return_internals: bool = False) -> tuple:
        B, T, _ = x.shape                                               # (B, T, C)
        if state is None:
            zeros = x.new_zeros(self.num_layers, B, self.hidden_size)
            state = (zeros, zeros)
        h0, c0 = state                                                  # (L, B, H) each, as nn.LSTM
        internals: list[dict[str, list[torch.Tensor]]] = []
        h_last, c_last = [], []
        layer_input = x
        for layer, cell in enumerate(self.cells):
            h, c = h0[layer], c0[layer]
            record: dict[str, list[torch.Tensor]] = {k: [] for k in (*GATES, "cell_state", "hidden_state")}
            outputs = []
            for t in range(T):
                h, c, gates = cell(layer_input[:, t], (h, c), return_gates=True)
                outputs.append(h)
                if return_internals:
                    for k, v in gates.items():
                        record[k].append(v)
                    record["cell_state"].append(c)
                    record["hidden_state"].append(h)
            layer_input = torch.stack(outputs, dim=1)                   # (B, T, H)
            h_last.append(h)
            c_last.append(c)
            if return_internals:
                internals.append({k: torch.stack(v, dim=1) for k, v in record.items()})  # each (B, T, H)
        final = (torch.stack(h_last), torch.stack(c_last))              # (L, B, H) each
        if return_internals:
            return layer_input, final, internals
        return layer_input, final


class ScratchRNN(nn.Module):
    """One ``RNNCell`` run over a sequence, batch first (for the vanishing-gradient experiment)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = RNNCell(input_size, hidden_size)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = x.new_zeros(x.shape[0], self.cell.hidden_size) if h is None else h
        outputs = []
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h                          # (B, T, H), (B, H)


if __name__ == "__main__":
    # worked example: the from-scratch LSTM against torch.nn.LSTM holding the same weights
    torch.manual_seed(0)
    reference = nn.LSTM(input_size=3, hidden_size=4, num_layers=2, batch_first=True)
    scratch = ScratchLSTM.from_torch(reference)
    x = torch.randn(1, 5, 3)
    out, _, inside = scratch(x, return_internals=True)
    print("largest difference from nn.LSTM:", (out - reference(x)[0]).abs().max().item())
    for name in GATES:
        print(f"layer 0 {name:12s} at t=0:", inside[0][name][0, 0].detach().numpy().round(3))
