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

# %%

# %% [markdown]
# # 08 · Models bigger than one device, and models made small
#
# Notebook 05 trained one model on several processes by copying it (data parallelism, DDP). This one
# goes further in both directions, with the engines PyTorch itself ships, each run here and **proved
# against one process**:
#
# 1. **Sharded data parallel (FSDP2)**: each rank keeps only 1/N of the weights, gradients and
#    optimizer state. **Tensor parallelism** (Megatron): each weight matrix is split over the ranks.
#    **Pipeline parallelism** (GPipe): each rank holds a slice of the layers.
# 2. **Making models small**: int8 quantization and magnitude pruning, measured in bytes, tokens/s and
#    validation loss, beside distillation's student.
# 3. **Training hygiene**: over-fitting, early stopping, dropout and weight decay, data augmentation.
#
# The model file (`lmlab/models/transformer/model.py`) never mentions any of this: the parallel plans
# live in `lmlab/parallel/` and take the plain model and a device mesh (torchtitan's layout).

# %%
from lmlab.notebook import setup

lab = setup()

# %%
import copy
import inspect
import json
import os
import subprocess
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from lmlab.data import load_text_or_fallback
from lmlab.distributed import launch, torchrun_command
from lmlab.exercises import check

SIZE = {  # smoke: CI in seconds (one 2-rank launch); class: minutes on 2 cores
    "smoke": dict(bubble="2,64,32,16", ms="1,2,4", cli=False, iters=20, gpt=(2, 64), prune_ft=5, gen=10,
                  prune=(0.0, 0.5, 0.9), distill_iters=20, hygiene_iters=40, grid=False, aug_copies=1,
                  aug_seeds=1, aug_examples=40),
    "class": dict(bubble="4,128,64,32", ms="1,2,4,8", cli=True, iters=600, gpt=(4, 128), prune_ft=60,
                  gen=100, prune=(0.0, 0.3, 0.5, 0.7, 0.8, 0.9), distill_iters=300, hygiene_iters=500,
                  grid=True, aug_copies=3, aug_seeds=3, aug_examples=None),
    "full": dict(bubble="4,256,128,32", ms="1,2,4,8,16", cli=True, iters=2000, gpt=(6, 384), prune_ft=200,
                 gen=200, prune=(0.0, 0.3, 0.5, 0.7, 0.8, 0.9), distill_iters=1000, hygiene_iters=1500,
                 grid=True, aug_copies=3, aug_seeds=5, aug_examples=None),
}[lab.preset]
work = Path(tempfile.mkdtemp(prefix="lmlab08_"))

# %% [markdown]
# ## 1 · Who holds what
#
# Take one Linear weight $W$ of shape (out, in) and $N$ ranks:
#
# | scheme | each rank holds | communication per step |
# |---|---|---|
# | DDP | all of $W$, its gradient, Adam's $m$, $v$ | all-reduce the gradients |
# | FSDP | 1/N of $W$ (cut along dim 0), its gradient, $m$, $v$ | all-gather $W$, reduce-scatter grads |
# | tensor parallel, column | the weights of its own output units only (its heads, its hidden units) | — |
# | tensor parallel, row | the weights that read its own slice of the input | all-reduce the partial outputs |
# | pipeline | whole matrices, but only its layers' | send activations forward, gradients back |
#
# FSDP keeps DDP's arithmetic (every rank still computes a whole model on its part of the batch): per
# parameter it stores $16/N$ bytes of fp32 AdamW state instead of 16. Tensor parallelism splits the
# arithmetic itself. In a Transformer block, Megatron-LM pairs the two splits so that they need no
# communication in between:
#
# $$Y = \text{act}(X A)\,B,\qquad A = [A_1, A_2]\ \text{(column)},\quad
#   B = \begin{bmatrix}B_1\\ B_2\end{bmatrix}\ \text{(row)} \;\Rightarrow\;
#   Y = \underbrace{\text{act}(X A_1) B_1}_{\text{rank 1}}
#     + \underbrace{\text{act}(X A_2) B_2}_{\text{rank 2}}$$
#
# because an element-wise activation of a column block is the column block of the activation. The
# attention heads split the same way (W_qkv by heads, column; W_o, row). The plan is a dictionary:

# %%
from lmlab.parallel import tensor as tp_plan  # noqa: E402

print(inspect.getsource(tp_plan.apply_tp))

# %% [markdown]
# And what a column-parallel layer does, written by hand: each rank multiplies by its rows of $W$ and an
# **all-gather** puts the pieces side by side. (The engine does this for us; we only write it once.)

# %%
print(inspect.getsource(tp_plan.column_parallel_matmul))

# %% [markdown]
# **Exercise 1.** Turn the table's words into shapes: which shape of a weight does one rank hold?
# `scheme` is `"ddp"`, `"fsdp"` or `"tp"`; `role` is `"column"` or `"row"` (it matters for tensor
# parallelism only); `shape` is (out, in), as `nn.Linear` stores it ($y = x W^\top$: row $j$ of $W$ makes
# output unit $j$).

# %%
def local_shape(scheme, role, shape, n):
    out_features, in_features = shape
    return ...  # your code: a tuple (rows, columns) this rank holds


check("parallel.local_shape", local_shape)

# %% [markdown]
# ## 2 · Three engines on two ranks, against one process
#
# `lmlab.parallel.compare` runs under `torchrun` (2 processes here, gloo on the CPU; NCCL on GPUs). Every
# rank builds the same tiny GPT and sees the same global batch; one process trains the same model on
# the whole batch. It reports FSDP's and the pipeline's losses beside the single process's, each
# rank's bytes, the tensor-parallel model's forward and gradients against the unsplit one, and the
# pipeline's step time as the number of micro-batches $m$ grows.

# %% [markdown]
# **Predict, then run.** Two ranks each hold a part of the model (a shard, a stage, or half of each matrix)
# and train 6<!--cite:compare_steps--> steps. One process trains the whole model on the same batches. How do
# the results compare?
# Commit to an answer before you run the next cells; a check after the measurement says what happened and
# why.
#
# - `"a"`: the same, up to float rounding (gaps below 1e-4)
# - `"b"`: clearly different: each rank trains its own part, and the parts are merged

# %%
prediction = ...  # one of "a", "b"

# %%
from lmlab.cite import cite  # noqa: E402

STEPS = 6
out_json = work / "compare.json"
cmd = torchrun_command(2, ["--schemes", "fsdp,tp,pp,bubble", "--steps", str(STEPS),
                           "--bubble-size", SIZE["bubble"], "--microbatches", SIZE["ms"],
                           "--out", str(out_json)],
                       module="lmlab.parallel.compare")
print("$ torchrun --standalone --nproc_per_node=2 -m lmlab.parallel.compare --out compare.json ...")
proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                      timeout=600)
if proc.returncode:
    raise RuntimeError(proc.stderr[-2000:])
res = json.loads(out_json.read_text())
single = res["single"]["losses"]
for name in ("fsdp", "pp"):
    diff = max(abs(a - b) for a, b in zip(res[name]["losses"], single, strict=True))
    print(f"{name:4s}: losses {np.round(res[name]['losses'], 4)}, largest gap to one process {diff:.1e}")
tp = res["tp"]
print(f"tp  : logits differ by {tp['logits_max_diff']:.1e}, gradients by {tp['grad_max_diff']:.1e}; "
      f"each rank holds W_qkv {tp['local_W_qkv_shape']} of {tp['full_W_qkv_shape']}")
print(f"hand-written column-parallel matmul differs from x @ W.T by {tp['hand_matmul_max_diff']:.1e}")
print(f"{cite('compare_steps', len(single), '{}')} steps on each engine and on one process")

# %%
largest_gap = max([max(abs(a - b) for a, b in zip(res[name]["losses"], single, strict=True))
                   for name in ("fsdp", "pp")] + [tp["logits_max_diff"], tp["grad_max_diff"]])
check("parallel.predict_same_model", prediction, measured=largest_gap)

# %% [markdown]
# The gaps are float32 rounding (sums taken in another order): the engines compute exactly the same
# model.
#
# Before the next figure, the pipeline's cost. GPipe cuts the batch into $m$ micro-batches; stage 1 (the
# first layers, on rank 1) runs micro-batch 1, hands its activations to stage 2 and starts micro-batch 2,
# and so on. One slot is the time one stage needs for one micro-batch. With $p = 2$ stages and $m = 3$
# micro-batches, the forward pass:
#
# | slot | 1 | 2 | 3 | 4 |
# |---|---|---|---|---|
# | stage 1 | F1 | F2 | F3 | · |
# | stage 2 | · | F1 | F2 | F3 |
#
# (the backward pass mirrors it). A `·` is a stage waiting: the **bubble**.
#
# **Exercise 2.** Generalise the table: with $p$ stages and $m$ micro-batches, what share of a step is each
# stage idle? Write `bubble(p, m)`.

# %%
def bubble(p, m):
    return ...  # your code: the idle share of each stage in one GPipe step


check("parallel.bubble", bubble)

# %% [markdown]
# Now the memory: bytes each rank keeps, DDP (a full copy, measured in the single process) against FSDP;
# and the bubble, your formula beside the pipeline's measured idle time.

# %%
kinds = ("params", "grads", "optimizer")
ddp = [res["single"]["bytes"][k] / 1e3 for k in kinds]
fsdp = [res["fsdp"]["bytes_per_rank"][0][k] / 1e3 for k in kinds]
fig, (ax_m, ax_b) = plt.subplots(1, 2, figsize=(10, 3.4))
x = np.arange(3)
ax_m.bar(x - 0.2, ddp, 0.4, label="DDP (every rank)")
ax_m.bar(x + 0.2, fsdp, 0.4, label="FSDP (rank 0 of 2)")
ax_m.set_xticks(x, kinds)
ax_m.set(ylabel="kB per rank", title="per-rank memory: FSDP keeps 1/N")
ax_m.legend()
bub = res["bubble"]
ms = [b["m"] for b in bub]
ax_b.plot(ms, [b["formula"] for b in bub], "o-", label="(p − 1) / (m + p − 1)")
ax_b.plot(ms, [b["measured_bubble"] for b in bub], "s--", label="measured: 1 − (t₁/p) / t_pipe")
ax_b.set(xscale="log", xlabel="micro-batches m", ylabel="idle share of a step", title="GPipe bubble, p = 2")
ax_b.set_xticks(ms, [str(m) for m in ms])
ax_b.legend()
plt.tight_layout()
plt.show()
print("FSDP / DDP bytes:", [round(f / d, 3) for f, d in zip(fsdp, ddp, strict=True)])

# %% [markdown]
# The bubble: with $p$ stages and $m$ micro-batches, a GPipe step takes $m + p - 1$ slots and each stage
# works in $m$ of them, so each is idle $(p-1)/(m+p-1)$ of the step. The measured share adds what the
# formula leaves out — sending activations between processes, and smaller matmuls that run less
# efficiently — so it stops falling once the micro-batches get small (and on a shared CPU the timings are
# noisy).

# %% [markdown]
# ### The same from the command line
#
# `lmlab train gpt --parallel {ddp,fsdp,tp,pp}` runs the lab's GPT trainer under each plan; `ckpt.pt` is
# a plain single-process checkpoint, and FSDP also writes `OUT/dcp/`, a sharded checkpoint (one file per
# rank) written with `torch.distributed.checkpoint`. One process reads it back and samples:
#
#     torchrun --standalone --nproc_per_node=2 -m lmlab train gpt --parallel fsdp \
#         --max-iters 200 --out runs/fsdp
#     torchrun --standalone --nproc_per_node=2 -m lmlab train gpt --parallel fsdp \
#         --max-iters 400 --out runs/fsdp --resume

# %%
if SIZE["cli"]:
    from lmlab.checkpoint import load_checkpoint  # noqa: E402
    from lmlab.models.transformer import GPT, GPTConfig  # noqa: E402
    from lmlab.models.transformer.generate import sample_text  # noqa: E402
    from lmlab.parallel.checkpoint import load_sharded_into  # noqa: E402

    run_dir = work / "fsdp"
    launch(2, ["train", "gpt", "--parallel", "fsdp", "--preset", "smoke", "--max-iters", "200",
               "--eval-interval", "100", "--device", "cpu", "--no-progress", "--out", str(run_dir)])
    payload = load_checkpoint(run_dir / "ckpt.pt")
    model = load_sharded_into(GPT(GPTConfig(**payload["config"])), run_dir / "dcp")
    print(sorted(p.name for p in (run_dir / "dcp").iterdir()))
    from lmlab.tokenizers import tokenizer_from_dict  # noqa: E402

    print(sample_text(model.eval(), tokenizer_from_dict(payload["tokenizer"]), "\n", 120, seed=0))
else:
    print("(the smoke preset skips the CLI run; the class preset trains 200 steps on 2 ranks here)")

# %% [markdown]
# ## 3 · Making models small: int8 and pruning
#
# **Dynamic int8 quantization** stores each weight matrix as int8 with a scale $s$ and zero point $z$,
# $W \approx s\,(q - z)$: 1 byte per weight instead of 4. At run time the activations are quantized on
# the fly and the matmul runs in int8 (fbgemm's kernels on x86). lmlab uses PyTorch's
# `torch.ao.quantization.quantize_dynamic`, although it warns it is deprecated in favour of `torchao`:
# measured here, torchao 0.18 runs on this CPU but its int8 paths are 2–18× *slower* than float32
# without `torch.compile`, and it cannot quantize an LSTM (`benchmarks/compression.py --torchao`).
#
# First an LSTM and a GPT, trained briefly on the same characters.

# %%
from lmlab.compress import magnitude_prune, model_bytes, nonzero_bytes, quantize_int8, sparsity  # noqa: E402
from lmlab.compress.measure import (  # noqa: E402
    compare_speed,
    gpt_generate_tokens,
    lstm_generate_tokens,
    train_lm,
    val_batches,
)
from lmlab.eval.language_model import evaluate_lm  # noqa: E402
from lmlab.models.lstm.model import LSTMConfig, LSTMLanguageModel  # noqa: E402
from lmlab.models.transformer import GPT, GPTConfig  # noqa: E402
from lmlab.models.transformer.trainer import TokenData  # noqa: E402
from lmlab.prepared import cached  # noqa: E402
from lmlab.tokenizers import CharTokenizer  # noqa: E402

torch.set_num_threads(1)
text, corpus = load_text_or_fallback("tiny_shakespeare")
text = text[:300_000]
tok = CharTokenizer.fit(text)
data = TokenData.from_text(text, tok)
batches = val_batches(data, block_size=64)
n_layer, width = SIZE["gpt"]
torch.manual_seed(0)
lstm = LSTMLanguageModel(LSTMConfig(vocab_size=tok.vocab_size, hidden=256, n_layer=2, dropout=0.0))
gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=n_layer, n_head=4, n_embd=width))
MODELS = {"lstm": lstm, "gpt": gpt}


def save_weights(models, out):
    for name, model in models.items():
        torch.save(model.state_dict(), out / f"{name}.pt")


def load_weights(models, prep):
    for name, model in models.items():
        model.load_state_dict(torch.load(prep.path / f"{name}.pt", map_location="cpu", weights_only=True))
        model.eval()
    return models


def train_both(out):
    for model in MODELS.values():
        train_lm(model, data, SIZE["iters"])
    save_weights(MODELS, out)
    return MODELS


# a run `lmlab prepare` trained ahead of the lesson is loaded instead (it says so)
compress_key = {"iters": SIZE["iters"], "gpt": SIZE["gpt"], "chars": len(text), "lstm_hidden": 256,
                "lstm_layers": 2, "seed": 0}
cached("08_compress_models", compress_key, preset=lab.preset, corpus=corpus, fit=train_both,
       load=lambda prep: load_weights(MODELS, prep))

rows = []
for name, model, gen in (("LSTM", lstm, lambda m: lstm_generate_tokens(m, SIZE["gen"], tok.vocab_size)),
                         ("GPT", gpt, lambda m: gpt_generate_tokens(m, min(SIZE["gen"], 60)))):
    q = quantize_int8(model)
    speed = compare_speed({"fp32": lambda m=model, g=gen: g(m), "int8": lambda q=q, g=gen: g(q)}, rounds=3)
    rows.append((name, model_bytes(model), model_bytes(q), evaluate_lm(model, batches),
                 evaluate_lm(q, batches), speed["int8"] / speed["fp32"]))
print(f"{'model':5s} {'fp32 kB':>8s} {'int8 kB':>8s} {'val fp32':>9s} {'val int8':>9s} {'int8 speed':>10s}")
for name, b32, b8, v32, v8, sp in rows:
    print(f"{name:5s} {b32 / 1e3:8.0f} {b8 / 1e3:8.0f} {v32:9.4f} {v8:9.4f} {sp:9.2f}x")

# %% [markdown]
# The sizes shrink by ~4× where the weights are matrices (the embedding stays float: it is a lookup).
# Speed is the part to measure rather than assume: int8 pays where a step is bound by reading weights
# (the LSTM's recurrent matrices at batch 1); the small GPT's step is many small operations (attention,
# LayerNorm, the cache), and quantizing activations on the fly costs more than the int8 matmul saves.
# `benchmarks/compression.py` measures both at a fixed size against their float32 selves.
#
# **Exercise 3.** The full preset's MLP matrix is (1536, 384). How many bytes does it take as int8, with
# torch's one float64 scale and one int64 zero point?

# %%
int8_matrix_bytes = ...  # your code: a number

check("parallel.int8_bytes", int8_matrix_bytes)

# %% [markdown]
# **Magnitude pruning** sets the fraction $s$ of weights with the smallest $|w|$ (over all matrices
# together) to zero. Straight after pruning the model is worse; a short fine-tune with the zeros held
# fixed (the mask stays) recovers much of it. The claim to check: the smallest weights matter least, so
# magnitude pruning should cost far less than zeroing the same share of weights **at random**, the
# baseline drawn beside it (three random masks per sparsity; the bars span them).

# %%
amounts = list(SIZE["prune"])


def prune_sweep(out):
    rows = []
    for s in amounts:
        pruned = magnitude_prune(copy.deepcopy(lstm), s, permanent=False)
        before = evaluate_lm(pruned, batches)
        train_lm(pruned, data, SIZE["prune_ft"], lr=1e-3, seed=7)
        rows.append((s, before, evaluate_lm(pruned, batches), sparsity(pruned)))
    return {"sweep": rows}


sweep = cached("08_prune_sweep", {**compress_key, "prune_ft": SIZE["prune_ft"], "prune": amounts},
               preset=lab.preset, corpus=corpus, fit=prune_sweep).metrics["sweep"]
from torch.nn.utils import prune as torch_prune  # noqa: E402

from lmlab.compress.prune import make_permanent, prunable  # noqa: E402


def random_prune_loss(s, seed):
    """Validation loss with the fraction s of the same matrices zeroed at random (no fine-tune)."""
    torch.manual_seed(seed)
    model = copy.deepcopy(lstm)
    if s > 0:
        torch_prune.global_unstructured(prunable(model), pruning_method=torch_prune.RandomUnstructured,
                                        amount=s)
        make_permanent(model)
    return evaluate_lm(model, batches)


at_random = np.array([[random_prune_loss(s, seed) for seed in range(3)] for s in amounts])  # (sparsities, 3)
fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(amounts, [r[1] for r in sweep], "o-", label="pruned")
ax.plot(amounts, [r[2] for r in sweep], "s-", label=f"pruned + {SIZE['prune_ft']} fine-tune steps")
ax.errorbar(amounts, at_random.mean(1), yerr=[at_random.mean(1) - at_random.min(1),
                                              at_random.max(1) - at_random.mean(1)],
            fmt="^:", color="gray", capsize=3, label="baseline: the same share zeroed at random")
ax.set(xlabel="sparsity (fraction of weights = 0)", ylabel="validation loss (nats/char)",
       title="LSTM: magnitude pruning")
ax.legend()
plt.show()
dense90 = magnitude_prune(copy.deepcopy(lstm), 0.9)
sp = compare_speed({"dense": lambda: lstm_generate_tokens(lstm, SIZE["gen"], tok.vocab_size),
                    "90% zeros": lambda: lstm_generate_tokens(dense90, SIZE["gen"], tok.vocab_size)},
                   rounds=3)
for (s, before, _, _), rand in zip(sweep, at_random, strict=True):
    print(f"sparsity {s:.1f}: magnitude {before:.3f}, at random {rand.mean():.3f} "
          f"({rand.min():.3f} .. {rand.max():.3f}) nats/char before fine-tuning")
print(f"90 % zeros: {model_bytes(dense90) / 1e3:.0f} kB on disk (dense {model_bytes(lstm) / 1e3:.0f} kB), "
      f"generation at {sp['90% zeros'] / sp['dense']:.2f}x the dense speed")

# %% [markdown]
# What unstructured sparsity does and does not buy on a CPU: the zeros are still stored (same bytes on
# disk) and multiplied (same speed) by the dense kernels. It pays only when the zeros are *stored*
# sparsely (a sparse format, or compression of the file) or multiplied by sparse kernels, which beat
# dense ones only at very high sparsity. Speed comes from *structured* pruning: whole rows, heads or
# layers removed, or the 2:4 pattern that recent GPUs accelerate.
#
# ### Size against quality, with distillation
#
# Notebook 05 distilled a small GPT from a big one. All the small models on one plot: bytes on the
# x-axis (a pruned model counted as if its zeros were not stored), validation loss on the y-axis.

# %%
from lmlab.models.distill import DistillConfig, distill  # noqa: E402

teacher = gpt
teacher_pruned = magnitude_prune(copy.deepcopy(teacher), 0.5, permanent=False)
torch.manual_seed(0)
student = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=4, n_embd=width // 2))
SMALL = {"teacher_pruned": teacher_pruned, "student": student}


def shrink(out):
    train_lm(teacher_pruned, data, SIZE["prune_ft"], lr=1e-3, seed=7)
    distill(teacher, student,
            lambda it: data.batch("train", 16, 64, torch.Generator().manual_seed(50_000 + it)),
            DistillConfig(max_iters=SIZE["distill_iters"], temperature=2.0, alpha=0.5, lr=3e-3),
            progress=False)
    save_weights(SMALL, out)
    return SMALL


small_key = {**compress_key, "prune_ft": SIZE["prune_ft"], "distill_iters": SIZE["distill_iters"],
             "student": "1x/2"}
cached("08_small_models", small_key, preset=lab.preset, corpus=corpus, fit=shrink,
       load=lambda prep: load_weights(SMALL, prep))

# a pruned model counted by the weights it computes with (not weight_orig, which keeps the pruned values)
points = {"teacher (fp32)": (model_bytes(teacher), evaluate_lm(teacher, batches)),
          "teacher int8": (model_bytes(quantize_int8(teacher)), evaluate_lm(quantize_int8(teacher), batches)),
          "teacher 50 % pruned": (nonzero_bytes(teacher_pruned), evaluate_lm(teacher_pruned, batches)),
          "distilled student": (model_bytes(student), evaluate_lm(student, batches)),
          "student int8": (model_bytes(quantize_int8(student)), evaluate_lm(quantize_int8(student), batches))}
fig, ax = plt.subplots(figsize=(6.5, 3.6))
for label, (b, v) in points.items():
    ax.scatter(b / 1e3, v, s=40)
    ax.annotate(label, (b / 1e3, v), textcoords="offset points", xytext=(5, 4), fontsize=8)
ax.set(xscale="log", xlabel="kB (log)", ylabel="validation loss (nats/char)", title="size vs quality")
plt.show()

# %% [markdown]
# ## 4 · Training hygiene
#
# **Over-fitting made visible.** A model with enough capacity learns a *small* corpus by heart: the
# training loss keeps falling while the validation loss turns up. Here the GPT sees
# 20,000<!--cite:hygiene_chars--> characters.
# **Early stopping** watches the validation loss and stops after `patience` evaluations without
# improvement, then puts back the weights of the best evaluation (`best.pt`, which the trainer writes
# whenever validation improves).

# %%
from lmlab.models.transformer.early_stop import train_early_stopping  # noqa: E402
from lmlab.models.transformer.trainer import GPTRecipe, TrainConfig  # noqa: E402
from lmlab.train.engine import train  # noqa: E402

small = TokenData.from_text(text[:20_000], tok, val_text=text[200_000:210_000])
print(f"{cite('hygiene_chars', len(text[:20_000]), '{:,}')} training characters")


def small_gpt(dropout=0.0):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=n_layer, n_head=4, n_embd=width,
                         dropout=dropout))


def hygiene_config(weight_decay=0.1):
    n = SIZE["hygiene_iters"]
    return TrainConfig(batch_size=16, max_iters=n, lr=3e-3, min_lr=3e-4, warmup_iters=20, lr_decay_iters=n,
                       eval_interval=max(10, n // 12), eval_iters=4, weight_decay=weight_decay)


def over_fit(out):
    full_run = train(GPTRecipe(hygiene_config(), small), model=small_gpt(), progress=False)
    stopped = train_early_stopping(GPTRecipe(hygiene_config(), small), model=small_gpt(), patience=2,
                                   out=out / "early", progress=False).extra
    return {"evals": [r for r in full_run.history.records if "val_loss" in r],
            "stopped": {k: stopped[k] for k in ("best_iter", "stopped_at", "best_val")}}


hygiene_key = {**compress_key, "hygiene_iters": SIZE["hygiene_iters"], "small_chars": 20_000,
               "val_chars": [200_000, 210_000], "patience": 2}
hygiene = cached("08_hygiene", hygiene_key, preset=lab.preset, corpus=corpus, fit=over_fit)
evals, best = hygiene.metrics["evals"], hygiene.metrics["stopped"]
fig, ax = plt.subplots(figsize=(6.5, 3.4))
ax.plot([r["iter"] for r in evals], [r["train_loss"] for r in evals], "o-", label="train")
ax.plot([r["iter"] for r in evals], [r["val_loss"] for r in evals], "s-", label="validation")
ax.axvline(best["best_iter"], color="gray", ls=":", label="early stopping's best.pt")
ax.set(xlabel="iteration", ylabel="loss (nats/char)", title="20 k characters: the curves part")
ax.legend()
plt.show()
print(f"early stopping: stopped at {best['stopped_at']} of {hygiene_config().max_iters} iterations, "
      f"restored iteration {best['best_iter']} (val {best['best_val']:.3f}); "
      f"the full run ends at val {evals[-1]['val_loss']:.3f}")

# %% [markdown]
# **Dropout and weight decay**, the two regularisers the GPT trainer has, measured on the same small
# corpus (the best validation loss of each run; class preset: 4 runs).

# %%
GRID = [(dropout, wd) for dropout in (0.0, 0.2) for wd in (0.0, 0.1)]


def regularise(out):
    runs = {f"{dropout} {wd}": train(GPTRecipe(hygiene_config(wd), small), model=small_gpt(dropout),
                                     progress=False)
            for dropout, wd in GRID}
    return {key: run.metrics for key, run in runs.items()}


if SIZE["grid"]:
    grid = cached("08_grid", {**hygiene_key, "grid": GRID}, preset=lab.preset, corpus=corpus, fit=regularise)
    print(f"{'dropout':>8s} {'weight decay':>12s} {'best val':>9s} {'last val':>9s} {'last train':>10s}")
    for dropout, wd in GRID:
        r = grid.metrics[f"{dropout} {wd}"]
        print(f"{dropout:8.1f} {wd:12.1f} {r['best_val_loss']:9.3f} {r['val_loss']:9.3f} "
              f"{r['eval_train_loss']:10.3f}")
else:
    print("(the class preset trains the 2 x 2 grid of dropout and weight decay here)")

# %% [markdown]
# **Data augmentation for the classifier.** With 150<!--cite:aug_train_n--> labelled reviews, new training
# sentences can be
# made by small edits of real ones (EDA, Wei & Zou 2019, without a thesaurus): drop each word with
# probability 0.1 and swap one random pair. The pretrained MiniLM encoder (frozen) turns every sentence
# into a vector and a logistic regression learns the labels: once from the originals, once from
# originals plus edited copies. Test accuracy over several seeds of the split tells whether it helps;
# beside both stands the baseline that reads nothing, always answering the commonest training label.

# %%
from sklearn.linear_model import LogisticRegression  # noqa: E402

from lmlab.models.augment import augment  # noqa: E402
from lmlab.models.classifier import (  # noqa: E402
    SentenceClassifier,
    load_minilm,
    load_polarity,
    sentence_embeddings,
    stratified_split,
)

texts, labels = load_polarity()
n_train, n_test = (len(i) for i in stratified_split(labels, test_fraction=0.25, seed=0))
print(f"{cite('aug_train_n', n_train, '{}')} training and {cite('aug_test_n', n_test, '{}')} test reviews; "
      f"one test review is {cite('aug_point', 100 / n_test, '{:.0f}')} points of accuracy")
mini_tok, encoder = load_minilm("cpu")
clf = SentenceClassifier(encoder, n_classes=2)


def compare_augmentation(out):
    scores = {"originals": [], "with augmentation": []}
    majority = []  # the commonest training label's test accuracy, for each split
    for seed in range(SIZE["aug_seeds"]):
        train_idx, test_idx = stratified_split(labels, test_fraction=0.25, seed=seed)
        train_idx = train_idx[:SIZE["aug_examples"]]  # smoke: 40 of the 150 training reviews
        aug_t, aug_y = augment([texts[i] for i in train_idx], labels[train_idx].tolist(),
                               copies=SIZE["aug_copies"], seed=seed)
        test_x = sentence_embeddings(clf, mini_tok, [texts[i] for i in test_idx])
        commonest = np.bincount(labels[train_idx]).argmax()
        majority.append(float((labels[test_idx] == commonest).mean()))
        for name, (tx, ty) in {"originals": (aug_t[:len(train_idx)], aug_y[:len(train_idx)]),
                               "with augmentation": (aug_t, aug_y)}.items():
            probe = LogisticRegression(max_iter=2000).fit(sentence_embeddings(clf, mini_tok, tx), ty)
            scores[name].append(float((probe.predict(test_x) == labels[test_idx]).mean()))
    return {"scores": scores, "majority": majority}


# a cached result, not a model: the scores per seed
augmented = cached("08_augment", {**{k: SIZE[k] for k in ("aug_copies", "aug_seeds", "aug_examples")},
                                  "test_fraction": 0.25, "encoder": "all-MiniLM-L6-v2", "max_iter": 2000},
                   preset=lab.preset, corpus="pang_lee_polarity", fit=compare_augmentation)
scores, majority = augmented.metrics["scores"], augmented.metrics.get("majority", [])
for name, acc in scores.items():
    each = ", ".join(f"{a:.2f}" for a in acc)
    print(f"{name:18s} test accuracy {np.mean(acc):.3f} ± {np.std(acc):.3f}  ({each})")
if majority:
    print(f"{'majority class':18s} test accuracy {np.mean(majority):.3f}  (always the commonest label)")

# %% [markdown]
# With 50<!--cite:aug_test_n--> test reviews one review is 2<!--cite:aug_point--> points of accuracy, so
# differences below that are noise; the
# honest reading of the numbers above is whatever they show, not what augmentation promises.
#
# ## Summary
#
# - **FSDP2** (`apply_fsdp`): data parallel with 1/N of the weights, gradients and optimizer state per
#   rank; the same loss curve as one process. **Tensor parallel** (`apply_tp`): Megatron's column/row
#   split, two all-reduces per block. **Pipeline** (`pipeline_stage` + GPipe): layers split, bubble
#   $(p-1)/(m+p-1)$. All under `torchrun`, from `lmlab train gpt --parallel ...`.
# - **int8** (`quantize_int8`): ~4× smaller matrices, nearly the same loss; faster only where reading
#   weights dominates. **Pruning** (`magnitude_prune`): zeros that cost the same on a CPU unless stored
#   or computed sparsely.
# - **Hygiene**: watch train and validation part, stop early and restore `best.pt`, regularise with
#   dropout and weight decay, and measure whether augmentation helps before believing it does.
