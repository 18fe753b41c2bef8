"""How one head's attention forms during training: snapshots taken while a model trains, as an animation.

    recorder = AttentionRecorder(model, tok, "ROMEO: But soft", layer=0, head=0, every=50, live=LiveView())
    train(GPTRecipe(tcfg, data), model=model, live=recorder)  # calls live.update(history, samples)
    recorder.save("head.gif")                                  # or "head.mp4", for slides
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from lmlab.viz.attention.maps import attention_of


class AttentionRecorder:
    """A live-view hook that keeps one head's (T, T) weights every ``every`` iterations (and at the end);
    it forwards each call to ``live`` (e.g. a ``LiveView``), so the usual figure keeps updating."""

    def __init__(self, model: Any, tokenizer: Any, text: str, *, layer: int = 0, head: int = 0,
                 every: int = 50, live: Any = None) -> None:
        if every < 1:
            raise ValueError(f"every={every}: record at least every 1 iteration")
        self.model, self.tokenizer, self.text = model, tokenizer, text
        self.layer, self.head, self.every, self.live = layer, head, every, live
        self.steps: list[int] = []
        self.weights: list[torch.Tensor] = []  # each (T, T), rows = queries
        self.tokens: list[str] = []
        self._record(0)

    def _record(self, it: int) -> None:
        with torch.no_grad():
            maps = attention_of(self.model, self.text, self.tokenizer)
        if not 0 <= self.layer < maps.n_layer or not 0 <= self.head < maps.n_head:
            raise ValueError(f"layer {self.layer}, head {self.head} do not exist: the model has "
                             f"{maps.n_layer} layers of {maps.n_head} heads")
        self.tokens = maps.tokens
        self.steps.append(it)
        self.weights.append(maps.weights[self.layer, self.head].clone())

    def update(self, history: Any, samples: list | None = None) -> None:
        it = history.records[-1].get("iter", 0) if history.records else 0
        if it >= self.steps[-1] + self.every:
            self._record(it)
        if self.live is not None:
            self.live.update(history, samples)

    def close(self, history: Any, samples: list | None = None) -> None:
        it = history.records[-1].get("iter", self.steps[-1]) if history.records else self.steps[-1]
        if it > self.steps[-1]:
            self._record(it)
        if self.live is not None:
            self.live.close(history, samples)

    def figure(self, k: int = -1) -> Any:
        """Frame ``k``: the head's weights at ``steps[k]`` as a heatmap with the tokens on both axes."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4.2, 4.0), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        ax.imshow(self.weights[k].numpy(), cmap="Blues", vmin=0, vmax=1)
        ticks = range(len(self.tokens))
        ax.set_xticks(ticks, self.tokens, fontsize=7)
        ax.set_yticks(ticks, self.tokens, fontsize=7)
        ax.set(xlabel="key (attended to)", ylabel="query",
               title=f"layer {self.layer}, head {self.head}: iteration {self.steps[k]}")
        ax.grid(False)
        return fig

    def frames(self) -> list[Any]:
        return [self.figure(k) for k in range(len(self.steps))]

    def save(self, path: str | os.PathLike, *, fps: int = 3) -> Path:
        """An animation over the recorded steps (.gif or .mp4), or the last frame (.png / .svg)."""
        from lmlab.viz.save import save

        if Path(path).suffix.lower() in (".gif", ".mp4"):
            return save(self.frames(), path, fps=fps)
        return save(self.figure(), path)
