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
# # 03 · Transformer：从 softmax(QKᵀ/√d_k)V 到一个你亲手训练的 GPT
#
# LSTM（02 号笔记本）一次读一个字符，把读过的一切都挤进一个状态向量。Transformer 则让**每个位置直接看到所有更早的位置**，并用一个公式决定看*多少*：
#
# > $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V$$
# >
# > ——Vaswani 等，*Attention Is All You Need*（2017），式 1
#
# 我们先在四个 token 上手算注意力机制（attention），加上因果掩码（causal mask），拆成多个头，给 token 加上位置，把这些部件堆成一个 GPT，在莎士比亚和唐诗上训练它、从中采样、查看它的注意力，再让它和 LSTM 赛跑。模型代码很短，点一下就能打开：
# `lmlab/models/transformer/attention.py` 和 `model.py`。

# %%
from lmlab.notebook import setup

lab = setup(lang="zh")

# %%
import math
import time
from dataclasses import replace

import matplotlib.pyplot as plt
import torch

from lmlab.exercises import check
from lmlab.viz.style import use_lab_style

use_lab_style()
torch.set_printoptions(precision=3, sci_mode=False)


def show_matrices(mats, titles, rows=None, cols=None):
    """Small heatmaps with the numbers written in, side by side."""
    fig, axes = plt.subplots(1, len(mats), figsize=(2.3 * len(mats), 2.4), dpi=80, layout="constrained")
    for ax, m, title in zip(axes, mats, titles, strict=True):
        m = m.detach().float()
        finite = m[torch.isfinite(m)]
        top = finite.abs().max().item()
        signed = finite.min().item() < 0
        ax.imshow(m.masked_fill(~torch.isfinite(m), float("nan")), cmap="RdBu_r" if signed else "Blues",
                  vmin=-top if signed else 0, vmax=top)
        for (i, j), value in zip(torch.cartesian_prod(torch.arange(m.shape[0]), torch.arange(m.shape[1])),
                                 m.flatten(), strict=True):
            if math.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7)
            else:
                ax.text(j, i, "-∞", ha="center", va="center", fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_yticks(range(m.shape[0]), rows if rows and len(rows) == m.shape[0] else None)
        ax.set_xticks(range(m.shape[1]), cols if cols and len(cols) == m.shape[1] else None)
    plt.show()


# %% [markdown]
# ## 1 · 在四个 token 上手算注意力
#
# 四个 token，每个已经变成了一个 $d_{model}=6$ 维的向量（$X$ 的行）。三个可学习的矩阵把每个 token 变成一个**查询**
# （query：我在找什么？）、一个**键**（key：我能提供什么？）和一个**值**（value：如果被选中，我传递什么）：
#
# $$Q = XW_q,\quad K = XW_k,\quad V = XW_v \qquad (4 \times d_k,\ d_k = 4)$$

# %%
tokens = ["the", "cat", "sat", "down"]
g = torch.Generator().manual_seed(0)
d_model, d_k = 6, 4
X = torch.randn(4, d_model, generator=g)  # 每个 token 一行
W_q, W_k, W_v = (torch.randn(d_model, d_k, generator=g) / math.sqrt(d_model) for _ in range(3))
Q, K, V = X @ W_q, X @ W_k, X @ W_v  # 每个都是 (4, d_k)
show_matrices([X, Q, K, V], ["X（各 token）", "Q = X W_q", "K = X W_k", "V = X W_v"], rows=tokens)

# %% [markdown]
# 查询 $i$ 用点积给键 $j$ 打分，再除以 $\sqrt{d_k}$ 缩放；沿每一行做 softmax，把得分变成为正且和为 1 的权重；token $i$
# 的输出就是各个值的加权混合：
#
# $$S = \frac{QK^\top}{\sqrt{d_k}},\qquad A_{ij} = \frac{e^{S_{ij}}}{\sum_{j'} e^{S_{ij'}}},\qquad
# \text{out} = AV$$

# %%
S = Q @ K.T / math.sqrt(d_k)  # (4, 4)：行 = 查询，列 = 键
A = torch.softmax(S, dim=-1)  # 每一行的和为 1
out = A @ V  # (4, d_k)
show_matrices([S, A, out], ["得分 S = QKᵀ/√d_k", "权重 A = softmax(S)", "输出 A V"],
              rows=tokens, cols=tokens)
print("A 的各行之和：", A.sum(-1))

# %% [markdown]
# **为什么要除以 $\sqrt{d_k}$？** 如果 $q$ 和 $k$ 的各个分量方差为 1，它们的点积方差就是 $d_k$。很大的得分会把 softmax
# 推到角落里（一个权重 ≈ 1，其余 ≈ 0），在那里它的梯度会消失。除以 $\sqrt{d_k}$ 之后，不管宽度多大，得分都保持在单位尺度：

# %%
for width in (4, 64, 512):
    q, k = torch.randn(10_000, width, generator=g), torch.randn(10_000, width, generator=g)
    dots = (q * k).sum(-1)
    scaled = dots / math.sqrt(width)
    print(f"d_k={width:4d}：q·k 的标准差 = {dots.std():6.2f}，除以 √d_k 之后 = {scaled.std():.2f}")

# %% [markdown]
# ## 2 · 因果掩码
#
# 语言模型根据 $\le t$ 的 token 预测第 $t+1$ 个 token，所以在一次性训练整条序列时，位置 $i$ 不能偷看 $j > i$。在 softmax
# 之前把这些得分设为 $-\infty$，它们的权重就是 $e^{-\infty}=0$：
#
# $$A = \mathrm{softmax}(S + M),\qquad M_{ij} = \begin{cases}0 & j \le i\\ -\infty & j > i\end{cases}$$

# %%
from lmlab.models.transformer import attention, causal_mask

mask = causal_mask(4)  # 允许关注的位置为 True：即下三角
S_masked = S.masked_fill(~mask, float("-inf"))
A_causal = torch.softmax(S_masked, dim=-1)
show_matrices([mask.float(), S_masked, A_causal], ["掩码（1 = 可以看）", "掩码后的得分", "因果权重"],
              rows=tokens, cols=tokens)
# lmlab 的可读版注意力做的正是这件事：
lib_out, lib_weights = attention(Q, K, V, mask)
print("与 lmlab.models.transformer.attention 相同：", torch.allclose(lib_weights, A_causal))

# %% [markdown]
# ### 练习 1 —— 四行代码写出注意力为形状为 `(..., T, d_k)` 的张量写出 `my_attention(q, k, v, mask=None)`；`mask` 是布尔张量，允许关注处为 `True`。然后写出 `my_causal_mask(T)`。

# %%
def my_attention(q, k, v, mask=None):
    # 先算得分，再在 mask 为 False 处填 -inf，然后对键做 softmax，最后混合各个值
    ...


check("transformer.attention", my_attention)


# %%
def my_causal_mask(T):
    ...


check("transformer.causal_mask", my_causal_mask)

# %% [markdown]
# ## 3 · 多头注意力只是一次变形
#
# 一个注意力用一组权重混合各个值。**多头**（multi-head）注意力并排运行 $h$ 个注意力，每个作用在 $d_k = C/h$ 个通道上，再把结果拼接起来：
#
# $$\mathrm{MultiHead}(X) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h)\,W_o,\qquad
# \mathrm{head}_i = \mathrm{Attention}(XW_q^{(i)}, XW_k^{(i)}, XW_v^{(i)})$$
#
# 不需要循环：一次为所有头算出 $Q = XW_q$（一个 $C \times C$ 矩阵），然后把 $C$ 个通道*看作*（view）$h \times d_k$，再把头所在的轴移到前面：`(B, T, C) → (B, T, h, d_k) → (B, h, T, d_k)`。这样注意力公式就能用一次批量矩阵乘法作用在所有头上。

# %%
from lmlab.models.transformer import GPTConfig, MultiHeadAttention, split_heads

cfg = GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8)
mha = MultiHeadAttention(cfg).eval()
x = torch.randn(1, 4, 8, generator=g)  # (B, T, C)
q, k, v = mha.W_qkv(x).split(8, dim=2)  # 每个都是 (B, T, C)
qh = split_heads(q, mha.n_head)
print("x", tuple(x.shape), "-> q", tuple(q.shape), "-> 各头", tuple(qh.shape), "= (B, n_head, T, d_k)")
# 批量计算的各头等于对各头做 Python 循环，每个头用它自己那一段通道
kh, vh = split_heads(k, mha.n_head), split_heads(v, mha.n_head)
batched, _ = attention(qh, kh, vh, causal_mask(4))
cols = [slice(h * 4, (h + 1) * 4) for h in range(2)]  # 第 h 个头拥有通道 4h .. 4h+3
looped = torch.stack([attention(q[..., c], k[..., c], v[..., c], causal_mask(4))[0] for c in cols], dim=1)
print("批量计算的头 == 逐头循环：", torch.allclose(batched, looped, atol=1e-6))


# %% [markdown]
# ### 练习 2 —— 拆分各头
# `my_split_heads(x, n_head)`：`(B, T, C)` → `(B, n_head, T, C // n_head)`。

# %%
def my_split_heads(x, n_head):
    ...


check("transformer.split_heads", my_split_heads)

# %% [markdown]
# ## 4 · 位置：正弦位置编码
#
# 注意力本身看不见顺序：把 token 打乱，每个输出也会以同样的方式被打乱。原始的 Transformer 给每个 token 的嵌入加上一个编码其位置 $pos$ 的向量，即位置编码（positional encoding）：
#
# $$PE_{(pos,\,2i)} = \sin\!\left(\frac{pos}{10000^{2i/d_{model}}}\right),\qquad
# PE_{(pos,\,2i+1)} = \cos\!\left(\frac{pos}{10000^{2i/d_{model}}}\right)$$
#
# 仔细读（很多教程把它错写成 $PE(pos, 2d_{model})$）：$i$ 数的是通道**对**，$i = 0, \dots, d_{model}/2 - 1$。第 $i$ 对装着**同一个**频率 $\omega_i = 10000^{-2i/d_{model}}$ 的正弦和余弦；波长 $2\pi/\omega_i$ 按几何级数从 $2\pi$（通道 0）增长到最后一对的 $2\pi\cdot 10000^{(d_{model}-2)/d_{model}}$。只有模型足够宽时，它才接近 $10000\cdot2\pi$：对下图中 $d_{model} = 32$ 的情形，最后一对（$i = 15$）的波长是
# $2\pi\cdot10000^{30/32} \approx 2\pi\,\cdot$ 5,623<!--cite:pe_last_factor--> $\approx$
# 35,300<!--cite:pe_last_wavelength--> 个位置。

# %%
from lmlab.cite import cite
from lmlab.models.transformer import sinusoidal_encoding

pe = sinusoidal_encoding(100, 32)  # (位置数, d_model)
slowest = 10000 ** (30 / 32)  # 最后一对（i = 15）的 1 / ω
print(f"最后一对：2π · {cite('pe_last_factor', slowest, '{:,.0f}')} ≈ "
      f"{cite('pe_last_wavelength', round(2 * math.pi * slowest, -2), '{:,.0f}')} 个位置转一圈")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3), dpi=80, layout="constrained")
ax1.imshow(pe.T, aspect="auto", cmap="RdBu_r")
ax1.set(xlabel="位置 pos", ylabel="通道", title="PE(pos, 通道)，d_model = 32")
for ch in (0, 1, 6, 7, 20):
    ax2.plot(pe[:, ch], label=f"通道 {ch}（{'sin' if ch % 2 == 0 else 'cos'}，i={ch // 2}）")
ax2.set(xlabel="位置 pos", title="几个通道：快的时钟，慢的时钟")
ax2.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # 放在曲线旁边，不压在曲线上
plt.show()

# %% [markdown]
# **为什么正弦和余弦要成对？** 因为这样一来，平移 $k$ 个位置对每个位置来说都是同一个**旋转**：令 $\theta = \omega_i k$，
#
# $$\begin{pmatrix}\sin(\omega_i(pos+k))\\ \cos(\omega_i(pos+k))\end{pmatrix} =
# \begin{pmatrix}\cos\theta & \sin\theta\\ -\sin\theta & \cos\theta\end{pmatrix}
# \begin{pmatrix}\sin(\omega_i\, pos)\\ \cos(\omega_i\, pos)\end{pmatrix}$$
#
# 所以"往回三个 token"是一个固定的线性映射，一层网络就能学会；而点积 $PE_{pos} \cdot PE_{pos+k} = \sum_i \cos(\omega_i k)$
# 只取决于偏移量 $k$，与你身在何处无关：

# %%
pos, shift, pair = 10, 3, 2
omega = 10000 ** (-2 * pair / 32)
theta = omega * shift
R = torch.tensor([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
print("R · PE(10)[第 2 对] =", R @ pe[pos, 2 * pair:2 * pair + 2], "  PE(13)[第 2 对] =", pe[pos + shift, 4:6])
sims = pe @ pe.T  # (100, 100)
plt.figure(figsize=(5, 2.5), dpi=80)
for p0 in (10, 40, 70):
    plt.plot(range(-10, 21), [sims[p0, p0 + d].item() for d in range(-10, 21)], label=f"从位置 {p0} 起")
plt.xlabel("偏移 k")
plt.ylabel("PE(pos)·PE(pos+k)")
plt.legend(fontsize=7)
plt.title("相似度只取决于偏移", fontsize=9)
plt.show()


# %% [markdown]
# GPT-2（以及 nanoGPT）则是**学习**一张位置向量表 `wpe`，像正弦编码一样加上去（`GPTConfig(pos_encoding="learned")`；
# `"sinusoidal"` 加的是上面那张固定的表）。
#
# ### 旋转位置编码：旋转 q 和 k，而不是加到 x 上
#
# 上面的旋转提示了同一组时钟更好的用法（RoPE：Su 等，2021；GPT-NeoX、Llama）。不给 token 加任何东西；而是在注意力内部，把位置 $pos$ 上每个**查询和键**的第 $i$ 个通道对旋转角度 $pos\cdot\theta_i$，$\theta_i = 10000^{-2i/d_{head}}$：
#
# $$\begin{pmatrix}x'_{2i}\\ x'_{2i+1}\end{pmatrix} =
# \begin{pmatrix}\cos pos\,\theta_i & -\sin pos\,\theta_i\\
# \sin pos\,\theta_i & \cos pos\,\theta_i\end{pmatrix}
# \begin{pmatrix}x_{2i}\\ x_{2i+1}\end{pmatrix}$$
#
# 两个旋转过的向量做点积，只看得到它们角度的**差**，所以查询 $m$ 和键 $n$ 的得分只取决于偏移量 $m - n$：每一层都免费获得了相对位置，也不需要学习任何表。lmlab 的 GPT 默认使用 RoPE（`pos_encoding="rope"`）。在 nanoGPT 的 baby-GPT 设置下，同样
# 2,000 步，RoPE 加上 lmlab 的另一个默认选择（ReLU 的 MLP），把验证损失从约 1.89（nanoGPT 的模型：学习的位置表、GELU）降到约 1.68（`benchmarks/gpt_vs_nanogpt.py`；它测的是这两处改动合在一起的效果，不是 RoPE 单独的效果）。

# %%
from lmlab.models.transformer import rotary_angles, rotate_pairs

angles = rotary_angles(64, 8)  # (位置数, head_size / 2)：pos · θ_i
q_vec, k_vec = torch.randn(8), torch.randn(8)


def rope_score(m, n):  # 查询在位置 m，键在位置 n
    q_m = rotate_pairs(q_vec, angles[m].cos(), angles[m].sin())
    k_n = rotate_pairs(k_vec, angles[n].cos(), angles[n].sin())
    return q_m @ k_n


print("偏移 3，位置分别为 3、10、40：", [round(rope_score(m, m - 3).item(), 4) for m in (3, 10, 40)])
print("从位置 10 起偏移 0..4：  ", [round(rope_score(10, 10 - d).item(), 4) for d in range(5)])

# %% [markdown]
# ### 练习 3 —— 位置编码
# `my_positional_encoding(n_pos, d_model)` → 形状为 `(n_pos, d_model)` 的张量。

# %%
def my_positional_encoding(n_pos, d_model):
    ...


check("transformer.positional_encoding", my_positional_encoding)

# %% [markdown]
# 用一个数检查一下理解：$d_{model} = 64$ 时，正弦位置编码最长的波长是多少个位置（四舍五入到整数）？

# %%
longest_wavelength_64 = ...  # 你的答案
check("transformer.longest_wavelength", longest_wavelength_64)

# %% [markdown]
# ## 5 · 一块一块搭出 GPT
#
# 一个**块**（block）先把注意力的输出加到它的输入上，再加上一个逐 token 的小 MLP 的输出。在每个子层*之前*做归一化
# （pre-LayerNorm，和 GPT-2 一样）能让残差路径 $x$ 保持干净：
#
# $$x \leftarrow x + \mathrm{MultiHead}(\mathrm{LN}(x)),\qquad
# x \leftarrow x + W_2\,\sigma(W_1\,\mathrm{LN}(x))$$
#
# GPT-2 用的是 $\sigma = \mathrm{GELU}$；lmlab 默认使用原始 Transformer 的 $\sigma(z) = \max(0, z)$：计算更便宜，而且配合
# RoPE 时这些小型字符模型学得明显更快（按 nanoGPT 的 baby-GPT 设置训练 2,000 步后，验证损失约 1.69，GELU 则约 1.78；这是 lmlab 开发时的一次运行，本笔记本没有重新测量）。
# `GPTConfig(activation="gelu")` 即 GPT-2 的选择；`"relu2"` 是 Primer 的 $\max(0, z)^2$。
#
# GPT 的结构是：token 嵌入（加上位置表，除非用 RoPE 在注意力内部旋转 q 和 k）→ $L$ 个（因果的）块 → LayerNorm → 一个输出词表得分的线性层，它的矩阵**就是 token 嵌入本身**（权重绑定，weight tying）。取 `pos_encoding="learned", activation="gelu"`
# 时，它和 GPT-2（以及 nanoGPT）的模型完全相同。像 BERT 这样的编码器使用同样的注意力，只是没有因果掩码；但它并不只是把这个堆叠去掉掩码：BERT 在每次残差相加*之后*做归一化（post-LN，和原始 Transformer 一样），在 token 嵌入和可学习的位置嵌入之外还加上片段（句子 A/B）嵌入，并用掩码语言模型头训练（`TransformerEncoder`）。

# %%
from lmlab.models.transformer import GPT
from lmlab.models.transformer.trainer import PRESETS

size = {k: PRESETS[lab.preset][k] for k in ("n_layer", "n_head", "n_embd", "block_size")}
demo = GPT(GPTConfig(vocab_size=65, **size))
print(demo.blocks[0])
wpe = getattr(demo.embed, "wpe", None)  # RoPE 没有位置表：它改为旋转 q 和 k
counts = {"token 嵌入（与输出层共享权重）": demo.embed.wte.weight.numel(),
          f"位置嵌入（{demo.config.pos_encoding}）": 0 if wpe is None else wpe.weight.numel(),
          f"{len(demo.blocks)} 个块": sum(p.numel() for p in demo.blocks.parameters()),
          "最后的 LayerNorm": sum(p.numel() for p in demo.ln_f.parameters())}
for name, n in counts.items():
    print(f"{n:>10,}  {name}")
print(f"{sum(p.numel() for p in demo.parameters()):>10,}  合计")

# %% [markdown]
# 同一个模型里有两条注意力路径：训练用融合的 `F.scaled_dot_product_attention`（GPU 上是 flash attention），以及第 1 节那种可读的实现，它还会交出每一层的权重。两者算出的数相同：

# %%
demo.eval()
idx = torch.randint(65, (2, size["block_size"]), generator=g)
fast_logits, _ = demo(idx)
slow_logits, _, attn = demo.forward_with_attention(idx)
print(f"max |快速 - 可读| = {(fast_logits - slow_logits).abs().max():.2e}；"
      f"{len(attn)} 个注意力张量，形状为 {tuple(attn[0].shape)} = (B, n_head, T, T)")

# %% [markdown]
# ## 6 · Token：字符还是字节对编码
#
# 我们在字符上训练（莎士比亚有 65<!--cite:shakespeare_chars@class--> 个符号）。真正的 GPT 用的是**字节级 BPE**（字节对编码，byte-pair encoding）：从 256 个字节值出发，反复把最常见的相邻对合并成一个新 token。它不是定长编码：一个 token 可能代表一个字节，也可能代表一整个词，固定的是词表的大小。下面是一个从零写的版本，它会展示每一次合并（`lmlab/tokenizers/bpe.py` 中的 `BytePairEncoding`）：

# %%
from lmlab.data import load_text_or_fallback, train_val_split
from lmlab.tokenizers.bpe import BytePairEncoding, FastBPETokenizer

text, corpus = load_text_or_fallback("tiny_shakespeare")
print(f"{corpus}：{cite('shakespeare_chars', len(set(text)), '{}')} 个不同的字符")
if lab.preset == "smoke":
    text = text[:400_000]  # CI：几十步只需要一小段
bpe = BytePairEncoding.train(text[:20_000], n_merges=12, verbose=True)
for chunk in bpe.encode_and_show_work(" thee there")[:2]:
    print(repr(chunk["chunk"]), "字节", chunk["bytes"])
    for step in chunk["steps"]:
        print("   合并", step["merge"], "->", step["new_id"], repr(step["new_token"]), step["tokens"])

# %% [markdown]
# 库里的分词器（Hugging Face 的 `tokenizers`，用 Rust 写成）大约一秒就能从整个语料学出一个 512<!--cite:bpe_vocab--> 个 token 的词表；每段文本的
# token 更少、更长（`lmlab train gpt --tokenizer bpe`）：

# %%
fast_bpe = FastBPETokenizer.train(text[:1_200_000], vocab_size=512)
print(f"词表有 {cite('bpe_vocab', fast_bpe.vocab_size, '{}')} 个 token")
print(fast_bpe.tokens(text[:60]))
some = text[:200_000]
print(f"每个 BPE token 平均 {len(some) / len(fast_bpe.encode(some)):.2f} 个字符（按字符切分时为 1.00）")

# %% [markdown]
# ### 练习 4——一次 BPE 合并
# `bpe_merge(ids, pair, new_id)`：从左到右，把列表 `ids` 中每一处相邻出现的 `pair` 替换为 `new_id`
# （所以 `[5, 5, 5]` 遇到 `(5, 5)` 这个对会变成 `[new_id, 5]`）。

# %%
def bpe_merge(ids, pair, new_id):
    ...


check("transformer.bpe_merge", bpe_merge)

# %% [markdown]
# ## 7 · 在 tiny Shakespeare 上训练
#
# AdamW（只对矩阵做权重衰减）、梯度裁剪，学习率先线性预热，再沿余弦曲线降到 `min_lr`。训练会报告它的 **MFU**
# （模型 FLOPs 利用率，model FLOPs utilisation）：模型每秒真正需要的算术量（前向加反向，每个参数每个 token 约 6 次浮点运算：Kaplan 等人，2020）占设备峰值的比例；在 GPU 上 30–50 % 算是不错（PaLM 报告的是 46 %，Chowdhery 等人，2022），在笔记本电脑 CPU 上只有百分之几也很正常。
# `class` 预设给这次训练一个**时间预算**：余弦按时钟走，所以无论机器快慢，学习率都恰好在时间用完时降到最低。
#
# $$\eta(t) = \eta_{min} + \tfrac12(\eta_{max} - \eta_{min})\bigl(1 + \cos(\pi t / T)\bigr)$$

# %%
from lmlab.models.transformer.schedule import cosine_lr

values = dict(PRESETS[lab.preset])
steps = range(0, 2000)
plt.figure(figsize=(5, 2.2), dpi=80)
plt.plot(steps, [cosine_lr(s, 1e-3, 1e-4, 100, 2000) for s in steps])
plt.xlabel("迭代（或时间预算的比例）")
plt.ylabel("学习率")
plt.title("先预热，再余弦衰减", fontsize=9)
plt.show()
c, f = PRESETS["class"], PRESETS["full"]
print(f"class：每批 {cite('class_batch', c['batch_size'], '{}')} 个长 "
      f"{cite('class_block', c['block_size'], '{}')} 字符的块，训练 "
      f"{cite('class_minutes', c['time_budget_s'] / 60, '{:.0f}')} 分钟；full："
      f"{cite('full_layers', f['n_layer'], '{}')} 层 × {cite('full_embd', f['n_embd'], '{}')}，块长 "
      f"{cite('full_block', f['block_size'], '{}')}")
values

# %% [markdown]
# ### 练习 5——余弦按上面的公式写出学习率调度中衰减的部分 `cosine_part(t, T, lr_max, lr_min)`
# （$0 \le t \le T$；预热不在其中）。

# %%
def cosine_part(t, T, lr_max, lr_min):
    ...


check("transformer.cosine_part", cosine_part)

# %% [markdown]
# **预期什么，和什么比。** 单独一个验证损失说明不了什么。GPT 旁边站着两个基线：对字符的均匀猜测（$\ln V$ 奈特，训练就从这里开始），以及可能行得通的最简单模型——**计数**：哪个字符跟在前一个或前两个字符后面（二元和三元模型，Kneser–Ney 平滑，`lmlab.models.ngram`），在同一份训练文本上计数。论断是：训练好的 GPT 最终明显低于三元模型，因为注意力往回读的远不止两个字符。三者都在同样的验证窗口上打分，各自给出在窗口上做自助法（bootstrap）得到的 95 % 区间。

# %%
from lmlab.checkpoint import load_checkpoint, load_model_state
from lmlab.models.transformer.trainer import GPTRecipe, TokenData, TrainConfig
from lmlab.prepared import cached
from lmlab.tokenizers import CharTokenizer
from lmlab.train.engine import train
from lmlab.viz.curves import LiveView

train_text, val_text = train_val_split(text, 0.9)
tok = CharTokenizer.fit(text)
data = TokenData.from_text(train_text, tok, val_text=val_text)
model = GPT(GPTConfig(vocab_size=tok.vocab_size, dropout=values["dropout"],
                      **{k: values[k] for k in ("n_layer", "n_head", "n_embd", "block_size")}))
train_keys = ("batch_size", "max_iters", "lr", "min_lr", "warmup_iters", "lr_decay_iters", "eval_interval",
              "eval_iters", "time_budget_s")
tcfg = TrainConfig(**{k: values[k] for k in train_keys})
print(f"{corpus}：训练集 {len(data.train):,} 个字符 / 验证集 {len(data.val):,} 个字符；"
      f"模型有 {model.num_params():,} 个参数")


def load_gpt(prep, into):
    """A prepared run's weights into the model ``into``; its metrics."""
    load_model_state(into, load_checkpoint(prep.path))
    return prep.metrics


def fit_gpt(out):
    return train(GPTRecipe(tcfg, data, tokenizer=tok), model=model, out=out, device=lab.device,
                 precision=lab.precision, live=LiveView(title="GPT · 语料 " + corpus), progress=False).metrics


# 如果 `lmlab prepare` 在课前已训练好，就直接加载那次的结果（会有提示）
m = cached("03_gpt_shakespeare", {"tokenizer": "char", **values}, preset=lab.preset, corpus=corpus,
           fit=fit_gpt, load=lambda prep: load_gpt(prep, model))
model.to(lab.device)
print(f"{m['iters']} 轮迭代，训练 {m['train_s']:.1f} 秒，每秒 {m['tokens_per_sec']:,.0f} 个 token，"
      f"MFU {m['mfu'] or 0:.1%}")
print(f"训练集 {m['eval_train_loss']:.3f}，验证集 {m['val_loss']:.3f} 奈特/字符"
      f"（均匀猜测：ln {tok.vocab_size} = {math.log(tok.vocab_size):.2f}）")

# %%
from lmlab.eval.language_model import score_against_counts
from lmlab.models.ngram import KneserNey

WINDOWS = 300  # 打分的验证窗口数（足以得到较窄的区间，在 CPU 上只需几秒）
block = model.config.block_size
# 二元和三元模型：训练文本的计数
counts = {f"{n}-gram": KneserNey.fit(data.train.tolist(), tok.vocab_size, n=n) for n in (2, 3)}
scores = score_against_counts(model, counts, data.val, block, WINDOWS, name="GPT", device=lab.device)
print(scores.report(below="3-gram", vocab_size=tok.vocab_size, unit="奈特/字符"))

# %% [markdown]
# 看差距的区间：在 0 之上，说明 GPT 学到的比计数多；在 0 附近（`smoke` 预设只训练几十步），说明还没有。`class` 预设的目标是在双核笔记本电脑上 5<!--cite:class_minutes--> 分钟内让验证损失 ≤ 1.75 奈特/字符（这是目标而不是保证：上面的数字才是这次运行的）。它的取舍着眼于*更新次数*：只有几分钟时，许多小步（8<!--cite:class_batch--> 个长 64<!--cite:class_block--> 字符的块，较高的学习率）比少数大步学到的多得多，尽管两者每秒读的字符数一样多。`full` 预设
# （6<!--cite:full_layers--> 层 × 384<!--cite:full_embd-->，块长 256<!--cite:full_block-->，在 GPU 上）就是 nanoGPT 的莎士比亚模型，它的 README 报告的结果约为 1.47。在终端里做同样的训练：
# `lmlab train gpt --preset class --out runs/gpt`，然后 `lmlab sample runs/gpt`。
#
# ## 8 · 采样与键值缓存
#
# 生成时一次追加一个 token。温度、top-k 和 top-p 改变下一个 token 的分布，方式和 LSTM 完全一样。

# %%
from lmlab.models.transformer import generate, sample_text

prompt = "ROMEO:" if corpus == "tiny_shakespeare" else val_text[:20]
for temperature in (0.5, 1.0):
    print(f"--- 温度 {temperature}")
    print(sample_text(model, tok, prompt, 200, temperature=temperature, seed=0))
print("--- 温度 0.8，top-k 10")
print(sample_text(model, tok, prompt, 200, temperature=0.8, top_k=10, seed=0))

# %% [markdown]
# 没有缓存时，每生成一个新 token 都要把整个上下文重新过一遍所有层。但更早位置的键和值永远不会变（掩码让它们看不到后面的
# token），所以我们可以把它们**缓存**起来（键值缓存，KV cache），只计算最新 token 的 $q, k, v$：每个 token 的工作量是
# $O(T)$ 而不是 $O(T^2)$。

# %%
model.eval()
start = torch.tensor([tok.encode(prompt)], device=lab.device)
n_new = model.config.block_size - start.size(1)
timings = {}
for use_cache in (False, True):
    t0 = time.perf_counter()
    out_ids = generate(model, start, n_new, top_k=1, use_cache=use_cache)
    timings[use_cache] = time.perf_counter() - t0
    print(f"use_cache={use_cache!s:5}：{n_new} 个 token 用时 {timings[use_cache] * 1000:.0f} 毫秒")
same = torch.equal(generate(model, start, n_new, top_k=1, use_cache=True),
                   generate(model, start, n_new, top_k=1, use_cache=False))
print("有无缓存时贪心解码的文本完全相同：", same)

# %% [markdown]
# ## 9 · 它学会了看哪里？
#
# 可读路径把每一层、每个头的权重交给注意力视图（04 号笔记本里还有很多）。每一行是一个作为查询的字符；亮的格子是它读取的更早的字符。

# %%
from lmlab.viz.attention import attention_of, grid_view

maps = attention_of(model, val_text[:48], tok)
grid_view(maps, layer=model.config.n_layer - 1, head=None, average_heads=True)

# %% [markdown]
# ## 10 · 唐诗"诗人"
#
# 同一个 GPT 在格律工整的唐诗上训练（五言/七言绝句和律诗，每联一行，只用最常见的 3,000 个字）。这里字符就是 token，所以模型要学会句子的长度、`，` 和 `。` 的节奏，以及哪些字常常搭配在一起。论断（在样本之后检验）：它预测下一个字的能力胜过同一批诗的二元计数。中文版使用简体字视图（`tang_poems_simplified`），英文版使用原始繁体字。

# %%
from lmlab.models.lstm.poems import poem_corpus

TANG = {"smoke": dict(max_poems=300, time_budget_s=None, max_iters=40),
        "class": dict(max_poems=None, time_budget_s=120.0, max_iters=100_000),
        "full": dict(max_poems=None, time_budget_s=None, max_iters=5000)}[lab.preset]
poems, poems_name = poem_corpus(max_vocab=3000, max_poems=TANG["max_poems"])
poem_tok = CharTokenizer.fit(poems)
poem_data = TokenData.from_text(poems, poem_tok, train_fraction=0.9)
poem_block = min(values["block_size"], len(poem_data.val) - 2)
poem_model = GPT(GPTConfig(vocab_size=poem_tok.vocab_size, block_size=poem_block, dropout=values["dropout"],
                           **{k: values[k] for k in ("n_layer", "n_head", "n_embd")}))
poem_cfg = replace(tcfg, max_iters=TANG["max_iters"], lr_decay_iters=TANG["max_iters"],
                   time_budget_s=TANG["time_budget_s"])
print(f"{poems_name}：{len(poems):,} 个字符，{poem_tok.vocab_size:,} 个不同的字")
poem_metrics = cached(
    "03_gpt_poems", {"tokenizer": "char", **values, **TANG, "lr_decay_iters": TANG["max_iters"],
                     "max_vocab": 3000}, preset=lab.preset, corpus=poems_name, script=True,
    fit=lambda out: train(GPTRecipe(poem_cfg, poem_data, tokenizer=poem_tok), model=poem_model, out=out,
                          device=lab.device, precision=lab.precision, progress=False,
                          live=LiveView(title="唐诗上的 GPT")).metrics,
    load=lambda prep: load_gpt(prep, poem_model))
poem_model.to(lab.device)
print(f"训练 {poem_metrics['iters']} 轮迭代后，验证集 {poem_metrics['val_loss']:.3f} 奈特/字符")
first = poems[0]
for seed in range(3):
    print(sample_text(poem_model, poem_tok, first, 60, temperature=0.8, top_k=20, seed=seed).split("\n\n")[0])
    print()

# %%
poem_counts = {"2-gram": KneserNey.fit(poem_data.train.tolist(), poem_tok.vocab_size, n=2)}
poem_scores = score_against_counts(poem_model, poem_counts, poem_data.val, poem_block, WINDOWS, name="GPT",
                                   device=lab.device)
print(poem_scores.report(below="2-gram", unit="奈特/字符"))

# %% [markdown]
# ## 11 · GPT 还是 LSTM？同样的参数量，同样的时间
#
# 一场公平的比赛：把 02 号笔记本里的 LSTM 调到和我们的 GPT 参数量大致相同，两者在同样的字符上训练同样的秒数，比较验证损失。
# （每个训练器自己测量验证损失：GPT 在长度为 `block_size` 的随机窗口上测，LSTM 把验证文本当作一条流来测。两个数意义相近，但并不完全相同。）

# %% [markdown]
# **先预测，再运行。** 参数量相同的 GPT 和 LSTM 在这台 CPU 上训练相同的秒数。哪一个的验证损失更低？先写下答案，再运行下面的单元格；测量之后的检查会说明发生了什么、为什么。
#
# - `"a"`：GPT，领先超过 0.05 奈特
# - `"b"`：LSTM，领先超过 0.05 奈特
# - `"c"`：都不是：两者相差在 0.05 奈特以内

# %%
prediction = ...  # "a"、"b"、"c" 中的一个

# %%
from lmlab.models.lstm import LSTMConfig, LSTMLanguageModel, LSTMRecipe, LSTMTrainConfig

RACE_S = {"smoke": 4.0, "class": 90.0, "full": 120.0}[lab.preset]
gpt_params = GPT(GPTConfig(vocab_size=tok.vocab_size, **size)).num_params()


def lstm_params(hidden, n_layer=2):
    return LSTMLanguageModel(LSTMConfig(vocab_size=tok.vocab_size, n_embd=hidden, hidden=hidden,
                                        n_layer=n_layer)).num_params()


low, high = 8, 1024  # 二分查找：LSTM 的参数量随宽度增长
while high - low > 4:
    mid = (low + high) // 2
    low, high = (mid, high) if lstm_params(mid) < gpt_params else (low, mid)
hidden = min((low, high), key=lambda h: abs(lstm_params(h) - gpt_params))
print(f"GPT 有 {gpt_params:,} 个参数；2 层 x {hidden} 的 LSTM 有 {lstm_params(hidden):,} 个")



def run_race(out):
    race_gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, **size))
    race_cfg = replace(tcfg, max_iters=10**9, lr_decay_iters=10**9, eval_interval=10**9, time_budget_s=RACE_S)
    race_gpt_run = train(GPTRecipe(race_cfg, data), model=race_gpt, device=lab.device,
                         precision=lab.precision, progress=False)
    lstm_cfg = LSTMTrainConfig(corpus=corpus, n_layer=2, hidden=hidden, time_budget_s=RACE_S, max_iters=10**9,
                               eval_interval=0, device=lab.device.type, max_eval_tokens=20_000,
                               warmup_iters=PRESETS[lab.preset]["warmup_iters"])
    race_lstm = LSTMRecipe(lstm_cfg, train_text, val_text=val_text, tokenizer=tok)
    race_lstm_run = train(race_lstm, device=lab.device, progress=False)
    return {"race": {"GPT": race_gpt_run.metrics, "LSTM": race_lstm_run.metrics}, "hidden": hidden}


race = cached("03_race", {"tokenizer": "char", **values, "race_s": RACE_S}, preset=lab.preset, corpus=corpus,
              fit=run_race).metrics["race"]
for name, r in race.items():
    print(f"{name:5} {r['params']:>9,} 个参数，{RACE_S:.0f} 秒内 {r['iters']:>5} 轮迭代，"
          f"每秒 {r['tokens_per_sec']:>8,.0f} 个 token，验证集 {r['val_loss']:.3f}")
fig, ax = plt.subplots(figsize=(4, 2.2), dpi=80)
ax.bar(list(race), [r["val_loss"] for r in race.values()], color=["tab:blue", "tab:orange"])
ax.set(ylabel="验证损失（奈特/字符）", title=f"同样的参数量，各 {RACE_S:.0f} 秒")
plt.show()

# %%
check("transformer.predict_race", prediction, measured=race)

# %% [markdown]
# 请看上面的数字，而不是相信某条规则：在 CPU 上只训练几秒或几分钟时，这场比赛很接近，并且取决于预算。对 Transformer 有利的因素会随规模增长：一条序列的所有位置可以并行训练（LSTM 必须等第 $t-1$ 步算完才能算第 $t$ 步），所以 GPU 能一直忙着；而注意力一步就能回看整个块，不必经过一连串的状态更新。这就是今天的大语言模型都是 Transformer 的原因。把 `RACE_S` 设成
# 30、90 和 300 秒试试，看看名次会不会变。
#
# ## 接下来去哪儿
#
# - `04_attention`：这个模型和一个预训练（pretrained）模型的各个头，用 bertviz 和 lmlab 的视图来看。
# - 在终端里训练更大的模型：在 GPU 上运行 `lmlab train gpt --preset full --out runs/gpt_full`。
# - 试试 `GPTConfig(pos_encoding="learned")`（GPT-2 的位置表）或 `"sinusoidal"`、`--tokenizer bpe`，或者更大的
#   `block_size`，观察验证损失的变化。
