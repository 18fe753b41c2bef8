"""lmlab's GPT trainer against a nanoGPT-style reference loop, same data, same config, same process.

nanoGPT cannot be downloaded here (and its code is not copied): ``reference_train`` below is a
straightforward loop written to mirror nanoGPT's published setup for the CPU "baby GPT" command

    python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
        --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
        --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0

i.e. its architecture (pre-LN blocks, fused c_attn, GELU MLP, no biases, tied embeddings, GPT-2 init),
lr 1e-3 with 100 warm-up iterations and cosine to 1e-4, grad clip 1.0, a loss.item() every iteration
(log_interval=1), and estimate_loss on 20 random batches per split every 250 iterations (the config's
eval_interval). nanoGPT's README reports "a loss of only 1.88" for this command.

Both sides use the same optimizer implementation: ``torch.optim.AdamW`` built by ``make_adamw`` below
(betas 0.9/0.99, weight decay 0.1 on matrices, none on gains), with ``--adamw`` choosing the kernel;
the default is nanoGPT's choice (``fused=True`` on CUDA, else no flag: torch's for-loop kernel on
CPU). lmlab's own default on CPU is the fused kernel, so this benchmark does not measure that. Both
runs then get the same final evaluation (the same ``--final-eval-iters`` validation batches), so the
val losses compare like for like.

    python benchmarks/gpt_vs_nanogpt.py                      # the full 2000-iteration comparison
    python benchmarks/gpt_vs_nanogpt.py --throughput-only    # tokens/sec only (a few minutes)
    python benchmarks/gpt_vs_nanogpt.py --time-budget 300 --block-size 128 --batch-size 16 --lr 2e-3 \\
        --min-lr 2e-4      # the class setting: time-based cosine for both

lmlab's GPT differs from nanoGPT's in two defaults: rotary embeddings turn queries and keys (nanoGPT adds
a learned position table) and the MLP uses ReLU, as the original Transformer (nanoGPT: GELU); sizes,
optimiser, schedule and data are the same. lmlab is also run with ``pos_encoding="learned",
activation="gelu"``, nanoGPT's architecture exactly (``lmlab_learned``), so the report separates the
trainer from the model.

Prints one JSON object. The ratios come from an interleaved phase: the three training loops (reference,
lmlab, lmlab_learned) run in alternating chunks in one process, the order rotating every round, so a
change in machine load hits all alike. Every chunk is timed by the wall clock (``time.perf_counter``
around the whole chunk) and does the same work on every side: ``--chunk`` optimizer steps, then one
evaluation batch per split (what each lmlab ``Run.fit`` ends with; the reference chunk does
the same). ``tokens_per_sec_ratio_same_architecture`` (lmlab_learned / reference) compares trainers on
one model; ``tokens_per_sec_ratio`` (lmlab's default model / reference) also includes the model change.
The full runs then give each side's val loss and whole-run wall time (same evaluations on both sides);
on a shared CPU those absolute times depend on what else ran. Re-run on a quiet machine for absolutes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lmlab.models.transformer import GPT, GPTConfig  # noqa: E402
from lmlab.models.transformer.trainer import GPTRecipe, TokenData, TrainConfig  # noqa: E402
from lmlab.tokenizers import CharTokenizer  # noqa: E402
from lmlab.train.engine import start, train  # noqa: E402

# ---------------------------------------------------------------- the reference (nanoGPT's setup)


class RefAttention(nn.Module):
    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.n_head, self.dropout = c.n_head, c.dropout

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class RefBlock(nn.Module):
    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.attn = RefAttention(c)
        self.ln_2 = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))


class RefGPT(nn.Module):
    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.config = c
        self.wte, self.wpe = nn.Embedding(c.vocab_size, c.n_embd), nn.Embedding(c.block_size, c.n_embd)
        self.h = nn.ModuleList(RefBlock(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * c.n_layer))
            elif p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, targets=None):
        T = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def ref_lr(it, a):
    if it < a.warmup_iters:
        return a.lr * (it + 1) / (a.warmup_iters + 1)
    if it > a.lr_decay_iters:
        return a.min_lr
    ratio = (it - a.warmup_iters) / (a.lr_decay_iters - a.warmup_iters)
    return a.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (a.lr - a.min_lr)


def ref_time_lr(it, elapsed, a):
    if it < a.warmup_iters:
        return a.lr * (it + 1) / (a.warmup_iters + 1)
    return a.min_lr + 0.5 * (1.0 + math.cos(math.pi * min(1.0, elapsed / a.time_budget))) * (a.lr - a.min_lr)


def ref_get_batch(data: np.ndarray, block: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """nanoGPT's get_batch: random offsets, one slice per row, stacked."""
    ix = torch.randint(len(data) - block, (batch,))
    x = torch.stack([torch.from_numpy(data[i:i + block].astype(np.int64)) for i in ix])
    y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + block].astype(np.int64)) for i in ix])
    return x, y


ADAMW_KERNELS = ("default", "foreach", "fused")  # default: no flag, torch picks (for-loop on CPU)


def make_adamw(model: nn.Module, a) -> torch.optim.AdamW:
    """The one optimizer both sides get: AdamW, two groups (matrices decay), the kernel --adamw names."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    kernel = {} if a.adamw == "default" else {a.adamw: True}
    return torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.99), **kernel)


def optimizer_record(a) -> str:
    kernel = "no kernel flag (torch's default: the for-loop kernel on CPU)" if a.adamw == "default" else \
        f"{a.adamw}=True"
    return (f"torch.optim.AdamW, {kernel}, betas (0.9, 0.99), weight decay 0.1 on matrices, the same "
            "object type and settings for every side")


def reference_train(train: np.ndarray, val: np.ndarray, cfg: GPTConfig, a) -> tuple[RefGPT, dict]:
    torch.manual_seed(a.seed)
    model = RefGPT(cfg)
    opt = make_adamw(model, a)

    def get_batch(data):
        return ref_get_batch(data, cfg.block_size, a.batch_size)

    @torch.no_grad()
    def estimate_loss():
        model.eval()
        out = {}
        for split, data in (("train", train), ("val", val)):
            out[split] = float(np.mean([model(*get_batch(data))[1].item() for _ in range(a.eval_iters)]))
        model.train()
        return out

    train_s, it, evals = 0.0, 0, []
    wall0 = time.perf_counter()
    x, y = get_batch(train)
    while True:
        if it % a.eval_interval == 0:
            evals.append({"iter": it, **estimate_loss()})
        if it >= a.max_iters or (a.time_budget and train_s >= a.time_budget):
            if evals[-1]["iter"] != it:
                evals.append({"iter": it, **estimate_loss()})
            break
        t0 = time.perf_counter()
        lr = ref_time_lr(it, train_s, a) if a.time_budget else ref_lr(it, a)
        for g in opt.param_groups:
            g["lr"] = lr
        _, loss = model(x, y)
        x, y = get_batch(train)  # prefetch the next batch, as nanoGPT does
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # log_interval=1: one sync per step
        train_s += time.perf_counter() - t0
        it += 1
    wall_s = time.perf_counter() - wall0
    tokens = it * a.batch_size * cfg.block_size
    return model, {"iters": it, "wall_s": wall_s, "train_s": train_s, "tokens_per_sec_wall": tokens / wall_s,
                   "tokens_per_sec": tokens / train_s,
                   "val_loss_own_eval": evals[-1]["val"], "train_loss_own_eval": evals[-1]["train"]}


# ---------------------------------------------------------------- lmlab


def lmlab_train(data: TokenData, cfg: GPTConfig, a) -> tuple[GPT, dict]:
    torch.manual_seed(a.seed)  # cfg.pos_encoding: lmlab's default (rope), or "learned" as nanoGPT
    model = GPT(cfg)
    tcfg = TrainConfig(batch_size=a.batch_size, max_iters=a.max_iters, lr=a.lr, min_lr=a.min_lr,
                       warmup_iters=a.warmup_iters, lr_decay_iters=a.lr_decay_iters,
                       eval_interval=a.eval_interval, eval_iters=a.eval_iters,
                       time_budget_s=a.time_budget or None, seed=a.seed)
    wall0 = time.perf_counter()
    r = train(GPTRecipe(tcfg, data), model=model, optimizer=make_adamw(model, a), progress=False)
    wall_s = time.perf_counter() - wall0
    m = r.metrics
    tokens = m["iters"] * a.batch_size * cfg.block_size
    return model, {"iters": m["iters"], "wall_s": wall_s, "train_s": m["train_s"],
                   "tokens_per_sec_wall": tokens / wall_s, "tokens_per_sec": m["tokens_per_sec"],
                   "val_loss_own_eval": m["val_loss"], "train_loss_own_eval": m["eval_train_loss"],
                   "mfu": m["mfu"]}


SIDES = ("reference", "lmlab", "lmlab_learned")


def interleaved_throughput(train: np.ndarray, val: np.ndarray, data: TokenData, cfg: GPTConfig,
                           ref_cfg: GPTConfig, a) -> dict:
    """Tokens/sec of the three training loops in alternating chunks (the order rotates every round), so
    that a change in the machine's load during the run hits every side alike. Each chunk: ``a.chunk``
    optimizer steps, then one evaluation batch per split; timed by the wall clock around the whole chunk."""
    torch.manual_seed(a.seed)
    ref = RefGPT(ref_cfg)
    ref_opt = make_adamw(ref, a)
    ref_it = [0]

    def ref_chunk(k: int) -> None:
        for _ in range(k):
            it = ref_it[0]
            for g in ref_opt.param_groups:
                g["lr"] = ref_lr(it, a)
            _, loss = ref(*ref_get_batch(train, cfg.block_size, a.batch_size))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
            ref_opt.step()
            ref_opt.zero_grad(set_to_none=True)
            loss.item()
            ref_it[0] = it + 1
        with torch.no_grad():  # the closing evaluation every lmlab Run.fit makes: a batch per split
            ref.eval()
            for split in (train, val):
                ref(*ref_get_batch(split, cfg.block_size, a.batch_size))[1].item()
            ref.train()

    def lab_side(model_cfg: GPTConfig):
        torch.manual_seed(a.seed)
        model = GPT(model_cfg)
        tcfg = TrainConfig(batch_size=a.batch_size, max_iters=1, lr=a.lr, min_lr=a.min_lr,
                           warmup_iters=a.warmup_iters, lr_decay_iters=a.lr_decay_iters,
                           eval_interval=10**9, eval_iters=1, seed=a.seed)
        run = start(GPTRecipe(tcfg, data), model=model, optimizer=make_adamw(model, a), progress=False)

        def chunk(k: int) -> None:  # k more steps of the same run, then its closing evaluation
            run.fit(max_iters=run.next_iter + k)
        return chunk

    chunks = {"reference": ref_chunk, "lmlab": lab_side(cfg), "lmlab_learned": lab_side(ref_cfg)}
    for fn in chunks.values():
        fn(2)  # warm-up: first calls allocate
    spent = {side: 0.0 for side in SIDES}
    per_round: dict[str, list[float]] = {"lmlab": [], "lmlab_learned": []}
    for r in range(a.rounds):
        times = {}
        for side in SIDES[r % 3:] + SIDES[:r % 3]:  # rotate: ABC, BCA, CAB, ...
            t0 = time.perf_counter()
            chunks[side](a.chunk)
            times[side] = time.perf_counter() - t0
            spent[side] += times[side]
        for side in per_round:
            per_round[side].append(times["reference"] / times[side])  # same tokens: time ratio = speed ratio
    tokens = a.rounds * a.chunk * a.batch_size * cfg.block_size
    return {"rounds": a.rounds, "steps_per_chunk": a.chunk,
            "chunk_work": f"{a.chunk} optimizer steps + 1 evaluation batch per split, wall clock",
            **{f"{side}_tokens_per_sec": tokens / spent[side] for side in SIDES},
            "ratio": spent["reference"] / spent["lmlab"],
            "ratio_same_architecture": spent["reference"] / spent["lmlab_learned"],
            "ratio_median_of_rounds": float(np.median(per_round["lmlab"])),
            "ratio_same_architecture_median_of_rounds": float(np.median(per_round["lmlab_learned"])),
            "ratio_per_round": [round(x, 3) for x in per_round["lmlab"]],
            "ratio_same_architecture_per_round": [round(x, 3) for x in per_round["lmlab_learned"]]}


@torch.no_grad()
def common_eval(model: nn.Module, val: torch.Tensor, block: int, n_batches: int, seed: int) -> float:
    """The same validation windows for both models."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    windows = val.unfold(0, block + 1, 1)
    losses = []
    for _ in range(n_batches):
        xy = windows[torch.randint(windows.size(0), (32,), generator=g)]
        losses.append(model(xy[:, :-1].contiguous(), xy[:, 1:].contiguous())[1].item())
    return float(np.mean(losses))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=None, help="tinyshakespeare.txt (default: lmlab's tiny_shakespeare)")
    for name, default in (("n_layer", 4), ("n_head", 4), ("n_embd", 128), ("block_size", 64),
                          ("batch_size", 12), ("max_iters", 2000), ("warmup_iters", 100),
                          ("lr_decay_iters", None), ("eval_interval", 250), ("eval_iters", 20),
                          ("final_eval_iters", 100), ("seed", 1337), ("threads", None)):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=default)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--time-budget", type=float, default=0.0, help="seconds per side (time-based cosine)")
    p.add_argument("--order", choices=["ref-first", "lmlab-first"], default="ref-first")
    p.add_argument("--rounds", type=int, default=30,
                   help="interleaved throughput: rounds of one chunk per side, the order rotating")
    p.add_argument("--chunk", type=int, default=10, help="interleaved throughput: training steps per chunk")
    p.add_argument("--adamw", choices=ADAMW_KERNELS, default=None,
                   help="AdamW kernel for every side (default: nanoGPT's choice, fused on CUDA, torch's "
                        "default elsewhere)")
    p.add_argument("--throughput-only", action="store_true", help="skip the two full training runs")
    a = p.parse_args(argv)
    a.lr_decay_iters = a.lr_decay_iters or a.max_iters
    a.adamw = a.adamw or ("fused" if torch.cuda.is_available() else "default")  # nanoGPT's choice
    if a.time_budget:
        a.max_iters = 10**9
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.corpus:
        text = Path(a.corpus).read_text(encoding="utf-8")
    else:
        from lmlab.data import load_text

        text = load_text("tiny_shakespeare")
    tok = CharTokenizer.fit(text)
    data = TokenData.from_text(text, tok, 0.9)
    train_np, val_np = data.train.numpy().astype(np.uint16), data.val.numpy().astype(np.uint16)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=a.block_size, n_layer=a.n_layer, n_head=a.n_head,
                    n_embd=a.n_embd, dropout=0.0, bias=False)  # lmlab's default positions (rope)
    learned = GPTConfig(**{**vars(cfg), "pos_encoding": "learned", "activation": "gelu"})  # nanoGPT's model
    throughput = interleaved_throughput(train_np, val_np, data, cfg, learned, a)
    report = {
        "benchmark": "gpt_vs_nanogpt", "peer": "nanoGPT-style reference loop (same process, same data)",
        "config": {k: v for k, v in vars(a).items() if k != "corpus"},
        "lmlab_model": {"pos_encoding": cfg.pos_encoding, "activation": cfg.activation},
        "params": GPT(cfg).num_params(), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "load_avg_1min": os.getloadavg()[0],
        "optimizer": optimizer_record(a),
        "tokens_per_sec_ratio": throughput["ratio"],
        "tokens_per_sec_ratio_same_architecture": throughput["ratio_same_architecture"],
        "throughput_interleaved": throughput,
        "targets": {"nanogpt_published_loss": 1.88,
                    "nanogpt_published_source": "nanoGPT README, this command: 'gets us a loss of only 1.88'",
                    "class_val": 1.75},
    }
    if not a.throughput_only:
        results = {}
        order = ["reference", "lmlab", "lmlab_learned"]
        if a.order == "lmlab-first":
            order.reverse()
        for side in order:
            if side == "reference":
                model, r = reference_train(train_np, val_np, learned, a)
            else:
                model, r = lmlab_train(data, cfg if side == "lmlab" else learned, a)
            r["val_loss_common_eval"] = common_eval(model, data.val, a.block_size, a.final_eval_iters,
                                                    a.seed + 99)
            results[side] = r
        ref, lab, learned_run = results["reference"], results["lmlab"], results["lmlab_learned"]
        report.update(reference=ref, lmlab=lab, lmlab_learned=learned_run,
                      # whole runs by the wall clock (same evaluations on both sides), one after the other
                      tokens_per_sec_ratio_sequential=lab["tokens_per_sec_wall"] / ref["tokens_per_sec_wall"],
                      tokens_per_sec_ratio_sequential_same_architecture=(
                          learned_run["tokens_per_sec_wall"] / ref["tokens_per_sec_wall"]),
                      val_loss_diff_common_eval=lab["val_loss_common_eval"] - ref["val_loss_common_eval"],
                      val_loss_diff_common_eval_same_architecture=(
                          learned_run["val_loss_common_eval"] - ref["val_loss_common_eval"]))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
