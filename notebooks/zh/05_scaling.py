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
# # 05 · 超越单块 GPU，超越 fp32
#
# 到目前为止，模型都在一个进程里、用 32 位浮点数训练。真正的语言模型两样都不是。这个笔记本讲的四个思想能把同一个训练器带得更远，每个都配有一次你可以亲眼观察的训练：
#
# 1. 用 PyTorch DDP 做**数据并行**（data parallelism），由 `torchrun` 启动——并在这台机器上真正跑一次双进程训练，它与单进程的损失曲线一直吻合到小数点后第 5 位。
# 2. **混合精度**（mixed precision）：fp32、bf16 和 fp16（+ 损失缩放）——数值范围、分辨率、内存、速度。
# 3. **知识蒸馏**（knowledge distillation）：一个小 GPT 向大 GPT 的软预测学习。
# 4. **先预训练，再微调**（pre-train, then fine-tune）：把预训练的 MiniLM 编码器变成一个情感分类器，用准确率、精确率、召回率、
#    F1 和混淆矩阵来评估。
#
# 我们不自己造分布式引擎：用一块 GPU 不够用的同学应当使用 PyTorch 的 `DistributedDataParallel` 和 `torchrun`，所以
# `lmlab train gpt` 用的正是它们。

# %%
from lmlab.notebook import setup

lab = setup(lang="zh")

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

SIZE = {  # 下面的一切规模都由预设决定：smoke 在 CI 中几秒跑完，class 需要几分钟
    "smoke": dict(ddp_iters=12, ddp_embd=32, teacher=(2, 64), teacher_iters=80, distill_iters=60,
                  bench=(64, 8, 2), ft_epochs=1, ft_layers=1, ft_examples=64),
    "class": dict(ddp_iters=150, ddp_embd=64, teacher=(4, 128), teacher_iters=600, distill_iters=400,
                  bench=(256, 16, 5), ft_epochs=3, ft_layers=None, ft_examples=None),
    "full": dict(ddp_iters=500, ddp_embd=128, teacher=(6, 384), teacher_iters=3000, distill_iters=2000,
                 bench=(768, 32, 10), ft_epochs=4, ft_layers=None, ft_examples=None),
}[lab.preset]
work = Path(tempfile.mkdtemp(prefix="lmlab05_"))

# %% [markdown]
# ## 1 · 数据并行与模型并行
#
# **数据并行**（data parallelism）把整个模型复制到每块 GPU（一个 *rank*）上。每个 rank 拿批次中不同的一片，算出自己的梯度，然后在每次优化器更新之前，各 rank 把梯度*取平均*（一次 **all-reduce**）。于是每个 rank 都执行同样的更新，各副本永远不会分道扬镳。（取平均的是梯度，而且是每一步之前；把几份副本分开训练、隔一段时间再平均它们的*参数*，是另一种方法——
# local SGD 或联邦平均（federated averaging），它走的是另一条损失曲线。）
#
# **模型并行**（model parallelism）用于一块 GPU 装不下的模型：把*层*分到多块 GPU 上（流水线并行），或者把每个权重*矩阵*切开
# （张量并行），激活值在 GPU 之间传递。这些部分属于**同一个**模型，在每个批次上一起做前向和反向传播；没有哪一部分是单独训练、事后再合并的。千亿参数的模型就是这样训练的；而对于一块 GPU 装得下的模型——本实验中的每个模型都是——该用的是数据并行。

# %%
def draw_parallelism():
    fig, (ax_d, ax_m) = plt.subplots(1, 2, figsize=(9.5, 3.2))
    colors = ["#4C72B0", "#DD8452", "#55A868", "#C44E52"]
    for r in range(4):  # 数据并行：4 份完整副本，4 片批次
        x = r * 1.2
        ax_d.add_patch(plt.Rectangle((x, 1.3), 1.0, 1.4, color="#bbb"))
        for layer in range(4):
            ax_d.add_patch(plt.Rectangle((x + 0.1, 1.4 + layer * 0.32), 0.8, 0.25, color="#666"))
        ax_d.add_patch(plt.Rectangle((x + 0.1, 0.3), 0.8, 0.6, color=colors[r]))
        ax_d.text(x + 0.5, 0.6, f"批次\n分片 {r}", ha="center", va="center", fontsize=7, color="white")
        ax_d.annotate("", (x + 0.5, 1.3), (x + 0.5, 0.9), arrowprops=dict(arrowstyle="->"))
        ax_d.text(x + 0.5, 2.85, f"GPU {r}", ha="center", fontsize=8)
    ax_d.annotate("", (0.2, 3.25), (4.6, 3.25), arrowprops=dict(arrowstyle="<->", color="crimson"))
    ax_d.text(2.4, 3.35, "all-reduce：对梯度取平均", ha="center", fontsize=8, color="crimson")
    ax_d.set_title("数据并行：每块 GPU 一份完整副本", fontsize=10)
    for r in range(4):  # 流水线模型并行：每块 GPU 一层，一个批次依次流过
        x = r * 1.2
        ax_m.add_patch(plt.Rectangle((x, 1.3), 1.0, 1.4, color="#bbb"))
        ax_m.add_patch(plt.Rectangle((x + 0.1, 1.4 + r * 0.32), 0.8, 0.25, color="#666"))
        ax_m.text(x + 0.5, 2.85, f"GPU {r}", ha="center", fontsize=8)
        if r < 3:
            ax_m.annotate("", (x + 1.2, 1.55 + (r + 1) * 0.32), (x + 0.9, 1.52 + r * 0.32),
                          arrowprops=dict(arrowstyle="->", color="crimson"))
    ax_m.add_patch(plt.Rectangle((0.1, 0.3), 0.8, 0.6, color="#4C72B0"))
    ax_m.text(0.5, 0.6, "整个\n批次", ha="center", va="center", fontsize=7, color="white")
    ax_m.text(2.4, 3.35, "激活值从一块 GPU 传到下一块", ha="center", fontsize=8, color="crimson")
    ax_m.set_title("模型（流水线）并行：每块 GPU 一段层", fontsize=10)
    for ax in (ax_d, ax_m):
        ax.set(xlim=(-0.2, 4.8), ylim=(0, 3.6))
        ax.axis("off")
    plt.show()


draw_parallelism()

# %% [markdown]
# 检查一下这个想法，用一个你还没见过的引擎。PyTorch 的 **FSDP**（fully sharded data parallel，完全分片数据并行；DeepSpeed 的 ZeRO 是同一个思路）把每个参数、它的梯度和它的优化器状态切成 $N$ 个分片，每个 rank 一片，所以每个 rank 只*保存*模型的 $1/N$。就在某一层运行之前，各 rank 互相发送自己持有的这一层的分片（一次 *all-gather*），于是每个 rank 都短暂地持有这一层的完整权重，把它作用在自己的输入上，然后再丢掉收集来的副本。批次像上图那样切成 $N$ 片。它属于哪一类，`"data"` 还是 `"model"` 并行？根据上图来判断：每个 rank 是在什么上*计算*的？

# %%
fsdp_is = ...  # "data" 或 "model"
check("scaling.fsdp_family", fsdp_is)

# %% [markdown]
# **分片数据并行**（FSDP、ZeRO）属于数据并行，而不是模型并行：每个 rank 仍然用完整的权重，在自己那一片批次上运行每一层；被切开的只是参数、梯度和优化器状态的*存储*。这些分片从来不会单独训练：每一步之前，梯度仍然在所有 rank 之间取平均。

# %% [markdown]
# 为什么取平均是对的：当损失是批次上的**均值**，并且 $N$ 个 rank 中的每一个持有 $NB$ 个样本中的 $B$ 个时，
#
# $$\nabla \frac{1}{NB}\sum_{i=1}^{NB} \ell_i \;=\; \frac{1}{N}\sum_{r=1}^{N}
#   \underbrace{\nabla \frac{1}{B}\sum_{i \in \text{shard } r} \ell_i}_{g_r\ \text{(rank } r\text{)}}$$
#
# 所以批次为 $B$ 的 $N$ 个 rank 算出的*恰好*是批次为 $NB$ 的单进程梯度。使用**梯度累积**（gradient accumulation）时，每个
# rank 先跑 $A$ 个微批次再更新；只有最后一个需要 all-reduce（DDP 的 `no_sync()` 会跳过其余的）。因此每次优化器更新的批次是
#
# $$\text{global batch} = \underbrace{\texttt{--batch-size}}_{\text{per rank}} \times N_\text{ranks}
#   \times A_\text{accumulation}\ \text{sequences}.$$
#
# （全局批次 = 每个 rank 的 `--batch-size` × rank 数 × 累积步数，单位是序列。）在一台有 8 块 GPU 的机器上，实验室的训练器在 `torchrun` 下无需修改即可运行；各 rank 通过 NCCL（NVIDIA 的集合通信库，在 GPU 之间执行 all-reduce 等操作）交换梯度：
#
# ```bash
# torchrun --standalone --nproc_per_node=8 -m lmlab train gpt --preset full \
#     --batch-size 16 --grad-accum 4 --out runs/gpt_8gpu      # 16 x 8 x 4 = 512 sequences per step
# ```
#
# 每个 rank 读取每个批次中属于自己的那几行，只有 rank 0 负责记录日志、评估和写检查点，`--resume` 可以在任意数量的 rank 上继续一次训练。

# %%
print("每次优化器更新的序列数：", global_batch_size(batch_size=16, world_size=8, grad_accum=4))

# %% [markdown]
# **练习 1.** 一次优化器更新会看到多少个 *token*？写出 `tokens_per_step(batch_size, world_size, grad_accum, block_size)`。

# %%
def tokens_per_step(batch_size, world_size, grad_accum, block_size):
    return ...  # 你的代码


check("scaling.tokens_per_step", tokens_per_step)

# %% [markdown]
# ### 真刀真枪，就在这台机器上：CPU 上的 2 个 rank
#
# 同样的命令加上 `--nproc_per_node=2` 和 `--device cpu`，会启动两个通过 **gloo**（PyTorch 的 CPU 后端）通信的进程。我们用同样的种子、同样的 8 条序列的全局批次，把同一个小 GPT 训练两次：一次在**一个**进程里（`--batch-size 8`），一次在**两个** rank 上
# （每个 `--batch-size 4`），都做 2 步累积。如果数据并行是精确的，两条损失曲线就必须重合。（在双核笔记本电脑上这并不会*更快*——两个 rank 共用同样的核——但它就是集群上运行的那个程序。）

# %%
text, corpus = load_text_or_fallback("tiny_shakespeare")
corpus_file = work / "corpus.txt"
corpus_file.write_text(text[:200_000], encoding="utf-8")  # 只取一段，让 3 个进程的启动快一些
iters = SIZE["ddp_iters"]
flags = ["train", "gpt", "--corpus", str(corpus_file), "--preset", "smoke", "--n-layer", "2", "--n-head", "2",
         "--n-embd", str(SIZE["ddp_embd"]), "--block-size", "32", "--grad-accum", "2", "--dropout", "0",
         "--max-iters", str(iters), "--lr-decay-iters", str(iters), "--warmup-iters", "5",
         "--eval-interval", str(iters // 2), "--eval-iters", "4", "--log-interval", "1", "--device", "cpu",
         "--no-progress"]

threads = torch.get_num_threads()
torch.set_num_threads(1)  # torchrun 给每个 rank 一个线程；单进程训练也用同样的设置（公平起见）
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
print(f"训练时间：单进程 {m_one['train_s']:.1f} 秒，两个 rank {m_two['train_s']:.1f} 秒；"
      f"含启动的总时间：本内核中 {t_one:.1f} 秒，torchrun + 2 个进程 {t_two:.1f} 秒")

# %%
def step_losses(out):
    """(iteration, training loss) of every optimizer step in a run's checkpoint history."""
    rows = [r for r in load_checkpoint(out)["history"] if "val_loss" not in r and "train_loss" in r]
    return np.array([r["iter"] for r in rows]), np.array([r["train_loss"] for r in rows])


it1, loss1 = step_losses(work / "one_process")
it2, loss2 = step_losses(work / "two_ranks")
gap = np.abs(loss1 - loss2).max()
fig, (ax, ax_gap) = plt.subplots(1, 2, figsize=(9, 2.8))
ax.plot(it1, loss1, lw=3, alpha=0.5, label="1 个进程，批次 8")
ax.plot(it2, loss2, "k--", lw=1, label="2 个 rank x 批次 4（DDP，gloo）")
ax.set(xlabel="迭代", ylabel="训练损失（奈特）", title="同一条损失曲线")
ax.legend(fontsize=8)
ax_gap.semilogy(it1, np.maximum(np.abs(loss1 - loss2), 1e-9), "o-", ms=3)
ax_gap.set(xlabel="迭代", title="|差值|（float32 舍入误差；0 画在 1e-9 处）")
plt.tight_layout()
plt.show()
print(f"两条曲线之间的最大差值：{gap:.2e} 奈特")

# %% [markdown]
# 这点差值来自 float32 的舍入：两个 rank 把各自那一半批次加起来的顺序和单进程不同，仅此而已。
# （`tests/test_distributed_train.py` 对 GPT 和 LSTM 训练器断言差值 < 1e-5，并断言在两个 rank 上 `--resume` 会继续同一条曲线。）
#
# rank 0 写出的检查点就是一个普通的检查点：在这个单进程里不用 DDP 就能加载。

# %%
from lmlab.models.transformer import GPT, GPTConfig  # noqa: E402

payload = load_checkpoint(work / "two_ranks")
gpt_ddp = GPT(GPTConfig(**payload["config"]))
load_model_state(gpt_ddp, payload)
print(f"加载了一个在 2 个 rank 上训练的 GPT，共 {gpt_ddp.num_params():,} 个参数；"
      f"保存于 {payload['extra']['next_iter']} 轮迭代之后")

# %% [markdown]
# ## 2 · 混合精度：fp32、bf16、fp16
#
# 一个浮点数是 $(-1)^s \cdot 1.m \cdot 2^{e}$。**指数位**决定*范围*（最大和最小的数），**尾数位**决定*分辨率*——即 1 和下一个可表示数之间的间隔 `eps`：
#
# $$\text{eps} = 2^{-\text{mantissa bits}}, \qquad \text{max} \approx 2^{\,2^{\text{exponent bits}-1}}.$$

# %%
rows = [("fp32", torch.float32, 8, 23), ("bf16", torch.bfloat16, 8, 7), ("fp16", torch.float16, 5, 10)]
print(f"{'格式':6} {'字节':>5} {'指数位':>4} {'尾数位':>5} {'最大值':>10} {'最小正规数':>16} {'eps':>9}")
for name, dtype, e_bits, m_bits in rows:
    fi = torch.finfo(dtype)
    print(f"{name:6} {fi.bits // 8:5d} {e_bits:4d} {m_bits:5d} {fi.max:10.3g} {fi.tiny:16.3g} {fi.eps:9.3g}")

# %% [markdown]
# **bf16** 保留了 fp32 的 8 个指数位（范围相同），牺牲了分辨率；**fp16** 分辨率更高，但范围很小：没有比 65,504 更大的数，也没有比 $6\times10^{-8}$ 更小的数。在一个张量上看看：

# %%
x = torch.tensor([70_000.0, 1.0 + 2**-9, 1e-8])
for dtype in (torch.float32, torch.bfloat16, torch.float16):
    print(f"{str(dtype):15} {x.to(dtype).float().tolist()}")

# %% [markdown]
# fp16 在 70,000 处**上溢**为 `inf`，在 $10^{-8}$ 处**下溢**为 0；bf16 两者都能保留，但会把 $1 + 2^{-9}$ 舍入回 1。梯度都是些很小的数——下面是一个 GPT 做一次反向传播后的梯度，和 fp16 的范围放在一起比较：

# %%
model = GPT(GPTConfig(**payload["config"]))
load_model_state(model, payload)
x_batch = torch.randint(0, model.config.vocab_size, (8, 32), generator=torch.Generator().manual_seed(0))
_, loss = model(x_batch, torch.roll(x_batch, -1, dims=1))
loss.backward()
grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]).abs()
grads = grads[grads > 0]
fp16 = torch.finfo(torch.float16)
tiny_sub = 2.0**-24  # fp16 最小的次正规数
lost = (grads < tiny_sub / 2).float().mean().item()
lost_scaled = (grads * 2**16 < tiny_sub / 2).float().mean().item()
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.hist(np.log10(grads.numpy()), bins=80, color="#4C72B0")
ax.axvline(math.log10(tiny_sub), color="crimson", ls="--", label="fp16 最小次正规数")
ax.axvline(math.log10(fp16.tiny), color="orange", ls="--", label="fp16 最小正规数")
ax.axvline(math.log10(fp16.max / 2**16), color="gray", ls=":", label="乘以 2^16 后会上溢")
ax.set(xlabel="log10 |梯度|", ylabel="个数", title="小 GPT 的梯度与 fp16 的范围")
ax.legend(fontsize=7)
plt.show()
print(f"fp16 会冲刷为零的梯度元素比例：{lost:.2%}；"
      f"把损失乘以 2^16 之后：{lost_scaled:.2%}")

# %% [markdown]
# 这就是 **fp16 训练需要损失缩放**（loss scaling）的原因：把损失乘以 $S$（于是每个梯度都大 $S$ 倍，被抬出下溢区），然后在优化器更新之前把梯度除以 $S$。`torch.amp.GradScaler` 会动态地选择 $S$：
#
# - 如果有任何梯度是 `inf`/`nan`，就**跳过**这一步，并把 $S$ 减半；
# - 连续 `growth_interval` 步都正常之后，把 $S$ 翻倍。
#
# 我们可以看着它工作：下面每个梯度都被强制转成 fp16（就像在 GPU 上做 fp16 训练时那样），所以 $S$ 太大时真的会上溢。

# %%
model = GPT(GPTConfig(**payload["config"]))
for p in model.parameters():
    p.register_hook(lambda g: g.half().float())  # 梯度存成 fp16：> 65,504 就变成 inf
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
ax.plot(np.flatnonzero(skipped), np.array(scales)[skipped], "rx", label="上溢：跳过这一步")
ax.set(xlabel="步", ylabel="损失缩放因子 S", title="GradScaler 找到最大的安全缩放因子")
ax.legend(fontsize=8)
plt.show()
print(f"60 步中跳过了 {sum(skipped)} 步；最终缩放因子为 2^{math.log2(scaler.get_scale()):.0f}")

# %% [markdown]
# **bf16 完全不需要这些**（它的范围和 fp32 一样），所以 `lmlab` 在支持 bf16 的 GPU 上选择 bf16，在较老的 GPU 上退回到 fp16 +
# GradScaler；两种情况下*权重*和优化器状态都保持 fp32（autocast 只让矩阵乘法以 16 位运行）：

# %%
from lmlab.device import pick_precision  # noqa: E402

for kind in ("cpu", "cuda"):
    if kind == "cuda" and not torch.cuda.is_available():
        print("cuda：bf16 autocast（Ampere 及更新的 GPU）或 fp16 + GradScaler（较老的 GPU）  [这里没有 GPU]")
        continue
    print(f"{kind}: {pick_precision(torch.device(kind))}")

# %% [markdown]
# **练习 2.** fp32 AdamW 训练时每个参数需要多少字节（权重、梯度、优化器）？

# %%
adam_bytes_per_param = ...  # 你的答案
check("scaling.adam_bytes_per_param", adam_bytes_per_param)

# %% [markdown]
# ### 混合精度省下了什么，又没省下什么
#
# 用 AdamW 训练时，每个参数要保存：权重、它的梯度和两个矩估计。使用 autocast 时这四样都保持 fp32——**每个参数 16 字节**——所以混合精度*不会*缩小模型本身占用的内存；它把为反向传播保存的**激活值**减半，并且在 GPU 上让矩阵乘法跑在张量核心上，16 位时快 2-16 倍。

# %%
def training_bytes(n_params, n_layer, n_head, n_embd, block, batch):
    """Rough memory of a training step: fp32 weights + gradients + AdamW's two moments (16 B/param), and
    the activations kept for backward. Korthikanti et al. (2022) count s*b*h*(34 + 5*a*s/h) bytes per
    layer in 16-bit (s: block, b: batch, h: width, a: heads); fp32 activations take about twice that."""
    act16 = n_layer * block * batch * n_embd * (34 + 5 * n_head * block / n_embd)
    return 16 * n_params, 2 * act16, act16


for name, n, L, H, C, T, B in (("本实验室的 class 预设 GPT", 0.8e6, 4, 4, 128, 128, 16),
                               ("nanoGPT 莎士比亚", 10.7e6, 6, 6, 384, 256, 64),
                               ("GPT-2 小号", 124e6, 12, 12, 768, 1024, 8)):
    states, act32, act16 = training_bytes(n, L, H, C, T, B)
    print(f"{name:22} 权重+梯度+AdamW {states / 2**30:6.2f} GiB | 激活值 fp32 {act32 / 2**30:6.2f}"
          f" GiB，bf16 {act16 / 2**30:6.2f} GiB")

# %% [markdown]
# ### 速度：在这里实测
#
# 同样的前向 + 反向传播，分别用 fp32 和 bf16 autocast，在本笔记本所用的设备上运行。

# %%
def time_step(model, dtype, device, batch, repeats):
    x = torch.randint(0, model.config.vocab_size, (batch, model.config.block_size), device=device)
    ctx = torch.autocast(device.type, dtype=dtype) if dtype is not None else torch.autocast(device.type,
                                                                                        enabled=False)
    for i in range(repeats + 1):
        if i == 1:  # 第一遍用于预热
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
print(f"{lab.device.type}：fp32 每步 {t32 * 1e3:.1f} 毫秒，bf16 autocast 每步 {t16 * 1e3:.1f} 毫秒 "
      f"-> 加速 x{t32 / t16:.2f}")
if lab.device.type == "cpu":
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    native = [f for f in ("amx_bf16", "avx512_bf16") if f in flags]
    print("这块 CPU 有原生的 bf16 矩阵乘法单元：" , ", ".join(native) if native else "no — bf16 is emulated,"
          " and every cast costs time, so lmlab trains in fp32 on CPUs")

# %% [markdown]
# 在没有 bf16 单元的 CPU 上，16 位路径要来回转换数值，得不到任何好处——通常反而*更慢*，这就是 `pick_precision` 在 CPU 上保持 fp32
# 的原因。在有张量核心的 NVIDIA GPU（A100、H100、RTX 30xx/40xx）上，同一个单元格会显示 bf16 明显更快，模型越大收益越多。

# %% [markdown]
# ## 3 · 知识蒸馏：小 GPT 向大 GPT 学习
#
# 训练好的模型给出的预测，比那一个正确的 token 包含更多信息：它说明了*哪些*错误的 token 也说得通（在 "th" 之后，"e" 最可能，但
# "a" 和 "i" 也不荒唐）。**知识蒸馏**（knowledge distillation；Hinton、Vinyals 和 Dean，2015）让一个小的*学生*模型，在一个大的
# *教师*模型的这些软预测上训练：
#
# $$p^{(T)} = \text{softmax}(z / T), \qquad
#   \mathcal{L} = \alpha\, T^2\, \mathrm{KL}\!\left(p^{(T)}_\text{teacher} \,\|\,
#   p^{(T)}_\text{student}\right) + (1-\alpha)\, \mathrm{CE}(z_\text{student}, y).$$
#
# **温度** $T$ 把两个分布都压平，让那些小概率也有分量；乘上 $T^2$ 是为了无论 $T$ 取多少，软目标项的梯度大小都不变。教师是
# **同一任务**（这里是同一份文本）上的模型，而不是另一个领域的模型：学生在自己的训练输入上模仿教师的预测。先准备教师：如果你运行过 03 号笔记本，就用它的 GPT（`runs/03_gpt_shakespeare`、`$LMLAB_GPT_CKPT` 中的检查点文件夹，或 `lmlab prepare`
# 训练好的那次结果），否则就在这里当场训练一个小的。

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

gpt_03 = {"tokenizer": "char", **PRESETS[lab.preset]}  # 第 03 本笔记的 GPT：它预先训练好的那次运行的键
found = find_checkpoint("03_gpt_shakespeare", gpt_03, preset=lab.preset, corpus=corpus,
                        notebook="03_transformer", env="LMLAB_GPT_CKPT",
                        local=("runs/03_gpt_shakespeare", "runs/03_transformer"))
found = [found] if found else []
chars = 400_000 if lab.preset == "smoke" else 1_000_000  # smoke：用 03 号笔记本训练的那一片数据
teacher = None
if found:
    teacher, tok = load_for_sampling(load_checkpoint(found[0]), lab.device)
    try:
        data = TokenData.from_text(text[:chars], tok)
        print(f"教师：03 号笔记本的 GPT，来自 {found[0]}")
    except (ValueError, KeyError) as err:  # 在另一份语料上训练：字符集不同
        print(f"提示：{found[0]} 中的 GPT 与语料 {corpus!r} 不匹配（{err}）；在这里训练一个")
        teacher = None
if teacher is None:
    found = []  # 教师在这里训练，而不是加载
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
    print(f"教师：在这里于 {corpus} 上训练了 {n} 轮迭代")

block = min(64, teacher.config.block_size)


def get_batch(it, split="train", batch=16):
    return data.batch(split, batch, block, torch.Generator().manual_seed(it))


val_batches = [get_batch(10_000 + i, "val") for i in range(8)]
print(f"教师：{count_parameters(teacher):,} 个参数，验证损失 "
      f"{evaluate_lm(teacher, val_batches, lab.device):.3f} 奈特/字符")

# %% [markdown]
# 学生看到的是：教师对下一个字符的分布，经温度 $T$ 变得更尖锐或更柔和。

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
ax.set(ylabel="概率", title=f"教师在 …{context!r} 之后预测的下一个字符")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# 现在是两个同样小、初始权重也相同的学生：一个只在真实字符上训练（$\alpha = 0$，这是基线），一个用蒸馏训练（$\alpha = 0.7$，$T = 2$）。论断是：同样的规模、同样的步数，蒸馏出来的学生最终低于只用标签训练的学生，而两者都高于教师。如果教师是 `lmlab prepare` 训练好的那次结果，就加载当时从这个教师蒸馏出的学生（单元格会提示；`LMLAB_RETRAIN=05_students` 则在这里重新蒸馏）；换成其他任何教师，学生都在这里蒸馏。

# %%
from lmlab.checkpoint import save_checkpoint  # noqa: E402
from lmlab.prepared import cached, read_record  # noqa: E402

student_cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=block, n_layer=1, n_head=2,
                        n_embd=max(32, teacher.config.n_embd // 4))
ALPHAS = (0.0, 0.7)


def new_student():
    torch.manual_seed(0)  # 两个学生从同样的权重开始
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


# 学生取决于它们的老师：第 03 本笔记预先训练好的 GPT，或者在这里找到或训练的那个
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
    name = "只用标签（α=0）" if alpha == 0 else "蒸馏（α=0.7）"
    ax.plot(*h.series("val_loss"), "o-", ms=3, label=name)
losses = [evaluate_lm(m, val_batches, lab.device) for m in (teacher, students[0.0], students[0.7])]
ax.axhline(losses[0], color="k", ls=":", label="教师")
ax.set(xlabel="迭代", ylabel="验证损失（奈特）", title="学生")
ax.legend(fontsize=8)
sizes = [count_parameters(teacher), count_parameters(students[0.0]), count_parameters(students[0.7])]
ax_bar.scatter(sizes, losses, c=["k", "#4C72B0", "#DD8452"], s=40)
for s_, l_, name in zip(sizes, losses, ("teacher", "student α=0", "student α=0.7"), strict=True):
    ax_bar.annotate(name, (s_, l_), textcoords="offset points", xytext=(5, 5), fontsize=8)
ax_bar.set(xscale="log", xlabel="参数量", ylabel="验证损失", title="规模与损失")
plt.tight_layout()
plt.show()
names = ("teacher", "学生，只用标签", "学生，蒸馏")
for name, s_, l_ in zip(names, sizes, losses, strict=True):
    print(f"{name:22} {s_:>9,} 个参数   验证损失 {l_:.3f}")

# %% [markdown]
# 两个学生之间的差距是不是不只是噪声？每条验证序列都由两个学生各打一次分；逐序列差值的 95 % 自助法（bootstrap）区间，说明这种领先是否在整个文本上都成立。

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
print(f"蒸馏出的学生比只用标签的学生低 {sum(lead) / len(lead):+.3f} 奈特 "
      f"（95% 区间 {lo:+.3f} .. {hi:+.3f}，{len(lead)} 条序列）")

# %% [markdown]
# 对一个很小的学生做短暂训练，结果噪声很大——smoke 预设下的数字两个方向都有可能，而包含 0 的区间会把这一点说出来。在 class 预设下要看的是：区间在 0 之上（蒸馏出来的学生低于只用标签训练的学生），而两者都高于教师。蒸馏不会把小模型变大；它让小模型学得更快，把装得下的东西学得更多。
#
# **练习 3.** 自己写出蒸馏损失（logits 形状为 `(B, T, V)`，目标为 `(B, T)`）。

# %%
def my_distillation_loss(student_logits, teacher_logits, targets, temperature, alpha):
    return ...  # 你的代码


check("scaling.distillation_loss", my_distillation_loss)

# %%
# 库里的版本，供参考：损失及其两个组成部分
parts = distillation_loss(*[torch.randn(2, 4, 6) for _ in range(2)], torch.zeros(2, 4, dtype=torch.long))
print({k: round(v.item(), 4) for k, v in parts.items()})

# %% [markdown]
# ## 4 · 先预训练，再微调：把 MiniLM 变成情感分类器
#
# `all-MiniLM-L6-v2` 是一个 6 层的 BERT 风格编码器（22.7<!--cite:minilm_params_m--> M 个参数），在十亿对句子上预训练过——就是
# 04 号笔记本往里看的那个模型。（把这样的模型用在一个它没见过任何标注样本的任务上，叫作*零样本*（zero-shot）；这和*无监督*学习不是一回事，后者指模型从没有标签的数据中学习。这里我们用了标签：这是有监督的微调。）它随实验室一起提供，所以这里可以离线运行。任务是 gensim 自带的电影评论极性样本（Pang 和 Lee：100 条负面、100 条正面的句子）。我们按类别分层，留出四分之一的评论做测试。
#
# 句子向量是编码器各 token 向量的平均；一个线性层把它变成两个得分：
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
print(f"{len(train_idx)} 条训练评论，{len(test_idx)} 条测试评论，例如：")
for i in test_idx[:2]:
    print(f"  [{POLARITY_LABELS[labels[i]]}] {texts[i]}")

tokenizer, encoder = load_minilm(lab.device)
from lmlab.cite import cite  # noqa: E402

n_params = sum(p.numel() for p in encoder.parameters())
print(f"all-MiniLM-L6-v2：{cite('minilm_params_m', n_params / 1e6, '{:.1f}')} M 个参数；"
      f"{cite('polarity_train_n', len(train_idx), '{}')} 条训练评论，"
      f"{cite('polarity_test_n', len(test_idx), '{}')} 条测试评论（一条就是 "
      f"{cite('polarity_point', 100 / len(test_idx), '{:.0f}')} 个百分点的准确率）")
torch.manual_seed(0)
classifier = SentenceClassifier(encoder, n_classes=2).to(lab.device)

# %% [markdown]
# **先看基线。** 底线：永远回答训练集中最常见的标签。读词的最简单模型：**TF-IDF**（把每条评论看成它的词的加权词袋）加逻辑回归，它只知道这 150 条评论。然后是**线性探针**：冻结编码器，把每个句子的向量计算一次，只拟合线性层（逻辑回归）。探针比 TF-IDF 高出的部分，就是预训练已经知道的东西。

# %%
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

commonest = np.bincount(labels[train_idx]).argmax()
print(f"多数类：准确率 {(labels[test_idx] == commonest).mean():.2f}")
tfidf = TfidfVectorizer().fit(train_texts)
bag = LogisticRegression(max_iter=2000).fit(tfidf.transform(train_texts), labels[train_idx])
print(f"TF-IDF + 逻辑回归：准确率 "
      f"{(bag.predict(tfidf.transform(test_texts)) == labels[test_idx]).mean():.2f}")
features = sentence_embeddings(classifier, tokenizer, texts, device=lab.device)
probe = LogisticRegression(max_iter=2000).fit(features[train_idx], labels[train_idx])
probe_report = classification_report(labels[test_idx], probe.predict(features[test_idx]), POLARITY_LABELS)
n_probe = probe.coef_.size + probe.intercept_.size
print(f"线性探针：训练了 {cite('probe_numbers', n_probe, '{}')} 个数")
print(probe_report)

# %% [markdown]
# **先预测，再运行。** 探针只训练了一个线性层（385<!--cite:probe_numbers--> 个数：句子向量的每一维一个权重，再加一个偏置）。接下来的微调还要训练编码器的 22.7<!--cite:minilm_params_m--> M 个参数。在这 50<!--cite:polarity_test_n--> 条测试评论上，哪一个会更好？先写下答案，再运行下面的单元格；测量之后的检查会说明发生了什么、为什么。
#
# - `"a"`：微调，明显更好：它的 95 % 区间在探针的区间之上
# - `"b"`：分不出胜负：两个区间重叠
# - `"c"`：探针，明显更好：它的区间在上面

# %%
prediction = ...  # "a"、"b"、"c" 中的一个

# %% [markdown]
# **微调**（fine-tuning）。现在梯度也会流进编码器：预训练权重用很小的学习率（$5\times10^{-5}$，让它们只挪动一点），分类头用较大的学习率。分类头从探针的权重开始（"先线性探针，再微调"，Kumar 等 2022）：一个*随机*的分类头会在最初几步把很大的随机梯度送进编码器，破坏我们正想保留的那些特征。smoke 预设只更新最上面一层 Transformer，在 64 条训练句子上训练一轮（CPU 上几秒钟）；
# class 和 full 预设在全部 150 条上训练几轮，更新全部六层。

# %%
head_from_probe(classifier, probe.coef_, probe.intercept_)
config = ClassifierConfig(epochs=SIZE["ft_epochs"], batch_size=16, encoder_lr=5e-5, head_lr=1e-3,
                          train_layers=SIZE["ft_layers"], seed=0)
n_ft = SIZE["ft_examples"] or len(train_idx)
result = fine_tune(classifier, tokenizer, train_texts[:n_ft], labels[train_idx][:n_ft], config,
                   device=lab.device, progress=False)
predicted = predict(classifier, tokenizer, test_texts, device=lab.device)
ft_report = classification_report(labels[test_idx], predicted, POLARITY_LABELS)
print(f"微调了 {config.epochs} 轮，{result.next_iter} 步，用时 {result.train_s:.1f} 秒\n")
print(ft_report)

# %% [markdown]
# 解读这些数字：对类别 $k$ 和混淆矩阵 $C$（行：真实类别，列：预测）：
#
# $$\text{precision}_k = \frac{C_{kk}}{\sum_i C_{ik}}, \qquad \text{recall}_k = \frac{C_{kk}}{\sum_j C_{kj}},
#   \qquad F_1 = \frac{2PR}{P+R}, \qquad \text{accuracy} = \frac{\operatorname{tr} C}{\sum C}.$$
#
# 精确率（precision）问的是"模型说*正面*的时候，有多少次是对的？"，召回率（recall）问的是"正面评论中，它找出了多少？"。
#
# **这些数字有多可靠？** 测试评论只有 $n$ = 50<!--cite:polarity_test_n--> 条时，一条评论就是 2<!--cite:polarity_point--> 个百分点的准确率，而准确率 $a$
# 的标准误差是 $\sqrt{a(1-a)/n}$：

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 2.8), layout="constrained")
plot_confusion(probe_report, title=f"线性探针（准确率 {probe_report.accuracy:.2f}）", ax=axes[0])
plot_confusion(ft_report, title=f"微调后（准确率 {ft_report.accuracy:.2f}）", ax=axes[1])
plt.show()
print({"probe": {k: round(v, 3) for k, v in probe_report.as_dict().items() if isinstance(v, float)},
       "fine-tuned": {k: round(v, 3) for k, v in ft_report.as_dict().items() if isinstance(v, float)}})

# %%
for name, report, key in (("线性探针", probe_report, "probe_halfwidth"),
                          ("fine-tuned", ft_report, "ft_halfwidth")):
    a, n = report.accuracy, int(report.support.sum())
    half = 1.96 * math.sqrt(a * (1 - a) / n)
    print(f"{name:12} 准确率 {a:.2f}，95% 区间 {a - half:.2f} .. {a + half:.2f}（±{cite(key, half)}）")

# %%
check("scaling.predict_finetune", prediction,
      measured=(probe_report.accuracy, ft_report.accuracy, int(ft_report.support.sum())))

# %% [markdown]
# 区间宽约 ±0.13<!--cite:ft_halfwidth@class-->：在 150<!--cite:polarity_train_n--> 条训练句子上，微调和探针分不出高下；在我们的几次运行中，完整微调的结果随训练轮数不同，落在 0.70 到 0.78 之间的任何地方。这就是这个数据集诚实的一课：好的预训练句子向量加上一个线性层，已经是 150 个样本所能教会的大部分东西了；微调编码器要在有几千个标注样本（以及一个大到能看出提升的测试集）时才有回报。
#
# **练习 4.** 根据混淆矩阵计算每个类别的精确率、召回率和 F1。

# %%
def precision_recall_f1(confusion):
    confusion = np.asarray(confusion, dtype=float)
    return ...  # 你的代码：三个数组（precision, recall, f1），每个类别一项


check("scaling.precision_recall_f1", precision_recall_f1)

# %% [markdown]
# ## 小结
#
# - **数据并行（DDP）**：N 份副本，批次分成 N 份，梯度做 all-reduce：在同一条损失曲线上获得最多 N 倍的吞吐量
#   （要减去 all-reduce 的时间；在一台笔记本电脑共享的几个核上则没有提速）。
#   `torchrun --nproc_per_node=N -m lmlab train gpt ...`
# - **分片数据并行**（FSDP、DeepSpeed ZeRO）：各 rank 只保存权重、梯度和优化器状态的一个分片的数据并行。
# - **模型并行**：把层或矩阵分到多块 GPU 上，用于一块 GPU 装不下的模型（流水线并行和张量并行，Megatron-LM）。
#   08 号笔记本会在这里运行 FSDP2、张量并行和流水线并行，并逐一与单进程的结果对照验证。
# - **bf16 autocast**：矩阵乘法用 16 位，权重和优化器用 fp32：在 GPU 上换来速度和激活值内存；`--precision auto` 会选择它。
#   **fp16** 还需要一个 GradScaler（Ampere 之前的 GPU）。
# - **蒸馏**：学生学习教师经过软化的预测（`lmlab.models.distill`）。
# - **微调**：一个预训练编码器加上一个新的分类头，从 150 个样本学会一个任务（`lmlab.models.classifier`，评价指标在
#   `lmlab.eval.classification`）。
#
# 可以试试：用 `--grad-accum 1` 和 `--batch-size 2` 运行双 rank 的单元格；在蒸馏单元格中设置 `alpha=1.0`（只学教师）；用
# `train_layers=0` 微调，并与探针比较。
