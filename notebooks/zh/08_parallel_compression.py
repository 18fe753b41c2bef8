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
# # 08 · 一台设备装不下的模型，以及变小的模型
#
# 05 号笔记本通过复制模型，在多个进程上训练同一个模型（数据并行，DDP）。这个笔记本朝两个方向走得更远，使用的都是 PyTorch
# 自带的引擎，每一种都在这里运行，并**与单进程的结果对照验证**：
#
# 1. **分片数据并行（FSDP2）**：每个 rank 只保存 1/N 的权重、梯度和优化器状态。**张量并行**（tensor parallelism，Megatron）：每个权重矩阵被切分到各个 rank 上。**流水线并行**（pipeline parallelism，GPipe）：每个 rank 持有一段层。
# 2. **让模型变小**：int8 量化和按幅值剪枝，用字节数、每秒 token 数和验证损失来衡量，并与蒸馏出的学生模型并列比较。
# 3. **训练的好习惯**：过拟合、早停、dropout 与权重衰减、数据增强。
#
# 模型文件（`lmlab/models/transformer/model.py`）完全不提这些：并行方案放在 `lmlab/parallel/` 中，接收普通的模型和一个设备网格（device mesh，torchtitan 的布局）。

# %%
from lmlab.notebook import setup

lab = setup(lang="zh")

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

SIZE = {  # smoke：CI 中几秒完成（一次双 rank 启动）；class：在 2 个核上几分钟
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
# ## 1 · 谁持有什么
#
# 取一个形状为 (out, in) 的 Linear 权重 $W$，以及 $N$ 个 rank：
#
# | 方案 | 每个 rank 持有 | 每步的通信 |
# |---|---|---|
# | DDP | 整个 $W$、它的梯度、Adam 的 $m$、$v$ | 对梯度做 all-reduce |
# | FSDP | $W$ 的 1/N（沿第 0 维切分）、它的梯度、$m$、$v$ | 对 $W$ 做 all-gather，对梯度做 reduce-scatter |
# | 张量并行，按列 | 只有它自己那些输出单元（它的头、它的隐藏单元）的权重 | — |
# | 张量并行，按行 | 读取它那一片输入的权重 | 对部分输出做 all-reduce |
# | 流水线 | 完整的矩阵，但只有它那几层的 | 向前发送激活值，向后发送梯度 |
#
# FSDP 保持了 DDP 的计算方式（每个 rank 仍在自己那部分批次上计算整个模型）：每个参数保存 $16/N$ 字节的 fp32 AdamW 状态，而不是 16 字节。张量并行则把计算本身切开。在一个 Transformer 块中，Megatron-LM 把两种切法配成一对，使它们之间不需要通信：
#
# $$Y = \text{act}(X A)\,B,\qquad A = [A_1, A_2]\ \text{(column)},\quad
#   B = \begin{bmatrix}B_1\\ B_2\end{bmatrix}\ \text{(row)} \;\Rightarrow\;
#   Y = \underbrace{\text{act}(X A_1) B_1}_{\text{rank 1}}
#     + \underbrace{\text{act}(X A_2) B_2}_{\text{rank 2}}$$
#
# 因为对一个列块做逐元素激活，得到的正是激活结果的那个列块。注意力头也用同样的方式切分（W_qkv 按头切，按列；W_o 按行）。这个方案就是一个字典：

# %%
from lmlab.parallel import tensor as tp_plan  # noqa: E402

print(inspect.getsource(tp_plan.apply_tp))

# %% [markdown]
# 再看一个按列并行的层做了什么，这次手写：每个 rank 乘以 $W$ 中属于自己的那些行，再由一次 **all-gather** 把各块并排拼起来。
# （引擎会替我们做这件事；我们只手写这一次。）

# %%
print(inspect.getsource(tp_plan.column_parallel_matmul))

# %% [markdown]
# **练习 1.** 把表格里的文字变成形状：一个 rank 持有的权重是什么形状？`scheme` 是 `"ddp"`、`"fsdp"` 或 `"tp"`；`role` 是 `"column"` 或 `"row"`（只对张量并行有意义）；`shape` 是 (out, in)，和 `nn.Linear` 的存储方式一样（$y = x W^\top$：$W$ 的第 $j$ 行产生输出单元 $j$）。

# %%
def local_shape(scheme, role, shape, n):
    out_features, in_features = shape
    return ...  # 你的代码：这个 rank 持有的 (行数, 列数) 元组


check("parallel.local_shape", local_shape)

# %% [markdown]
# ## 2 · 三种引擎跑在两个 rank 上，与单进程对照
#
# `lmlab.parallel.compare` 在 `torchrun` 下运行（这里是 2 个进程，CPU 上用 gloo；GPU 上用 NCCL）。每个 rank 构建同一个很小的
# GPT，看到同一个全局批次；另有一个进程在整个批次上训练同一个模型。它报告 FSDP 和流水线的损失与单进程的对比、每个 rank
# 的字节数、张量并行模型的前向输出和梯度与未切分模型的对比，以及流水线的每步用时随微批次数 $m$ 增长的变化。

# %% [markdown]
# **先预测，再运行。** 两个 rank 各持有模型的一部分（一个分片、一个阶段，或每个矩阵的一半），训练 6<!--cite:compare_steps--> 步。一个进程在同样的批次上训练整个模型。两者的结果相比如何？先写下答案，再运行下面的单元格；测量之后的检查会说明发生了什么、为什么。
#
# - `"a"`：一样，只差浮点舍入（差距小于 1e-4）
# - `"b"`：明显不同：每个 rank 训练自己那一部分，然后把各部分合并

# %%
prediction = ...  # "a"、"b" 中的一个

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
    print(f"{name:4s}：损失 {np.round(res[name]['losses'], 4)}，与单进程的最大差距 {diff:.1e}")
tp = res["tp"]
print(f"tp  ：logits 相差 {tp['logits_max_diff']:.1e}，梯度相差 {tp['grad_max_diff']:.1e}；"
      f"每个 rank 持有 W_qkv {tp['local_W_qkv_shape']}，完整形状为 {tp['full_W_qkv_shape']}")
print(f"手写的按列并行矩阵乘法与 x @ W.T 相差 {tp['hand_matmul_max_diff']:.1e}")
print(f"每个引擎和单进程都训练了 {cite('compare_steps', len(single), '{}')} 步")

# %%
largest_gap = max([max(abs(a - b) for a, b in zip(res[name]["losses"], single, strict=True))
                   for name in ("fsdp", "pp")] + [tp["logits_max_diff"], tp["grad_max_diff"]])
check("parallel.predict_same_model", prediction, measured=largest_gap)

# %% [markdown]
# 这些差距是 float32 的舍入误差（求和的顺序不同）：这些引擎计算的是完全相同的模型。
#
# 在看下一张图之前，先看流水线的代价。GPipe 把批次切成 $m$ 个微批次；阶段 1（前面几层，在 rank 1 上）运行微批次 1，把它的激活值交给阶段 2，然后开始微批次 2，依此类推。一个时隙是一个阶段处理一个微批次所需的时间。有 $p = 2$ 个阶段、$m = 3$ 个微批次时，前向传播是：
#
# | 时隙 | 1 | 2 | 3 | 4 |
# |---|---|---|---|---|
# | 阶段 1 | F1 | F2 | F3 | · |
# | 阶段 2 | · | F1 | F2 | F3 |
#
# （反向传播与之对称。）`·` 表示这个阶段在等待：这就是**气泡**（bubble）。
#
# **练习 2.** 把这张表推广：有 $p$ 个阶段、$m$ 个微批次时，每个阶段在一步中空闲的比例是多少？写出 `bubble(p, m)`。

# %%
def bubble(p, m):
    return ...  # 你的代码：一个 GPipe 步中每个阶段空闲的比例


check("parallel.bubble", bubble)

# %% [markdown]
# 现在看内存：每个 rank 保存的字节数，DDP（一份完整副本，在单进程中测量）对比 FSDP；还有气泡：你的公式和流水线实测的空闲时间放在一起。

# %%
kinds = ("params", "grads", "optimizer")
ddp = [res["single"]["bytes"][k] / 1e3 for k in kinds]
fsdp = [res["fsdp"]["bytes_per_rank"][0][k] / 1e3 for k in kinds]
fig, (ax_m, ax_b) = plt.subplots(1, 2, figsize=(10, 3.4))
x = np.arange(3)
ax_m.bar(x - 0.2, ddp, 0.4, label="DDP（每个 rank）")
ax_m.bar(x + 0.2, fsdp, 0.4, label="FSDP（2 个中的 rank 0）")
ax_m.set_xticks(x, kinds)
ax_m.set(ylabel="每个 rank 的 kB", title="每个 rank 的内存：FSDP 只保存 1/N")
ax_m.legend()
bub = res["bubble"]
ms = [b["m"] for b in bub]
ax_b.plot(ms, [b["formula"] for b in bub], "o-", label="(p − 1) / (m + p − 1)")
ax_b.plot(ms, [b["measured_bubble"] for b in bub], "s--", label="实测：1 − (t₁/p) / t_pipe")
ax_b.set(xscale="log", xlabel="微批次数 m", ylabel="一步中空闲的比例", title="GPipe 气泡，p = 2")
ax_b.set_xticks(ms, [str(m) for m in ms])
ax_b.legend()
plt.tight_layout()
plt.show()
print("FSDP / DDP 字节数之比：", [round(f / d, 3) for f, d in zip(fsdp, ddp, strict=True)])

# %% [markdown]
# 气泡（bubble）：有 $p$ 个阶段、$m$ 个微批次时，一个 GPipe 步占 $m + p - 1$ 个时隙，每个阶段只在其中 $m$ 个时隙里工作，所以每个阶段在一步中有 $(p-1)/(m+p-1)$ 的时间空闲。实测的比例还包括公式没有算进去的东西——进程之间传送激活值，以及更小的矩阵乘法效率更低——所以一旦微批次变小，它就不再下降
# （而且在共享的 CPU 上，计时噪声很大）。

# %% [markdown]
# ### 在命令行中也一样
#
# `lmlab train gpt --parallel {ddp,fsdp,tp,pp}` 在每种方案下运行实验室的 GPT 训练器；`ckpt.pt` 是一个普通的单进程检查点，
# FSDP 还会写出 `OUT/dcp/`，这是用 `torch.distributed.checkpoint` 写的分片检查点（每个 rank 一个文件）。一个进程可以把它读回来并采样：
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
    print("（smoke 预设跳过命令行训练；class 预设在这里用 2 个 rank 训练 200 步）")

# %% [markdown]
# ## 3 · 让模型变小：int8 与剪枝
#
# **动态 int8 量化**（quantization）把每个权重矩阵存成 int8，加上一个缩放因子 $s$ 和零点 $z$，$W \approx s\,(q - z)$：每个权重 1 字节，而不是 4 字节。运行时激活值被即时量化，矩阵乘法以 int8 进行（x86 上用 fbgemm 的内核）。lmlab 使用 PyTorch 的
# `torch.ao.quantization.quantize_dynamic`，尽管它会警告这已被弃用、应改用 `torchao`：在这里实测，torchao 0.18 能在这台 CPU
# 上运行，但不用 `torch.compile` 时它的 int8 路径比 float32 *慢* 2–18 倍，而且它不能量化 LSTM（`benchmarks/compression.py --torchao`）。
#
# 先在同样的字符上简短地训练一个 LSTM 和一个 GPT。

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


# 如果 `lmlab prepare` 在课前已训练好，就直接加载那次的结果（会有提示）
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
print(f"{'模型':5s} {'fp32 kB':>8s} {'int8 kB':>8s} {'验证 fp32':>9s} {'验证 int8':>9s} {'int8 速度':>10s}")
for name, b32, b8, v32, v8, sp in rows:
    print(f"{name:5s} {b32 / 1e3:8.0f} {b8 / 1e3:8.0f} {v32:9.4f} {v8:9.4f} {sp:9.2f}x")

# %% [markdown]
# 凡是权重为矩阵的地方，体积都缩小约 4 倍（嵌入仍保持浮点：它只是查表）。速度则需要实测而不能想当然：int8 在读取权重占主导的地方才划算（batch 为 1 时 LSTM 的循环矩阵）；小 GPT 的一步由许多小操作组成（注意力、LayerNorm、缓存），即时量化激活值的开销超过了 int8 矩阵乘法省下的时间。`benchmarks/compression.py` 在固定规模下把两者与各自的 float32 版本对比测量。
#
# **练习 3.** full 预设的 MLP 矩阵是 (1536, 384)。存成 int8 时，加上 torch 的一个 float64 缩放因子和一个 int64 零点，它占多少字节？

# %%
int8_matrix_bytes = ...  # 你的代码：一个数

check("parallel.int8_bytes", int8_matrix_bytes)

# %% [markdown]
# **按幅值剪枝**（magnitude pruning）把 $|w|$ 最小的那一部分（比例为 $s$，在所有矩阵中统一计算）权重置零。刚剪完时模型会变差；在固定这些零（掩码保持不变）的情况下做一次简短的微调，能恢复很大一部分。要检验的论断是：最小的权重最不重要，所以按幅值剪枝的代价应当远小于把同样比例的权重**随机**置零——后者就是画在旁边的基线（每个稀疏度三个随机掩码；误差线覆盖它们的范围）。

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


at_random = np.array([[random_prune_loss(s, seed) for seed in range(3)] for s in amounts])  # (稀疏度个数, 3)
fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(amounts, [r[1] for r in sweep], "o-", label="剪枝后")
ax.plot(amounts, [r[2] for r in sweep], "s-", label=f"剪枝 + {SIZE['prune_ft']} 步微调")
ax.errorbar(amounts, at_random.mean(1), yerr=[at_random.mean(1) - at_random.min(1),
                                              at_random.max(1) - at_random.mean(1)],
            fmt="^:", color="gray", capsize=3, label="基线：随机置零同样比例的权重")
ax.set(xlabel="稀疏度（权重为 0 的比例）", ylabel="验证损失（奈特/字符）",
       title="LSTM：按幅值剪枝")
ax.legend()
plt.show()
dense90 = magnitude_prune(copy.deepcopy(lstm), 0.9)
sp = compare_speed({"dense": lambda: lstm_generate_tokens(lstm, SIZE["gen"], tok.vocab_size),
                    "90% zeros": lambda: lstm_generate_tokens(dense90, SIZE["gen"], tok.vocab_size)},
                   rounds=3)
for (s, before, _, _), rand in zip(sweep, at_random, strict=True):
    print(f"稀疏度 {s:.1f}：按幅值 {before:.3f}，随机 {rand.mean():.3f} "
          f"（{rand.min():.3f} .. {rand.max():.3f}）奈特/字符，均为微调之前")
print(f"90 % 为零：磁盘上 {model_bytes(dense90) / 1e3:.0f} kB（稠密模型 {model_bytes(lstm) / 1e3:.0f} kB），"
      f"生成速度是稠密模型的 {sp['90% zeros'] / sp['dense']:.2f} 倍")

# %% [markdown]
# 非结构化稀疏在 CPU 上能换来什么、换不来什么：这些零仍然被存储（磁盘上字节数相同），仍然被稠密内核拿去相乘（速度相同）。只有当零以稀疏方式*存储*（稀疏格式，或压缩文件），或由稀疏内核相乘时才划算，而稀疏内核只有在稀疏度非常高时才胜过稠密内核。速度来自*结构化*剪枝：去掉整行、整个头或整层，或者使用较新的 GPU 能加速的 2:4 模式。
#
# ### 体积与质量，以及蒸馏
#
# 05 号笔记本从一个大 GPT 蒸馏出了一个小 GPT。把所有小模型画在同一张图上：横轴是字节数（剪枝后的模型按不存储其中的零来计），纵轴是验证损失。

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

# 剪枝后的模型按它实际参与计算的权重来计（而不是 weight_orig，那里还保留着被剪掉的值）
points = {"教师（fp32）": (model_bytes(teacher), evaluate_lm(teacher, batches)),
          "教师 int8": (model_bytes(quantize_int8(teacher)), evaluate_lm(quantize_int8(teacher), batches)),
          "教师 剪枝 50 %": (nonzero_bytes(teacher_pruned), evaluate_lm(teacher_pruned, batches)),
          "蒸馏出的学生": (model_bytes(student), evaluate_lm(student, batches)),
          "学生 int8": (model_bytes(quantize_int8(student)), evaluate_lm(quantize_int8(student), batches))}
fig, ax = plt.subplots(figsize=(6.5, 3.6))
for label, (b, v) in points.items():
    ax.scatter(b / 1e3, v, s=40)
    ax.annotate(label, (b / 1e3, v), textcoords="offset points", xytext=(5, 4), fontsize=8)
ax.set(xscale="log", xlabel="kB（对数）", ylabel="验证损失（奈特/字符）", title="体积与质量")
plt.show()

# %% [markdown]
# ## 4 · 训练的好习惯
#
# **让过拟合看得见。** 容量足够大的模型会把一个*小*语料背下来：训练损失一直下降，验证损失却掉头上升。这里 GPT 只看到 20,000<!--cite:hygiene_chars--> 个字符。
# **早停**（early stopping）盯着验证损失，连续 `patience` 次评估没有改进就停止，然后恢复最好那次评估时的权重（`best.pt`，每当验证损失改进时训练器都会写出它）。

# %%
from lmlab.models.transformer.early_stop import train_early_stopping  # noqa: E402
from lmlab.models.transformer.trainer import GPTRecipe, TrainConfig  # noqa: E402
from lmlab.train.engine import train  # noqa: E402

small = TokenData.from_text(text[:20_000], tok, val_text=text[200_000:210_000])
print(f"{cite('hygiene_chars', len(text[:20_000]), '{:,}')} 个训练字符")


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
ax.plot([r["iter"] for r in evals], [r["train_loss"] for r in evals], "o-", label="训练")
ax.plot([r["iter"] for r in evals], [r["val_loss"] for r in evals], "s-", label="验证")
ax.axvline(best["best_iter"], color="gray", ls=":", label="早停的 best.pt")
ax.set(xlabel="迭代次数", ylabel="损失（奈特/字符）", title="2 万个字符：两条曲线分开了")
ax.legend()
plt.show()
print(f"早停：在 {hygiene_config().max_iters} 次迭代中的第 {best['stopped_at']} 次停止，"
      f"恢复到第 {best['best_iter']} 次迭代（验证 {best['best_val']:.3f}）；"
      f"完整训练结束时验证为 {evals[-1]['val_loss']:.3f}")

# %% [markdown]
# **Dropout 与权重衰减**，GPT 训练器具备的两种正则化手段，在同一个小语料上测量（每次训练的最佳验证损失；class 预设：4 次训练）。

# %%
GRID = [(dropout, wd) for dropout in (0.0, 0.2) for wd in (0.0, 0.1)]


def regularise(out):
    runs = {f"{dropout} {wd}": train(GPTRecipe(hygiene_config(wd), small), model=small_gpt(dropout),
                                     progress=False)
            for dropout, wd in GRID}
    return {key: run.metrics for key, run in runs.items()}


if SIZE["grid"]:
    grid = cached("08_grid", {**hygiene_key, "grid": GRID}, preset=lab.preset, corpus=corpus, fit=regularise)
    print(f"{'dropout':>8s} {'权重衰减':>12s} {'最佳验证':>9s} {'最终验证':>9s} {'最终训练':>10s}")
    for dropout, wd in GRID:
        r = grid.metrics[f"{dropout} {wd}"]
        print(f"{dropout:8.1f} {wd:12.1f} {r['best_val_loss']:9.3f} {r['val_loss']:9.3f} "
              f"{r['eval_train_loss']:10.3f}")
else:
    print("（class 预设在这里训练 dropout 与权重衰减的 2 x 2 组合）")

# %% [markdown]
# **给分类器做数据增强。** 只有 150<!--cite:aug_train_n--> 条标注评论时，可以对真实句子做小的编辑来造出新的训练句子（EDA，Wei 和 Zou，2019，不用同义词词典）：每个词以 0.1 的概率删除，并随机交换一对词。预训练的 MiniLM 编码器（冻结）把每个句子变成一个向量，再由逻辑回归学习标签：一次只用原句，一次用原句加编辑过的副本。在数据划分的多个随机种子上比较测试准确率，就知道它有没有帮助；两者旁边还有一个什么都不读的基线：永远回答训练集中最常见的标签。

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
print(f"{cite('aug_train_n', n_train, '{}')} 条训练评论，{cite('aug_test_n', n_test, '{}')} 条测试评论；"
      f"一条测试评论就是 {cite('aug_point', 100 / n_test, '{:.0f}')} 个百分点的准确率")
mini_tok, encoder = load_minilm("cpu")
clf = SentenceClassifier(encoder, n_classes=2)


def compare_augmentation(out):
    scores = {"originals": [], "with augmentation": []}
    majority = []  # 每种划分下，总是回答训练集中最常见标签的测试准确率
    for seed in range(SIZE["aug_seeds"]):
        train_idx, test_idx = stratified_split(labels, test_fraction=0.25, seed=seed)
        train_idx = train_idx[:SIZE["aug_examples"]]  # smoke：150 条训练评论中的 40 条
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


# 缓存的是结果而不是模型：每个种子的分数
augmented = cached("08_augment", {**{k: SIZE[k] for k in ("aug_copies", "aug_seeds", "aug_examples")},
                                  "test_fraction": 0.25, "encoder": "all-MiniLM-L6-v2", "max_iter": 2000},
                   preset=lab.preset, corpus="pang_lee_polarity", fit=compare_augmentation)
scores, majority = augmented.metrics["scores"], augmented.metrics.get("majority", [])
for name, acc in scores.items():
    each = ", ".join(f"{a:.2f}" for a in acc)
    print(f"{name:18s} 测试准确率 {np.mean(acc):.3f} ± {np.std(acc):.3f}  ({each})")
if majority:
    print(f"{'多数类':18s} 测试准确率 {np.mean(majority):.3f}（永远回答最常见的标签）")

# %% [markdown]
# 测试集只有 50<!--cite:aug_test_n--> 条评论时，一条评论就是 2<!--cite:aug_point--> 个百分点的准确率，所以小于这个的差异都是噪声；对上面这些数字诚实的解读，就是它们实际显示的结果，而不是数据增强所许诺的。
#
# ## 小结
#
# - **FSDP2**（`apply_fsdp`）：每个 rank 只保存 1/N 的权重、梯度和优化器状态的数据并行；损失曲线与单进程相同。**张量并行**
#   （`apply_tp`）：Megatron 的按列/按行切分，每个块两次 all-reduce。**流水线**（`pipeline_stage` + GPipe）：按层切分，气泡为
#   $(p-1)/(m+p-1)$。全部在 `torchrun` 下运行，通过 `lmlab train gpt --parallel ...` 调用。
# - **int8**（`quantize_int8`）：矩阵约小 4 倍，损失几乎不变；只有在读取权重占主导时才更快。**剪枝**（`magnitude_prune`）：这些零在 CPU 上的开销不变，除非以稀疏方式存储或计算。
# - **好习惯**：观察训练和验证曲线何时分开，及早停止并恢复 `best.pt`，用 dropout 和权重衰减做正则化，先测量数据增强是否有帮助，再相信它。
