"""``lmlab train lstm``: an LSTM language model, char- or word-level, truncated BPTT over streams.

    lmlab train lstm --corpus tiny_shakespeare --tokenizer char --n-layer 2 --hidden 512 --block-size 128 \\
        --batch-size 32 --max-iters 2000 --lr 2e-3 --dropout 0.2 --device cpu --out runs/lstm
"""

from __future__ import annotations

import argparse

from lmlab.cli.common import fmt_loss, report_write_failures, train_exit_status
from lmlab.cli.flags import add_common_flags, add_config_flags
from lmlab.recipes.lstm import LSTM_PRESETS, LSTMTrainConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_flags(p, corpus="tiny_shakespeare")
    add_config_flags(p, LSTMTrainConfig, LSTM_PRESETS)


def run(args: argparse.Namespace) -> int:
    return report_write_failures(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from lmlab.models.lstm.run import run_from_flags

    m = run_from_flags(vars(args)).metrics
    if m:  # rank 0 (other ranks under torchrun report nothing)
        val = ""
        if m["val_loss"] is not None:
            val = f", val {fmt_loss(m['val_loss'], 3)} nats/token ({fmt_loss(m['val_bpc'], 3)} bits/char)"
        print(f"lstm [{m['preset']}]: {m['iters']} iterations, train {fmt_loss(m['train_loss'], 3)}{val}, "
              f"{m['tokens_per_sec']:.0f} tokens/s, {m['params']:,} parameters -> {args.out}/ckpt.pt")
    return train_exit_status(m)
