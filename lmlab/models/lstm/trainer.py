"""The LSTM language model's training recipe: truncated BPTT over contiguous streams.

    run = train(LSTMRecipe(LSTMTrainConfig(hidden=256), text), out="runs/lstm")  # or preset_config("class")
    print(run.metrics["val_loss"], run.metrics["val_bpc"])

One step: take the next (B, T) chunk of every stream, start from the (h, c) the previous chunk left
(detached: gradients stop T steps back), predict each next token; ``lmlab.train.engine`` clips the gradient
norm, steps AdamW, checkpoints and resumes. Under torchrun each rank trains its own streams (its rows of the
global batch); rank 0 alone evaluates, logs and writes ``OUT/ckpt.pt`` (kind "lstm") and ``OUT/best.pt``
(lowest validation loss). The flags -> objects layer of ``lmlab train lstm`` is ``lmlab.models.lstm.run``.
"""


from __future__ import annotations

import contextlib
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from lmlab.checkpoint import run_state
from lmlab.device import Precision, autocast, seed_everything
from lmlab.distributed import DistContext
from lmlab.eval.language_model import bits_per_char, perplexity
from lmlab.models.lstm.model import LSTMLanguageModel, detach_state
from lmlab.models.lstm.streams import StreamBatches, stream_loss
from lmlab.models.lstm.threads import SMALL_HIDDEN, single_thread
from lmlab.presets import preset_values
from lmlab.recipes.lstm import LSTM_PRESETS, LSTMTrainConfig
from lmlab.train import History, Session
from lmlab.train.engine import Recipe, Run
from lmlab.train.optim import adamw
from lmlab.train.schedule import scheduled_lr

DIVERGENCE_HINT = "lower --lr or clip harder (--grad-clip 0.5)"


def preset_config(preset: str, **overrides: Any) -> LSTMTrainConfig:
    """The preset's values with explicit overrides (None = not given) laid on top."""
    names = {f.name for f in fields(LSTMTrainConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown LSTM option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    values = preset_values(LSTM_PRESETS, preset, overrides)
    return LSTMTrainConfig(**values)


def make_tokenizer(kind: str, text: str) -> Any:
    """A tokenizer of ``kind`` ("char", "word", ...) fitted on ``text``."""
    from lmlab.tokenizers import get

    fitted = ("char", "word", "jieba")  # the kinds learnt from the corpus itself
    if kind not in fitted:
        raise ValueError(f"unknown LSTM tokenizer {kind!r} (--tokenizer); choose one of {', '.join(fitted)}")
    return get(kind).fit(text)


def lr_at(config: LSTMTrainConfig, it: int, elapsed_s: float) -> float:
    """lmlab's one schedule (``lmlab.train.schedule``): warm-up, then cosine to lr·min_lr_frac over
    ``max_iters``, or over the time budget when there is one."""
    return scheduled_lr(it, lr=config.lr, min_lr=config.lr * config.min_lr_frac,
                        warmup_iters=config.warmup_iters, decay_iters=config.max_iters,
                        elapsed_s=elapsed_s, budget_s=config.time_budget_s)


class LSTMRecipe(Recipe):
    """The LSTM's part of training (``lmlab.train.engine.train`` does the rest): truncated BPTT over
    contiguous streams of ``text`` (``val_fraction`` split off its end unless ``val_text`` is given), the
    (h, c) each stream carries from one step to the next (kept in the checkpoint, so a resumed run goes on
    where the streams stopped), validation over the held-out stream, bits per character, a sample."""

    kind = "lstm"
    divergence_hint = DIVERGENCE_HINT

    def __init__(self, config: LSTMTrainConfig, text: str, *, val_text: str | None = None,
                 tokenizer: Any = None, sample_prompt: str | None = None) -> None:
        if not text:
            raise ValueError("the training text is empty; pass a corpus with some text")
        if val_text is None:
            cut = int(len(text) * (1.0 - config.val_fraction))
            text, val_text = text[:cut], text[cut:]
        # characters: the vocabulary of the whole corpus (nothing to learn from it); words: training text only
        both = text + val_text if config.tokenizer == "char" else text
        tokenizer = tokenizer or make_tokenizer(config.tokenizer, both)
        super().__init__(config, tokenizer=tokenizer)
        self.train_ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
        self.val_ids = torch.tensor(tokenizer.encode(val_text), dtype=torch.long)
        self.val_chars = len(val_text)
        if len(self.val_ids) < config.block_size + 2:
            raise ValueError(f"the validation text has {len(self.val_ids)} tokens, fewer than one block of "
                             f"{config.block_size + 2}; use a longer corpus or a smaller --block-size")
        self.prompt = sample_prompt if sample_prompt is not None else ("\n" if "\n" in text else text[0])
        self.default_precision = config.precision
        self.state: list[Any] = [None] * config.grad_accum  # one (h, c) per micro-batch, carried across steps

    def setup(self, model: torch.nn.Module, device: torch.device, precision: Precision,
              ctx: DistContext) -> None:
        super().setup(model, device, precision, ctx)
        c = self.tcfg
        streams = c.batch_size * ctx.world_size * c.grad_accum
        self.streams = StreamBatches(self.train_ids, streams, c.block_size, seed=c.seed)

    def build(self) -> torch.nn.Module:
        seed_everything(self.tcfg.seed)
        return LSTMLanguageModel(self.tcfg.model_config(self.tokenizer.vocab_size))

    def optimizer(self, model: torch.nn.Module, device_type: str) -> torch.optim.Optimizer:
        c = self.tcfg
        return adamw(model, lr=c.lr, weight_decay=c.weight_decay, device_type=device_type)

    def lr(self, it: int, train_s: float) -> float:
        return lr_at(self.tcfg, it, train_s)

    def batch(self, it: int, generator: torch.Generator, micro: int, device: torch.device) -> Any:
        B, A = self.tcfg.batch_size, self.tcfg.grad_accum
        if micro == 0:  # the next (B, T) chunk of every stream: rank r's rows are r*B*A .. (r+1)*B*A - 1
            self.x_all, self.y_all, self.new_streams = self.streams.get(it)
        W, T = self.ctx.world_size, self.x_all.size(1)
        x = self.x_all.view(W, A, B, T)[:, micro].reshape(W * B, T)  # micro-batch `micro` of every rank
        y = self.y_all.view(W, A, B, T)[:, micro].reshape(W * B, T)
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True), micro

    def loss(self, net: torch.nn.Module, batch: Any) -> torch.Tensor:
        x, y, m = batch  # (B, T) each
        h0 = None if self.new_streams else detach_state(self.state[m])  # cut the graph: truncated BPTT
        logits, self.state[m] = net(x, h0)  # (B, T, V)
        return F.cross_entropy(logits.float().flatten(0, 1), y.flatten())

    def tokens(self, batch: Any) -> int:
        return batch[0].numel()

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        c = self.tcfg
        loss, _ = stream_loss(model, self.val_ids, batch_size=c.eval_batch_size, block_size=c.block_size,
                              device=self.device, max_tokens=c.max_eval_tokens,
                              autocast_fn=lambda: autocast(self.device, self.precision))
        return {"val_loss": loss}

    def sample(self) -> str:
        from lmlab.models.lstm.generate import generate

        return generate(self.model, self.tokenizer, self.prompt, 200, temperature=0.8, seed=self.tcfg.seed)

    def fitting(self) -> contextlib.AbstractContextManager:
        return single_thread(self.device, enabled=self.tcfg.hidden <= SMALL_HIDDEN)  # see threads.py

    def extra(self) -> dict[str, Any]:
        # the (h, c) of each stream, on the CPU; single process only: under DDP each rank has its own
        single = self.ctx.world_size == 1
        return {"recurrent_state": [None if s is None else [s[0].detach().cpu(), s[1].detach().cpu()]
                                    for s in self.state] if single else None}

    def started(self, session: Session) -> None:
        carried = session.restored_extra.get("recurrent_state")
        if carried is not None and len(carried) == len(self.state) and self.ctx.world_size == 1:
            # the streams go on where they stopped, so a resumed run follows the uninterrupted loss curve
            self.state[:] = [None if s is None else (s[0].to(self.device), s[1].to(self.device))
                             for s in carried]

    def metrics(self, run: Run) -> dict[str, Any]:
        val_loss = run.metrics["val_loss"]
        recent = [r["train_loss"] for r in run.history.records[-5:] if r.get("train_loss") is not None]
        return {
            # the mean of the last logged losses (nan when the run diverged: the divergence shows)
            "train_loss": sum(recent) / len(recent) if recent else None,
            "val_perplexity": perplexity(val_loss) if val_loss is not None else None,
            # a word model's token spans several characters: bits per char rescales by tokens/chars
            "val_bpc": bits_per_char(val_loss, len(self.val_ids), self.val_chars) if val_loss is not None
            else None,
            "params": run.model.num_params(), "vocab_size": self.tokenizer.vocab_size,
        }


def load_run(path: str | Path, *, metrics: dict[str, Any] | None = None) -> Run:
    """A finished run's folder (``ckpt.pt``) as the ``Run`` training handed back (model in eval mode on
    the CPU, tokenizer, history; ``metrics`` as given): a prepared run loads so."""
    from lmlab.checkpoint import load_checkpoint
    from lmlab.models.lstm.generate import load_for_sampling

    payload = load_checkpoint(path)
    model, tokenizer = load_for_sampling(payload)
    session = Session(None, model=model, max_iters=run_state(payload)["next_iter"], tokenizer=tokenizer)
    session.history = History(payload.get("history") or [])
    return Run(model=model, session=session, metrics=metrics or {})
