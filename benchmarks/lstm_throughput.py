"""Tokens/sec of lmlab's LSTM trainer vs a plain PyTorch nn.LSTM training loop of the same size and batch.

Both train the same model (embedding → 2-layer nn.LSTM → tied linear, AdamW, gradient clipping, truncated
BPTT over contiguous streams) on the same text, alternating rounds in one process (the order swapping
every round) so that a busy machine slows both alike. The plain loop uses the same AdamW kernel as
lmlab's trainer: the benchmark reads lmlab's optimizer settings (``fused``/``foreach``) while it runs, and
the JSON says which. Both are timed by the wall clock over the steps after ``--warmup``: the plain loop
around its steps, lmlab by the rate ``fit`` logs every 10 iterations (wall time between two logs).
Prints one JSON object; ``ratio`` = lmlab / plain (median of rounds, target ≥ 1.0).

    python benchmarks/lstm_throughput.py                      # class-preset size, CPU
    python benchmarks/lstm_throughput.py --hidden 512 --device cuda --iters 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def adamw_kernel(opt: torch.optim.Optimizer) -> dict[str, bool]:
    """The kernel an AdamW was built with, as keyword arguments for another AdamW."""
    return {k: bool(opt.defaults.get(k)) for k in ("fused", "foreach") if opt.defaults.get(k)}


def _kernel_text(kernel: dict[str, bool]) -> str:
    flags = ", ".join(f"{k}=True" for k in kernel)
    return flags or "no kernel flag: torch's default, the for-loop kernel on CPU"


def plain_loop(ids: torch.Tensor, vocab: int, args: argparse.Namespace, device: torch.device,
               kernel: dict[str, bool]) -> float:
    """The loop one would write by hand; returns tokens/sec over ``args.iters`` steps after warm-up."""
    torch.manual_seed(0)
    emb = nn.Embedding(vocab, args.hidden).to(device)
    lstm = nn.LSTM(args.hidden, args.hidden, args.n_layer, batch_first=True, dropout=args.dropout).to(device)
    head = nn.Linear(args.hidden, vocab).to(device)
    head.weight = emb.weight
    params = list(emb.parameters()) + list(lstm.parameters()) + [head.bias]
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.0, **kernel)
    B, T = args.batch_size, args.block_size
    L = (len(ids) - 1) // B
    streams = ids[: B * L + 1]
    state = None
    n_chunks = (L - 1) // T
    t0, tokens = 0.0, 0
    for i in range(args.warmup + args.iters):
        if i == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0, tokens = time.perf_counter(), 0
        c = i % n_chunks
        starts = torch.arange(B) * L + c * T
        index = starts[:, None] + torch.arange(T)
        x, y = streams[index].to(device), streams[index + 1].to(device)
        if state is not None:
            state = (state[0].detach(), state[1].detach())
        out, state = lstm(emb(x), state)
        loss = F.cross_entropy(head(out).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        loss.item()  # the same host sync per step as a loop that logs its loss
        tokens += B * T
    if device.type == "cuda":
        torch.cuda.synchronize()
    return tokens / (time.perf_counter() - t0)


def lmlab_loop(text: str, args: argparse.Namespace) -> tuple[float, dict[str, bool]]:
    """lmlab's trainer with the same sizes: tokens/sec after warm-up, and its AdamW kernel."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    from lmlab.device import pick_device
    from lmlab.models.lstm import LSTMRecipe, preset_config
    from lmlab.train.engine import train

    seen: list[dict[str, bool]] = []

    def record(opt: torch.optim.Optimizer, *_: object) -> None:  # runs before every optimizer step
        if not seen:
            seen.append(adamw_kernel(opt))

    hook = register_optimizer_step_pre_hook(record)

    config = preset_config("class", n_layer=args.n_layer, hidden=args.hidden, block_size=args.block_size,
                           batch_size=args.batch_size, max_iters=args.warmup + args.iters, lr=2e-3,
                           dropout=args.dropout, eval_interval=0, max_eval_tokens=2_000, device=args.device,
                           precision="fp32")
    config.time_budget_s = None
    try:
        recipe = LSTMRecipe(config, text, val_text=text[-args.val_chars:])
        run = train(recipe, device=pick_device(config.device), progress=False)
    finally:
        hook.remove()
    # fit logs a rate every 10 iterations over the window since the last log: keep the windows that
    # start after warm-up, as the plain loop skips its warm-up steps too
    records = [r for r in run.history if "tokens_per_sec" in r and r["iter"] - 10 >= args.warmup]
    rate = statistics.mean(r["tokens_per_sec"] for r in records) if records else run.metrics["tokens_per_sec"]
    return rate, seen[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--iters", type=int, default=40)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--corpus", default="tiny_shakespeare", help="a corpus name or a UTF-8 .txt path")
    p.add_argument("--val-chars", type=int, default=20_000, help="characters kept off the end for validation")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from lmlab.data import load_text_or_fallback
    from lmlab.device import pick_device
    from lmlab.tokenizers import CharTokenizer

    device = pick_device(args.device)
    text, corpus = load_text_or_fallback(args.corpus)
    text = text[:400_000]
    tok = CharTokenizer.fit(text)
    ids = torch.tensor(tok.encode(text[:-args.val_chars]))
    plain, ours, kernels = [], [], []
    for r in range(args.rounds):  # alternate the order, so load from other processes hits both alike
        if r % 2 == 0:  # lmlab first: its optimizer settings are what the plain loop then copies
            rate, kernel = lmlab_loop(text, args)
            ours.append(rate)
            kernels.append(kernel)
            plain.append(plain_loop(ids, tok.vocab_size, args, device, kernels[0]))
        else:
            plain.append(plain_loop(ids, tok.vocab_size, args, device, kernels[0]))
            rate, kernel = lmlab_loop(text, args)
            ours.append(rate)
            kernels.append(kernel)
        print(f"round {len(plain)}: plain {plain[-1]:,.0f} tokens/s, lmlab {ours[-1]:,.0f} tokens/s",
              file=sys.stderr, flush=True)
    if any(k != kernels[0] for k in kernels):
        raise RuntimeError(f"lmlab's AdamW kernel changed between rounds: {kernels}")
    result = {
        "benchmark": "lstm_throughput", "peer": "plain PyTorch nn.LSTM loop", "corpus": corpus,
        "device": str(device), "threads": torch.get_num_threads(),
        "config": {k: getattr(args, k) for k in ("n_layer", "hidden", "block_size", "batch_size", "iters",
                                                 "warmup", "rounds")},
        "optimizer": f"torch.optim.AdamW({_kernel_text(kernels[0])}) on both sides (lmlab's trainer's "
                     "choice, copied by the plain loop)",
        "timing": "wall clock over the steps after warm-up, both sides",
        "plain_tokens_per_sec": [round(v) for v in plain], "lmlab_tokens_per_sec": [round(v) for v in ours],
        "ratio": statistics.median(ours) / statistics.median(plain), "target_ratio": 1.0,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
