# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Beyond one GPU and beyond fp32
#
# The models so far trained in one process, in 32-bit floats. Real language models do neither. This
# notebook covers the four ideas that take the same trainer further, each with a run you can watch:
#
# 1. **Data parallelism** with PyTorch DDP, launched by `torchrun` — and a real 2-process run on this
#    machine that follows the single-process loss curve to the 5th decimal.
# 2. **Mixed precision**: fp32, bf16 and fp16 (+ loss scaling) — range, resolution, memory, speed.
# 3. **Knowledge distillation**: a small GPT learns from the big one's soft predictions.
# 4. **Pre-train, then fine-tune**: the pretrained MiniLM encoder becomes a sentiment classifier,
#    scored with accuracy, precision, recall, F1 and a confusion matrix.
#
# We do not build a distributed engine: students who outgrow one GPU should use PyTorch's
# `DistributedDataParallel` and `torchrun`, so that is exactly what `lmlab train gpt` uses.

# %%
from lmlab.notebook import setup

lab = setup()

# %%
import json
import math
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from lmlab.checkpoint import load_checkpoint, load_model_state
from lmlab.cli import main as lmlab_main
from lmlab.data import load_text_or_fallback
from lmlab.distributed import global_batch_size, launch
from lmlab.exercises import check
from lmlab.train import History

SIZE = {  # everything below is sized by the preset: smoke runs in CI in seconds, class in minutes
    "smoke": dict(ddp_iters=12, ddp_embd=32, teacher=(2, 64), teacher_iters=80, distill_iters=60,
                  bench=(64, 8, 2), ft_epochs=1, ft_layers=1, ft_examples=64),
    "class": dict(ddp_iters=150, ddp_embd=64, teacher=(4, 128), teacher_iters=600, distill_iters=400,
                  bench=(256, 16, 5), ft_epochs=3, ft_layers=None, ft_examples=None),
    "full": dict(ddp_iters=500, ddp_embd=128, teacher=(6, 384), teacher_iters=3000, distill_iters=2000,
                 bench=(768, 32, 10), ft_epochs=4, ft_layers=None, ft_examples=None),
}[lab.preset]
work = Path(tempfile.mkdtemp(prefix="lmlab05_"))

# %% [markdown]
# ## 1 · Data parallelism versus model parallelism
#
# **Data parallelism** copies the whole model to every GPU (a *rank*). Each rank takes a different slice
# of the batch, computes its gradient, and the ranks *average* their gradients (an **all-reduce**) before
# every optimizer step. Every rank then applies the same update, so the copies never drift apart. (What is
# averaged is the gradient, before every step; training copies apart and averaging their *parameters*
# now and then is another method, local SGD or federated averaging, which follows another loss curve.)
#
# **Model parallelism** is for models too big for one GPU: the *layers* are split across GPUs
# (pipeline parallelism) or each weight *matrix* is split (tensor parallelism), and activations travel
# between GPUs. The pieces are parts of **one** model that run forward and backward together on every
# batch; nothing is trained on its own and merged afterwards. It is what trains 100-billion-parameter
# models; for models that fit on one GPU — every model in this lab — data parallelism is the tool.

# %%
def draw_parallelism():
    fig, (ax_d, ax_m) = plt.subplots(1, 2, figsize=(9.5, 3.2))
    colors = ["#4C72B0", "#DD8452", "#55A868", "#C44E52"]
    for r in range(4):  # data parallel: 4 full copies, 4 batch shards
        x = r * 1.2
        ax_d.add_patch(plt.Rectangle((x, 1.3), 1.0, 1.4, color="#bbb"))
        for layer in range(4):
            ax_d.add_patch(plt.Rectangle((x + 0.1, 1.4 + layer * 0.32), 0.8, 0.25, color="#666"))
        ax_d.add_patch(plt.Rectangle((x + 0.1, 0.3), 0.8, 0.6, color=colors[r]))
        ax_d.text(x + 0.5, 0.6, f"batch\nshard {r}", ha="center", va="center", fontsize=7, color="white")
        ax_d.annotate("", (x + 0.5, 1.3), (x + 0.5, 0.9), arrowprops=dict(arrowstyle="->"))
        ax_d.text(x + 0.5, 2.85, f"GPU {r}", ha="center", fontsize=8)
    ax_d.annotate("", (0.2, 3.25), (4.6, 3.25), arrowprops=dict(arrowstyle="<->", color="crimson"))
    ax_d.text(2.4, 3.35, "all-reduce: average the gradients", ha="center", fontsize=8, color="crimson")
    ax_d.set_title("data parallel: a full copy per GPU", fontsize=10)
    for r in range(4):  # pipeline model parallel: one layer per GPU, one batch flows through
        x = r * 1.2
        ax_m.add_patch(plt.Rectangle((x, 1.3), 1.0, 1.4, color="#bbb"))
        ax_m.add_patch(plt.Rectangle((x + 0.1, 1.4 + r * 0.32), 0.8, 0.25, color="#666"))
        ax_m.text(x + 0.5, 2.85, f"GPU {r}", ha="center", fontsize=8)
        if r < 3:
            ax_m.annotate("", (x + 1.2, 1.55 + (r + 1) * 0.32), (x + 0.9, 1.52 + r * 0.32),
                          arrowprops=dict(arrowstyle="->", color="crimson"))
    ax_m.add_patch(plt.Rectangle((0.1, 0.3), 0.8, 0.6, color="#4C72B0"))
    ax_m.text(0.5, 0.6, "whole\nbatch", ha="center", va="center", fontsize=7, color="white")
    ax_m.text(2.4, 3.35, "activations hop from GPU to GPU", ha="center", fontsize=8, color="crimson")
    ax_m.set_title("model (pipeline) parallel: a slice of layers per GPU", fontsize=10)
    for ax in (ax_d, ax_m):
        ax.set(xlim=(-0.2, 4.8), ylim=(0, 3.6))
        ax.axis("off")
    plt.show()


draw_parallelism()

# %% [markdown]
# A check of the idea, on an engine you have not met yet. PyTorch's **FSDP** (fully sharded data
# parallel; DeepSpeed's ZeRO is the same idea) cuts every parameter, its gradient and its optimizer state
# into $N$ shards, one per rank, so each rank *stores* only $1/N$ of the model. Just before a layer runs,
# the ranks send each other their shards of it (an *all-gather*), so that every rank holds that layer's
# full weights for a moment, apply it to their inputs, and drop the gathered copy again. The batch is cut
# into $N$ slices as in the figure above. Which family is it, `"data"` or `"model"` parallelism? Decide
# from the figure: what does each rank *compute* on?

# %%
fsdp_is = ...  # "data" or "model"
check("scaling.fsdp_family", fsdp_is)

# %% [markdown]
# **Sharded data parallelism** (FSDP, ZeRO) is data parallelism, not model parallelism: every rank still
# runs every layer, with its full weights, on its own slice of the batch; only the *storage* of the
# parameters, gradients and optimizer state is split. The shards are never trained on their own: the
# gradients are still averaged over all ranks before every step.

# %% [markdown]
# Why the average is the right thing: with a loss that is a **mean** over the batch, and each of the
# $N$ ranks holding $B$ of the $NB$ examples,
#
# $$\nabla \frac{1}{NB}\sum_{i=1}^{NB} \ell_i \;=\; \frac{1}{N}\sum_{r=1}^{N}
#   \underbrace{\nabla \frac{1}{B}\sum_{i \in \text{shard } r} \ell_i}_{g_r\ \text{(rank } r\text{)}}$$
#
# so $N$ ranks with batch $B$ compute *exactly* the gradient of one process with batch $NB$. With
# **gradient accumulation** each rank runs $A$ micro-batches before stepping; only the last one needs
# the all-reduce (DDP's `no_sync()` skips the others). The batch per optimizer step is therefore
#
# $$\text{global batch} = \underbrace{\texttt{--batch-size}}_{\text{per rank}} \times N_\text{ranks}
#   \times A_\text{accumulation}\ \text{sequences}.$$
#
# On a box with 8 GPUs, the lab's trainer runs unchanged under `torchrun`; the ranks exchange gradients
# through NCCL (NVIDIA's library of collective operations, such as all-reduce, between GPUs):
#
# ```bash
# torchrun --standalone --nproc_per_node=8 -m lmlab train gpt --preset full \
#     --batch-size 16 --grad-accum 4 --out runs/gpt_8gpu      # 16 x 8 x 4 = 512 sequences per step
# ```
#
# Each rank reads its own rows of every batch, rank 0 alone logs, evaluates and writes the checkpoint,
# and `--resume` continues a run on any number of ranks.

# %%
print("sequences per optimizer step:", global_batch_size(batch_size=16, world_size=8, grad_accum=4))

# %% [markdown]
# **Exercise 1.** How many *tokens* does one optimizer step see? Write
# `tokens_per_step(batch_size, world_size, grad_accum, block_size)`.

# %%
def tokens_per_step(batch_size, world_size, grad_accum, block_size):
    return ...  # your code


check("scaling.tokens_per_step", tokens_per_step)

# %% [markdown]
# ### The real thing, on this machine: 2 ranks on the CPU
#
# The same command with `--nproc_per_node=2` and `--device cpu` runs two processes that talk through
# **gloo** (PyTorch's CPU backend). We train the same small GPT twice with the same seed and the same
# global batch of 8 sequences: once in **one** process (`--batch-size 8`), once on **two** ranks
# (`--batch-size 4` each), both with 2 accumulation steps. If data parallelism is exact, the loss
# curves must coincide. (On a 2-core laptop this is not *faster* — both ranks share the same cores —
# it is the same program a cluster runs.)

# %%
text, corpus = load_text_or_fallback("tiny_shakespeare")
corpus_file = work / "corpus.txt"
corpus_file.write_text(text[:200_000], encoding="utf-8")  # a slice keeps start-up short for 3 processes
iters = SIZE["ddp_iters"]
flags = ["train", "gpt", "--corpus", str(corpus_file), "--preset", "smoke", "--n-layer", "2", "--n-head", "2",
         "--n-embd", str(SIZE["ddp_embd"]), "--block-size", "32", "--grad-accum", "2", "--dropout", "0",
         "--max-iters", str(iters), "--lr-decay-iters", str(iters), "--warmup-iters", "5",
         "--eval-interval", str(iters // 2), "--eval-iters", "4", "--log-interval", "1", "--device", "cpu",
         "--no-progress"]

threads = torch.get_num_threads()
torch.set_num_threads(1)  # torchrun gives each rank one thread; the single run gets the same (fair)
t0 = time.perf_counter()
try:
    lmlab_main([*flags, "--batch-size", "8", "--out", str(work / "one_process")])
finally:
    torch.set_num_threads(threads)
t_one = time.perf_counter() - t0
t0 = time.perf_counter()
proc = launch(2, [*flags, "--batch-size", "4", "--out", str(work / "two_ranks")])
t_two = time.perf_counter() - t0
print(proc.stdout.strip().splitlines()[-1])
m_one, m_two = (json.loads((work / d / "metrics.json").read_text()) for d in ("one_process", "two_ranks"))
print(f"training time: one process {m_one['train_s']:.1f} s, two ranks {m_two['train_s']:.1f} s; "
      f"wall clock with start-up: {t_one:.1f} s in this kernel, {t_two:.1f} s for torchrun + 2 processes")

# %%
def step_losses(out):
    """(iteration, training loss) of every optimizer step in a run's checkpoint history."""
    rows = [r for r in load_checkpoint(out)["history"] if "val_loss" not in r and "train_loss" in r]
    return np.array([r["iter"] for r in rows]), np.array([r["train_loss"] for r in rows])


it1, loss1 = step_losses(work / "one_process")
it2, loss2 = step_losses(work / "two_ranks")
gap = np.abs(loss1 - loss2).max()
fig, (ax, ax_gap) = plt.subplots(1, 2, figsize=(9, 2.8))
ax.plot(it1, loss1, lw=3, alpha=0.5, label="1 process, batch 8")
ax.plot(it2, loss2, "k--", lw=1, label="2 ranks x batch 4 (DDP, gloo)")
ax.set(xlabel="iteration", ylabel="training loss (nats)", title="the same loss curve")
ax.legend(fontsize=8)
ax_gap.semilogy(it1, np.maximum(np.abs(loss1 - loss2), 1e-9), "o-", ms=3)
ax_gap.set(xlabel="iteration", title="|difference| (float32 round-off; 0 drawn at 1e-9)")
plt.tight_layout()
plt.show()
print(f"largest difference between the curves: {gap:.2e} nats")

# %% [markdown]
# The difference is float32 round-off: the two ranks add up their halves of the batch in a different
# order than one process does, nothing else. (`tests/test_distributed_train.py` asserts < 1e-5, for the
# GPT and the LSTM trainer, and that `--resume` on two ranks continues the same curve.)
#
# The checkpoint rank 0 wrote is an ordinary one: it loads in this single process, without DDP.

# %%
from lmlab.models.transformer import GPT, GPTConfig  # noqa: E402

payload = load_checkpoint(work / "two_ranks")
gpt_ddp = GPT(GPTConfig(**payload["config"]))
load_model_state(gpt_ddp, payload)
print(f"loaded a {gpt_ddp.num_params():,}-parameter GPT trained on 2 ranks; "
      f"saved after {payload['extra']['next_iter']} iterations")

# %% [markdown]
# ## 2 · Mixed precision: fp32, bf16, fp16
#
# A float is $(-1)^s \cdot 1.m \cdot 2^{e}$. The **exponent bits** set the *range* (largest and smallest
# numbers), the **mantissa bits** set the *resolution* — the gap `eps` between 1 and the next number:
#
# $$\text{eps} = 2^{-\text{mantissa bits}}, \qquad \text{max} \approx 2^{\,2^{\text{exponent bits}-1}}.$$

# %%
rows = [("fp32", torch.float32, 8, 23), ("bf16", torch.bfloat16, 8, 7), ("fp16", torch.float16, 5, 10)]
print(f"{'format':6} {'bytes':>5} {'exp':>4} {'mant':>5} {'max':>10} {'smallest normal':>16} {'eps':>9}")
for name, dtype, e_bits, m_bits in rows:
    fi = torch.finfo(dtype)
    print(f"{name:6} {fi.bits // 8:5d} {e_bits:4d} {m_bits:5d} {fi.max:10.3g} {fi.tiny:16.3g} {fi.eps:9.3g}")

# %% [markdown]
# **bf16** keeps fp32's 8 exponent bits (the same range) and gives up resolution; **fp16** has more
# resolution but a tiny range: nothing above 65,504, nothing below $6\times10^{-8}$. On a tensor:

# %%
x = torch.tensor([70_000.0, 1.0 + 2**-9, 1e-8])
for dtype in (torch.float32, torch.bfloat16, torch.float16):
    print(f"{str(dtype):15} {x.to(dtype).float().tolist()}")

# %% [markdown]
# fp16 **overflows** to `inf` at 70,000 and **underflows** to 0 at $10^{-8}$; bf16 keeps both but rounds
# $1 + 2^{-9}$ back to 1. Gradients are small numbers — here are a GPT's, after one backward pass, against
# fp16's range:

# %%
model = GPT(GPTConfig(**payload["config"]))
load_model_state(model, payload)
x_batch = torch.randint(0, model.config.vocab_size, (8, 32), generator=torch.Generator().manual_seed(0))
_, loss = model(x_batch, torch.roll(x_batch, -1, dims=1))
loss.backward()
grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]).abs()
grads = grads[grads > 0]
fp16 = torch.finfo(torch.float16)
tiny_sub = 2.0**-24  # the smallest fp16 subnormal
lost = (grads < tiny_sub / 2).float().mean().item()
lost_scaled = (grads * 2**16 < tiny_sub / 2).float().mean().item()
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.hist(np.log10(grads.numpy()), bins=80, color="#4C72B0")
ax.axvline(math.log10(tiny_sub), color="crimson", ls="--", label="fp16 smallest subnormal")
ax.axvline(math.log10(fp16.tiny), color="orange", ls="--", label="fp16 smallest normal")
ax.axvline(math.log10(fp16.max / 2**16), color="gray", ls=":", label="overflow once scaled by 2^16")
ax.set(xlabel="log10 |gradient|", ylabel="count", title="gradients of a small GPT vs fp16's range")
ax.legend(fontsize=7)
plt.show()
print(f"fraction of gradient entries fp16 would flush to zero: {lost:.2%}; "
      f"after scaling the loss by 2^16: {lost_scaled:.2%}")

# %% [markdown]
# That is why **fp16 training needs loss scaling**: multiply the loss by $S$ (so every gradient is
# $S$ times larger, lifted out of the underflow zone), then divide the gradients by $S$ before the
# optimizer step. `torch.amp.GradScaler` picks $S$ on the fly:
#
# - if any gradient is `inf`/`nan`, **skip** the step and halve $S$;
# - after `growth_interval` clean steps in a row, double $S$.
#
# We can watch it: below, each gradient is pushed through fp16 (as it would be in fp16 training on a GPU),
# so a too-large $S$ really overflows.

# %%
model = GPT(GPTConfig(**payload["config"]))
for p in model.parameters():
    p.register_hook(lambda g: g.half().float())  # gradients live in fp16: > 65,504 becomes inf
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24, growth_interval=8)
scales, skipped = [], []
for step in range(60):
    xb = torch.randint(0, model.config.vocab_size, (4, 32), generator=torch.Generator().manual_seed(step))
    _, loss = model(xb, torch.roll(xb, -1, dims=1))
    scaler.scale(loss).backward()
    before = scaler.get_scale()
    scaler.step(opt)
    scaler.update()
    opt.zero_grad(set_to_none=True)
    scales.append(before)
    skipped.append(scaler.get_scale() < before)
fig, ax = plt.subplots(figsize=(7, 2.4))
ax.semilogy(scales, drawstyle="steps-post")
ax.plot(np.flatnonzero(skipped), np.array(scales)[skipped], "rx", label="overflow: step skipped")
ax.set(xlabel="step", ylabel="loss scale S", title="GradScaler finds the largest safe scale")
ax.legend(fontsize=8)
plt.show()
print(f"{sum(skipped)} of 60 steps skipped; final scale 2^{math.log2(scaler.get_scale()):.0f}")

# %% [markdown]
# **bf16 needs none of this** (its range is fp32's), which is why `lmlab` picks bf16 on GPUs that have it
# and falls back to fp16 + GradScaler on older ones; the *weights* and optimizer state stay fp32 in both
# (autocast only runs the matrix multiplications in 16 bits):

# %%
from lmlab.device import pick_precision  # noqa: E402

for kind in ("cpu", "cuda"):
    if kind == "cuda" and not torch.cuda.is_available():
        print("cuda: bf16 autocast (Ampere and newer) or fp16 + GradScaler (older GPUs)  [no GPU here]")
        continue
    print(f"{kind}: {pick_precision(torch.device(kind))}")

# %% [markdown]
# **Exercise 2.** How many bytes per parameter does fp32 AdamW training need (weights, gradients, optimizer)?

# %%
adam_bytes_per_param = ...  # your answer
check("scaling.adam_bytes_per_param", adam_bytes_per_param)

# %% [markdown]
# ### What mixed precision saves, and what it does not
#
# Training with AdamW keeps per parameter: the weight, its gradient and two moment estimates. With
# autocast all four stay fp32 — **16 bytes per parameter** — so mixed precision does *not* shrink the
# model's memory; it halves the **activations** stored for the backward pass and, on GPUs, runs the
# matmuls on tensor cores that are 2-16x faster in 16 bits.

# %%
def training_bytes(n_params, n_layer, n_head, n_embd, block, batch):
    """Rough memory of a training step: fp32 weights + gradients + AdamW's two moments (16 B/param), and
    the activations kept for backward. Korthikanti et al. (2022) count s*b*h*(34 + 5*a*s/h) bytes per
    layer in 16-bit (s: block, b: batch, h: width, a: heads); fp32 activations take about twice that."""
    act16 = n_layer * block * batch * n_embd * (34 + 5 * n_head * block / n_embd)
    return 16 * n_params, 2 * act16, act16


for name, n, L, H, C, T, B in (("this lab's class GPT", 0.8e6, 4, 4, 128, 128, 16),
                               ("nanoGPT shakespeare", 10.7e6, 6, 6, 384, 256, 64),
                               ("GPT-2 small", 124e6, 12, 12, 768, 1024, 8)):
    states, act32, act16 = training_bytes(n, L, H, C, T, B)
    print(f"{name:22} weights+grads+AdamW {states / 2**30:6.2f} GiB | activations fp32 {act32 / 2**30:6.2f}"
          f" GiB, bf16 {act16 / 2**30:6.2f} GiB")

# %% [markdown]
# ### Speed: measured here
#
# The same forward + backward pass in fp32 and under bf16 autocast, on this notebook's device.

# %%
def time_step(model, dtype, device, batch, repeats):
    x = torch.randint(0, model.config.vocab_size, (batch, model.config.block_size), device=device)
    ctx = torch.autocast(device.type, dtype=dtype) if dtype is not None else torch.autocast(device.type,
                                                                                        enabled=False)
    for i in range(repeats + 1):
        if i == 1:  # the first pass warms up
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        with ctx:
            _, loss = model(x, x)
        loss.backward()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeats


width, batch, repeats = SIZE["bench"]
bench = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=width)).to(lab.device)
t32 = time_step(bench, None, lab.device, batch, repeats)
t16 = time_step(bench, torch.bfloat16, lab.device, batch, repeats)
print(f"{lab.device.type}: fp32 {t32 * 1e3:.1f} ms/step, bf16 autocast {t16 * 1e3:.1f} ms/step "
      f"-> speed-up x{t32 / t16:.2f}")
if lab.device.type == "cpu":
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    native = [f for f in ("amx_bf16", "avx512_bf16") if f in flags]
    print("this CPU has native bf16 matmul units:" , ", ".join(native) if native else "no — bf16 is emulated,"
          " and every cast costs time, so lmlab trains in fp32 on CPUs")

# %% [markdown]
# On a CPU without bf16 units, the 16-bit path converts numbers back and forth and gains nothing — it is
# usually *slower*, which is why `pick_precision` keeps CPUs in fp32. On an NVIDIA GPU with tensor
# cores (A100, H100, RTX 30xx/40xx) the same cell shows bf16 clearly faster, and larger models gain more.

# %% [markdown]
# ## 3 · Knowledge distillation: a small GPT learns from a big one
#
# A trained model's prediction is more informative than the one correct token: it says *which* wrong
# tokens were plausible (after "th", "e" is likely, but "a" and "i" are not absurd). **Distillation**
# (Hinton, Vinyals & Dean, 2015) trains a small *student* on those soft predictions of a big *teacher*:
#
# $$p^{(T)} = \text{softmax}(z / T), \qquad
#   \mathcal{L} = \alpha\, T^2\, \mathrm{KL}\!\left(p^{(T)}_\text{teacher} \,\|\,
#   p^{(T)}_\text{student}\right) + (1-\alpha)\, \mathrm{CE}(z_\text{student}, y).$$
#
# The **temperature** $T$ flattens both distributions so the small probabilities carry weight; $T^2$ keeps
# the soft term's gradient the same size whatever $T$. The teacher is a model of the **same task** (here
# the same text), not of another domain: the student imitates its predictions on the student's own
# training inputs. First the teacher: the GPT of notebook 03 if you
# ran it (`runs/03_gpt_shakespeare`, a checkpoint folder in `$LMLAB_GPT_CKPT`, or the run `lmlab prepare`
# trained), else a small one trained right here.

# %%
from lmlab.eval.language_model import evaluate_lm  # noqa: E402
from lmlab.models.distill import (  # noqa: E402
    DistillConfig,
    count_parameters,
    distill,
    distillation_loss,
    soft_targets,
)
from lmlab.models.transformer.generate import load_for_sampling  # noqa: E402
from lmlab.models.transformer.run import make_tokenizer  # noqa: E402
from lmlab.models.transformer.trainer import PRESETS, GPTRecipe, TokenData, TrainConfig  # noqa: E402
from lmlab.prepared import find_checkpoint  # noqa: E402
from lmlab.train.engine import train  # noqa: E402

gpt_03 = {"tokenizer": "char", **PRESETS[lab.preset]}  # notebook 03's GPT: the key of its prepared run
found = find_checkpoint("03_gpt_shakespeare", gpt_03, preset=lab.preset, corpus=corpus,
                        notebook="03_transformer", env="LMLAB_GPT_CKPT",
                        local=("runs/03_gpt_shakespeare", "runs/03_transformer"))
found = [found] if found else []
chars = 400_000 if lab.preset == "smoke" else 1_000_000  # smoke: the slice notebook 03 trains on
teacher = None
if found:
    teacher, tok = load_for_sampling(load_checkpoint(found[0]), lab.device)
    try:
        data = TokenData.from_text(text[:chars], tok)
        print(f"teacher: the GPT of notebook 03, from {found[0]}")
    except (ValueError, KeyError) as err:  # trained on another corpus: its characters differ
        print(f"note: the GPT in {found[0]} does not fit the corpus {corpus!r} ({err}); training one here")
        teacher = None
if teacher is None:
    found = []  # the teacher is trained here, not loaded
    tok = make_tokenizer("char", text)
    data = TokenData.from_text(text[:chars], tok)
    n_layer, width = SIZE["teacher"]
    teacher = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=n_layer, n_head=4,
                            n_embd=width))
    n = SIZE["teacher_iters"]
    tcfg = TrainConfig(batch_size=16, max_iters=n, lr=2e-3, min_lr=2e-4, warmup_iters=20, lr_decay_iters=n,
                       eval_interval=10**9, eval_iters=2)
    train(GPTRecipe(tcfg, data), model=teacher, device=lab.device, progress=False)
    teacher.eval()
    print(f"teacher: trained here for {n} iterations on {corpus}")

block = min(64, teacher.config.block_size)


def get_batch(it, split="train", batch=16):
    return data.batch(split, batch, block, torch.Generator().manual_seed(it))


val_batches = [get_batch(10_000 + i, "val") for i in range(8)]
print(f"teacher: {count_parameters(teacher):,} parameters, validation loss "
      f"{evaluate_lm(teacher, val_batches, lab.device):.3f} nats/char")

# %% [markdown]
# What the student is shown: the teacher's next-character distribution, sharpened or softened by $T$.

# %%
prompt = torch.tensor([tok.encode(text[1000:1000 + block])], device=lab.device)
with torch.no_grad():
    logits = teacher(prompt)[0][0, -1].float().cpu()
top = torch.topk(logits, 12).indices
tick_labels = [{" ": "␣", "\n": "\\n"}.get(c, c) for c in (tok.decode([i]) for i in top.tolist())]
fig, ax = plt.subplots(figsize=(8, 2.6))
for k, T in enumerate((1.0, 2.0, 4.0)):
    probs = soft_targets(logits, T)[top].numpy()
    ax.bar(np.arange(12) + (k - 1) * 0.27, probs, width=0.27, label=f"T = {T:g}")
ax.set_xticks(range(12), tick_labels)
context = tok.decode(prompt[0, -20:].tolist())
ax.set(ylabel="probability", title=f"teacher's next character after …{context!r}")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Now two students of the same small size and the same initial weights: one trained on the true
# characters only ($\alpha = 0$, the baseline), one distilled ($\alpha = 0.7$, $T = 2$). The claim: the
# distilled student ends below the labels-only one, for the same size and the same number of steps, and
# both above the teacher. When the teacher is the run
# `lmlab prepare` trained, the students it distilled from that teacher are loaded (the cell says so;
# `LMLAB_RETRAIN=05_students` distils them here); from any other teacher they are distilled here.

# %%
from lmlab.checkpoint import save_checkpoint  # noqa: E402
from lmlab.prepared import cached, read_record  # noqa: E402

student_cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=block, n_layer=1, n_head=2,
                        n_embd=max(32, teacher.config.n_embd // 4))
ALPHAS = (0.0, 0.7)


def new_student():
    torch.manual_seed(0)  # both students start from the same weights
    return GPT(student_cfg).to(lab.device)


def distil_students(out):
    histories = {}
    for alpha in ALPHAS:
        student, history = new_student(), History()
        distill(teacher, student, get_batch,
                DistillConfig(temperature=2.0, alpha=alpha, lr=3e-3, max_iters=SIZE["distill_iters"]),
                device=lab.device, val_batches=val_batches, eval_interval=max(10, SIZE["distill_iters"] // 8),
                history=history, progress=False)
        save_checkpoint(out / f"student_{alpha}" / "ckpt.pt", model=student, config=student_cfg, kind="gpt",
                        tokenizer=tok, history=history.records)
        histories[str(alpha)] = history.records
    return {"histories": histories, "distill_iters": SIZE["distill_iters"]}


# the students depend on their teacher: the prepared GPT of notebook 03, or the one found or trained here
if found and read_record(found[0]) is not None:
    teacher_key = gpt_03
else:
    teacher_key = f"not prepared: {found[0] if found else 'trained here'}"
run = cached("05_students", {"teacher": teacher_key, "distill_iters": SIZE["distill_iters"],
                             "alphas": list(ALPHAS), "temperature": 2.0, "lr": 3e-3, "block": 64, "batch": 16,
                             "text_chars": chars}, preset=lab.preset, corpus=corpus, fit=distil_students)
students, histories = {}, {}
for alpha in ALPHAS:
    students[alpha] = new_student()
    load_model_state(students[alpha], load_checkpoint(run.path / f"student_{alpha}"))
    histories[alpha] = History(run.metrics["histories"][str(alpha)])

fig, (ax, ax_bar) = plt.subplots(1, 2, figsize=(9.5, 2.8))
for alpha, h in histories.items():
    name = "labels only (α=0)" if alpha == 0 else "distilled (α=0.7)"
    ax.plot(*h.series("val_loss"), "o-", ms=3, label=name)
losses = [evaluate_lm(m, val_batches, lab.device) for m in (teacher, students[0.0], students[0.7])]
ax.axhline(losses[0], color="k", ls=":", label="teacher")
ax.set(xlabel="iteration", ylabel="validation loss (nats)", title="students")
ax.legend(fontsize=8)
sizes = [count_parameters(teacher), count_parameters(students[0.0]), count_parameters(students[0.7])]
ax_bar.scatter(sizes, losses, c=["k", "#4C72B0", "#DD8452"], s=40)
for s_, l_, name in zip(sizes, losses, ("teacher", "student α=0", "student α=0.7"), strict=True):
    ax_bar.annotate(name, (s_, l_), textcoords="offset points", xytext=(5, 5), fontsize=8)
ax_bar.set(xscale="log", xlabel="parameters", ylabel="validation loss", title="size vs loss")
plt.tight_layout()
plt.show()
names = ("teacher", "student, labels only", "student, distilled")
for name, s_, l_ in zip(names, sizes, losses, strict=True):
    print(f"{name:22} {s_:>9,} parameters   validation loss {l_:.3f}")

# %% [markdown]
# Is the gap between the two students more than noise? Each validation sequence is scored by both; the
# 95 % bootstrap interval of the per-sequence difference says whether the lead holds across the text.

# %%
import torch.nn.functional as F  # noqa: E402

from lmlab.eval.bootstrap import bootstrap_mean  # noqa: E402
from lmlab.eval.language_model import model_logits  # noqa: E402


def sequence_losses(model):
    """Mean loss (nats) of every validation sequence, (sequences,)."""
    with torch.no_grad():
        return torch.cat([F.cross_entropy(model_logits(model, x.to(lab.device)).float().transpose(1, 2),
                                          y.to(lab.device), reduction="none").mean(1).cpu()
                          for x, y in val_batches])


lead = (sequence_losses(students[0.0]) - sequence_losses(students[0.7])).tolist()
lo, hi = bootstrap_mean(lead)
print(f"distilled student below the labels-only one by {sum(lead) / len(lead):+.3f} nats "
      f"(95% interval {lo:+.3f} .. {hi:+.3f}, {len(lead)} sequences)")

# %% [markdown]
# A short run of a tiny student is noisy — the smoke preset's numbers can go either way, and an interval
# that holds 0 says so. What to look for at the class preset: an interval above 0 (the distilled student
# below the labels-only one) and both above the teacher. Distillation does not make a small model
# big; it makes it learn faster and more of what fits in it.
#
# **Exercise 3.** Write the distillation loss yourself (logits are `(B, T, V)`, targets `(B, T)`).

# %%
def my_distillation_loss(student_logits, teacher_logits, targets, temperature, alpha):
    return ...  # your code


check("scaling.distillation_loss", my_distillation_loss)

# %%
# the library's version, for reference: the loss and its two parts
parts = distillation_loss(*[torch.randn(2, 4, 6) for _ in range(2)], torch.zeros(2, 4, dtype=torch.long))
print({k: round(v.item(), 4) for k, v in parts.items()})

# %% [markdown]
# ## 4 · Pre-train, then fine-tune: MiniLM as a sentiment classifier
#
# `all-MiniLM-L6-v2` is a 6-layer BERT-style encoder (22.7<!--cite:minilm_params_m--> M parameters)
# pretrained on a billion sentence pairs — the model notebook 04 looked inside. (Using such a model on a
# task it saw no labelled example of is *zero-shot*; that is not the same as *unsupervised* learning, which
# is how a model learns from data without labels. Here we use labels: this is supervised fine-tuning.) It
# ships with the lab, so this runs offline. The task: the movie-review polarity sample that ships with
# gensim (Pang & Lee: 100 negative, 100 positive sentences). We hold out a quarter of the reviews,
# stratified, for testing.
#
# A sentence vector is the mean of the encoder's token vectors; a linear layer turns it into two scores:
#
# $$h = \frac{\sum_t m_t H_t}{\sum_t m_t}, \qquad \text{logits} = W h + b.$$

# %%
from lmlab.eval.classification import classification_report, plot_confusion  # noqa: E402
from lmlab.models.classifier import (  # noqa: E402
    POLARITY_LABELS,
    ClassifierConfig,
    SentenceClassifier,
    fine_tune,
    head_from_probe,
    load_minilm,
    load_polarity,
    predict,
    sentence_embeddings,
    stratified_split,
)

texts, labels = load_polarity()
train_idx, test_idx = stratified_split(labels, test_fraction=0.25, seed=0)
train_texts, test_texts = [texts[i] for i in train_idx], [texts[i] for i in test_idx]
print(f"{len(train_idx)} training and {len(test_idx)} test reviews, e.g.:")
for i in test_idx[:2]:
    print(f"  [{POLARITY_LABELS[labels[i]]}] {texts[i]}")

tokenizer, encoder = load_minilm(lab.device)
from lmlab.cite import cite  # noqa: E402

n_params = sum(p.numel() for p in encoder.parameters())
print(f"all-MiniLM-L6-v2: {cite('minilm_params_m', n_params / 1e6, '{:.1f}')} M parameters; "
      f"{cite('polarity_train_n', len(train_idx), '{}')} training and "
      f"{cite('polarity_test_n', len(test_idx), '{}')} test reviews (one is "
      f"{cite('polarity_point', 100 / len(test_idx), '{:.0f}')} points of accuracy)")
torch.manual_seed(0)
classifier = SentenceClassifier(encoder, n_classes=2).to(lab.device)

# %% [markdown]
# **Baselines first.** The floor: always answering the commonest training label. The simplest model that
# reads the words: **TF-IDF** (each review as a weighted bag of its words) and a logistic regression, which
# knows nothing but these 150 reviews. Then a **linear probe**: freeze the encoder, compute every sentence
# vector once, and fit only the linear layer (logistic regression). The probe beats TF-IDF by what
# pretraining already knows.

# %%
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

commonest = np.bincount(labels[train_idx]).argmax()
print(f"majority class: accuracy {(labels[test_idx] == commonest).mean():.2f}")
tfidf = TfidfVectorizer().fit(train_texts)
bag = LogisticRegression(max_iter=2000).fit(tfidf.transform(train_texts), labels[train_idx])
print(f"TF-IDF + logistic regression: accuracy "
      f"{(bag.predict(tfidf.transform(test_texts)) == labels[test_idx]).mean():.2f}")
features = sentence_embeddings(classifier, tokenizer, texts, device=lab.device)
probe = LogisticRegression(max_iter=2000).fit(features[train_idx], labels[train_idx])
probe_report = classification_report(labels[test_idx], probe.predict(features[test_idx]), POLARITY_LABELS)
n_probe = probe.coef_.size + probe.intercept_.size
print(f"linear probe: {cite('probe_numbers', n_probe, '{}')} numbers trained")
print(probe_report)

# %% [markdown]
# **Predict, then run.** The probe trained only a linear layer (385<!--cite:probe_numbers--> numbers: one
# weight per dimension of the sentence vector, and a bias).
# Fine-tuning, next, trains the encoder's 22.7<!--cite:minilm_params_m--> M parameters as well. On these
# 50<!--cite:polarity_test_n--> test reviews, which will be better? Commit to an
# answer before you run the next cells; a check after the measurement says what happened and why.
#
# - `"a"`: fine-tuning, clearly: its 95 % interval lies above the probe's
# - `"b"`: no clear winner: the intervals overlap
# - `"c"`: the probe, clearly: its interval lies above

# %%
prediction = ...  # one of "a", "b", "c"

# %% [markdown]
# **Fine-tuning.** Now the gradient flows into the encoder too: a small learning rate for the pretrained
# weights ($5\times10^{-5}$, so they move a little) and a larger one for the head. The head starts from
# the probe's weights ("linear probe, then fine-tune", Kumar et al. 2022): a *random* head would send
# large random gradients into the encoder during the first steps and damage the very features we want to
# keep. The smoke preset updates only the top Transformer layer for one epoch over 64 of the training
# sentences (seconds on a CPU); class and full update all six layers for several epochs over all 150.

# %%
head_from_probe(classifier, probe.coef_, probe.intercept_)
config = ClassifierConfig(epochs=SIZE["ft_epochs"], batch_size=16, encoder_lr=5e-5, head_lr=1e-3,
                          train_layers=SIZE["ft_layers"], seed=0)
n_ft = SIZE["ft_examples"] or len(train_idx)
result = fine_tune(classifier, tokenizer, train_texts[:n_ft], labels[train_idx][:n_ft], config,
                   device=lab.device, progress=False)
predicted = predict(classifier, tokenizer, test_texts, device=lab.device)
ft_report = classification_report(labels[test_idx], predicted, POLARITY_LABELS)
print(f"fine-tuned for {config.epochs} epoch(s), {result.next_iter} steps, {result.train_s:.1f} s\n")
print(ft_report)

# %% [markdown]
# Reading the numbers, for class $k$ and the confusion matrix $C$ (rows: truth, columns: prediction):
#
# $$\text{precision}_k = \frac{C_{kk}}{\sum_i C_{ik}}, \qquad \text{recall}_k = \frac{C_{kk}}{\sum_j C_{kj}},
#   \qquad F_1 = \frac{2PR}{P+R}, \qquad \text{accuracy} = \frac{\operatorname{tr} C}{\sum C}.$$
#
# Precision asks "when the model says *positive*, how often is it right?", recall "of the positive
# reviews, how many did it find?".
#
# **How sure are these numbers?** With $n$ = 50<!--cite:polarity_test_n--> test reviews, one review is
# 2<!--cite:polarity_point--> points of accuracy, and the standard error of an accuracy $a$ is
# $\sqrt{a(1-a)/n}$:

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 2.8), layout="constrained")
plot_confusion(probe_report, title=f"linear probe (acc {probe_report.accuracy:.2f})", ax=axes[0])
plot_confusion(ft_report, title=f"fine-tuned (acc {ft_report.accuracy:.2f})", ax=axes[1])
plt.show()
print({"probe": {k: round(v, 3) for k, v in probe_report.as_dict().items() if isinstance(v, float)},
       "fine-tuned": {k: round(v, 3) for k, v in ft_report.as_dict().items() if isinstance(v, float)}})

# %%
for name, report, key in (("linear probe", probe_report, "probe_halfwidth"),
                          ("fine-tuned", ft_report, "ft_halfwidth")):
    a, n = report.accuracy, int(report.support.sum())
    half = 1.96 * math.sqrt(a * (1 - a) / n)
    print(f"{name:12} accuracy {a:.2f}, 95% interval {a - half:.2f} .. {a + half:.2f} (±{cite(key, half)})")

# %%
check("scaling.predict_finetune", prediction,
      measured=(probe_report.accuracy, ft_report.accuracy, int(ft_report.support.sum())))

# %% [markdown]
# The intervals are about ±0.13<!--cite:ft_halfwidth@class--> wide: on 150<!--cite:polarity_train_n-->
# training sentences, fine-tuning and the probe are not distinguishable, and in our runs full fine-tuning
# lands anywhere from 0.70 to 0.78 depending on the epoch. That is the honest lesson of this data set: good
# pretrained sentence vectors plus a linear layer are already most of what 150 examples can teach;
# fine-tuning the encoder pays off with thousands of labelled examples (and a test set large enough to see
# the gain).
#
# **Exercise 4.** Compute per-class precision, recall and F1 from a confusion matrix.

# %%
def precision_recall_f1(confusion):
    confusion = np.asarray(confusion, dtype=float)
    return ...  # your code: three arrays (precision, recall, f1), one entry per class


check("scaling.precision_recall_f1", precision_recall_f1)

# %% [markdown]
# ## Summary
#
# - **Data parallel (DDP)**: N copies, the batch split N ways, gradients all-reduced: up to N times the
#   throughput (less the all-reduce's time; none on one laptop's shared cores) on the same loss curve.
#   `torchrun --nproc_per_node=N -m lmlab train gpt ...`
# - **Sharded data parallel** (FSDP, DeepSpeed ZeRO): data parallelism whose ranks each store a shard of
#   the weights, gradients and optimizer state.
# - **Model parallel**: layers or matrices split across GPUs, for models bigger than one GPU (pipeline
#   and tensor parallelism, Megatron-LM).
#   Notebook 08 runs FSDP2, tensor and pipeline parallelism here and proves each against one process.
# - **bf16 autocast**: matmuls in 16 bits, weights and optimizer in fp32: speed and activation memory on
#   GPUs; `--precision auto` picks it. **fp16** needs a GradScaler as well (pre-Ampere GPUs).
# - **Distillation**: a student learns the teacher's softened predictions (`lmlab.models.distill`).
# - **Fine-tuning**: a pretrained encoder plus a new head learns a task from 150 examples
#   (`lmlab.models.classifier`, metrics in `lmlab.eval.classification`).
#
# To try: run the 2-rank cell with `--grad-accum 1` and `--batch-size 2`; set `alpha=1.0` (teacher only)
# in the distillation cell; fine-tune with `train_layers=0` and compare with the probe.
