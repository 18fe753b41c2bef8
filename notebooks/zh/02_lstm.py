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
# # 02 · 循环语言模型：从门的方程到一位字符级"诗人"
#
# 语言模型一次读一个 token，每读完一个就猜下一个。**循环**（recurrent）网络用一块固定大小的记忆——隐藏状态
# $h_t$——来做这件事，并且每一步都改写它。在这个笔记本里，你会
#
# 1. 写出最朴素的 RNN 递推式，看清**为什么它的梯度会消失**（梯度消失，vanishing gradient），
# 2. 从六个方程搭建 **LSTM**，并证明它算出的结果和 `torch.nn.LSTM` 一样，
# 3. 在 **tiny Shakespeare** 上训练一个字符级 LSTM（截断的随时间反向传播），再在**唐诗**上训练一个，让它写出格式工整的五言、七言诗句，
# 4. **往里看**：门、细胞状态、一个专门追踪某种东西的神经元、$h_t$ 走过的轨迹。
#
# 一切规模都由预设决定（`smoke` 几秒跑完，`class` 在笔记本电脑 CPU 上每个模型训练不超过 5 分钟，`full` 面向 GPU）。

# %%
from lmlab.notebook import setup

lab = setup(lang="zh")

import inspect
import math

import torch
from IPython.display import HTML, display
from torch import nn

from lmlab.exercises import check
from lmlab.models import lstm as L
from lmlab.models.lstm import analysis
from lmlab.viz import activations as viz

# %% [markdown]
# ## 1 · RNN 的递推
#
# 一个循环单元把当前输入 $x_t$ 和上一步的状态 $h_{t-1}$ 结合起来：
#
# $$h_t = \tanh(W x_t + U h_{t-1} + b)$$
#
# 每一步用的都是同一组 $W$、$U$、$b$：正因如此，一个小网络才能读任意长度的文本。lmlab 的 `RNNCell` 就是这一行
# （`lmlab/models/lstm/cells.py`）：

# %%
print(inspect.getsource(L.RNNCell.forward))

# %% [markdown]
# 亲手把它在一个序列上跑一遍，并与装着相同权重的 PyTorch 自带 `nn.RNN` 对照：

# %%
torch.manual_seed(0)
rnn = nn.RNN(input_size=3, hidden_size=4, batch_first=True)
cell = L.RNNCell(3, 4).copy_from_torch(rnn)

x = torch.randn(2, 6, 3)                # (B, T, C)：2 条序列，每条 6 步
h = torch.zeros(2, 4)                   # h_0
for t in range(x.shape[1]):
    h = cell(x[:, t], h)                # h_t = tanh(W x_t + U h_{t-1} + b)

torch_out, _ = rnn(x)
print("与 nn.RNN 的最大差值：", (h - torch_out[:, -1]).abs().max().item())

# %% [markdown]
# ## 2 · 梯度为什么会消失
#
# 要学到 50 个字符之前的一个词此刻很重要，第 $T$ 步的损失必须把梯度传回到 $x_{T-k}$。根据链式法则，它要经过中间的每一步：
#
# $$\frac{\partial h_T}{\partial h_{T-k}} = \prod_{s=T-k+1}^{T} \operatorname{diag}(1 - h_s^2)\, U$$
#
# 这是 $k$ 个矩阵的乘积：当它们的典型大小小于 1 时，乘积按几何级数缩小（梯度消失）；大于 1 时则会爆炸
# （梯度爆炸，训练时用**裁剪**梯度范数来驯服它）。我们对刚初始化的网络测量往回 $k$ 步的
# $\lVert \partial h_T / \partial x_{T-k} \rVert$：

# %%
curves = analysis.rnn_vs_lstm(steps=100, hidden=64, forget_biases=(0.0, 1.0, 3.0))
fig = viz.plot_gradient_decay(curves, title="传回 k 步之前的梯度（对数坐标）")
fig

# %% [markdown]
# RNN 的梯度在 20 步之内就下降了好几个数量级。遗忘门初始为半开（偏置 0，$f \approx 0.5$）的 LSTM 忘得差不多一样快；把遗忘门的偏置设为偏向打开——这是常见的初始化，也是 lmlab 的做法（偏置 1）——梯度就能传回更远，偏置更大则更远。为什么是遗忘门决定了这一点，下一节见分晓。

# %% [markdown]
# ## 3 · 从方程出发的 LSTM
#
# LSTM 增加了第二个状态：**细胞状态**（cell state）$c_t$，它只通过逐元素的门控改变：从 $c_{t-1}$ 到 $c_t$ 的路径上既没有矩阵乘法，也没有挤压函数。记 $\sigma$ 为 logistic sigmoid，$\odot$ 为逐元素乘积：
#
# $$
# \begin{aligned}
# i_t &= \sigma(W_i x_t + U_i h_{t-1} + b_i) && \text{input gate: how much new information to write}\\
# f_t &= \sigma(W_f x_t + U_f h_{t-1} + b_f) && \text{forget gate: how much of the old cell to keep}\\
# g_t &= \tanh(W_g x_t + U_g h_{t-1} + b_g) && \text{candidate values to write}\\
# o_t &= \sigma(W_o x_t + U_o h_{t-1} + b_o) && \text{output gate: how much of the cell to show}\\
# c_t &= f_t \odot c_{t-1} + i_t \odot g_t && \text{cell state}\\
# h_t &= o_t \odot \tanh(c_t) && \text{hidden state}
# \end{aligned}
# $$
#
# （输入门 $i_t$：写入多少新信息；遗忘门 $f_t$：保留多少旧的细胞内容；$g_t$：待写入的候选值；输出门 $o_t$：把多少细胞内容展示出来；$c_t$：细胞状态；$h_t$：隐藏状态。）
#
# 注意看下标：每个门看的都是**当前输入 $x_t$** 和**上一步的隐藏状态 $h_{t-1}$**。没有哪个门读它自己（不止一篇教程里印着 $i_t = \sigma(W_x\, i_t + \dots)$ 这样的公式，它是循环定义，是错的），也没有哪个门读 $h_t$，因为它还不存在。
#
# 沿着细胞的直接路径 $c_{t-1} \to c_t$，$\partial c_t / \partial c_{t-1} = \operatorname{diag}(f_t)$：在这条路径上，梯度只乘以遗忘门，别无其他。（完整的导数还有别的项，因为各个门本身读的是 $h_{t-1} = o_{t-1} \odot \tanh(c_{t-1})$；这些项和 RNN 一样要经过矩阵和挤压函数，而把梯度传得很远的正是那条直接路径。）$f_t$ 接近 1 时，梯度能存活很多步——就是上面那张图。下面是 lmlab 写出的这六个方程：

# %%
print(inspect.getsource(L.LSTMCell.forward))

# %% [markdown]
# **练习 1——遗忘门的记忆。** 假设输入门关闭（$i_t = 0$），遗忘门保持常数 $f$。多少步之后细胞内容只剩一半？写出
# `half_life(f)`（步数，一个实数）。

# %%
def half_life(f):
    ...  # 你的代码


check("lstm.half_life", half_life)

# %% [markdown]
# 用同一个思路快速检查一下：在直接路径上，如果每一步都是 $f_t = 0.9$，$c_t$ 上的梯度有多大比例能传到 $c_{t-10}$？（填一个数。）

# %%
direct_path_share = ...  # 你的答案
check("lstm.direct_path_share", direct_path_share)

# %% [markdown]
# ### 证明：和 `torch.nn.LSTM` 算出相同的数
#
# `torch.nn.LSTM` 把四个门的权重叠在一个矩阵里，行的顺序是 $i, f, g, o$，并保存两个偏置向量（$b_{ih} + b_{hh}$）。
# `ScratchLSTM.from_torch` 把它们复制到我们按门分开的 $W$、$U$、$b$ 中。如果方程写对了，对一个 2 层网络跑完整个序列，两者给出的输出和最终状态就相同——只差浮点舍入：

# %%
torch.manual_seed(1)
reference = nn.LSTM(input_size=8, hidden_size=16, num_layers=2, batch_first=True)
scratch = L.ScratchLSTM.from_torch(reference)

x = torch.randn(4, 30, 8)                                       # (B, T, C)
state = (torch.randn(2, 4, 16), torch.randn(2, 4, 16))          # (h_0, c_0)，每个形状为 (层数, B, H)
out_ref, (h_ref, c_ref) = reference(x, state)
out, (h_s, c_s) = scratch(x, state)
diff = max((out - out_ref).abs().max(), (h_s - h_ref).abs().max(), (c_s - c_ref).abs().max()).item()
print(f"与 torch.nn.LSTM 的最大差值：{diff:.2e}")
assert diff <= 1e-5

# %% [markdown]
# 训练时我们用快速的 `nn.LSTM`（GPU 上是 cuDNN，CPU 上是融合内核）；而装上训练好权重的从零实现版本，用来往里看。

# %% [markdown]
# **练习 2——LSTM 的一步。** 写出 `lstm_step(x, h_prev, c_prev, W, U, b)`，四个门的权重按 PyTorch 的存储方式叠在一起：
# `W` 形状为 $(4H, C)$，`U` 为 $(4H, H)$，`b` 为 $(4H)$，行的顺序是 $i, f, g, o$。返回 `(h_t, c_t)`。检查程序会与
# `torch.nn.LSTMCell` 对照，并能识别常见的笔误。

# %%
def lstm_step(x, h_prev, c_prev, W, U, b):
    ...  # 你的代码：z = ...，然后 i、f、g、o，然后 c_t 和 h_t


check("lstm.step", lstm_step)

# %% [markdown]
# **练习 3——数参数。** `torch.nn.LSTM(C, H)`（一层）有多少个参数？写出 `param_count(C, H)`。

# %%
def param_count(C, H):
    ...  # 你的代码


check("lstm.param_count", param_count)

# %% [markdown]
# ## 4 · 字符级语言模型
#
# 模型是这样的：把每个字符嵌入成向量，送进 2 层 `nn.LSTM`，做 dropout，再把 $h_t$ 映射为每个字符的得分。当嵌入维度和隐藏维度相等时，输出层**与嵌入层共享同一个矩阵**（权重绑定，weight tying），既节省参数，通常效果也更好。
#
# **截断的随时间反向传播**（truncated BPTT）。语料被切成 $B$ 条长流，并排放置。每一步读取每条流接下来的 $T$ 个字符，从上一步结束时的 $(h, c)$ 开始，因此模型能在整个文本上携带上下文；但状态会先被*分离*（detach），所以梯度只往回流 $T$ 步：
#
# ```
# stream 0: [ chunk 0 | chunk 1 | chunk 2 | ... ]
# stream 1: [ chunk 0 | chunk 1 | chunk 2 | ... ]     step c reads column c, shape (B, T)
# ```
#
# 损失是每个字符的平均交叉熵，单位是奈特。它还有两种更直观的读法：
#
# $$\text{perplexity} = e^{\text{loss}}, \qquad \text{bits per character} = \text{loss} / \ln 2$$
#
# （困惑度 perplexity，每字符比特数 bits per character。）

# %%
from lmlab.data import load_text_or_fallback, train_val_split

text, corpus = load_text_or_fallback("tiny_shakespeare")
train_text, val_text = train_val_split(text, 0.9)
print(f"{corpus}：训练集 {len(train_text):,} 个字符 / 验证集 {len(val_text):,} 个字符")
print(val_text[:200])

# %% [markdown]
# 预设决定模型大小和训练时长。`class` 预设在一个**时间预算**内训练 2 层、256 单元的 LSTM：学习率先预热，然后在预算时间内沿余弦曲线下降，所以无论时钟何时走完，训练结束时学习率都已退火。

# %%
config = L.preset_config(lab.preset, device=lab.device.type, corpus=corpus)
{k: getattr(config, k) for k in ("n_layer", "hidden", "block_size", "batch_size", "max_iters", "lr",
                                 "dropout", "time_budget_s")}

# %% [markdown]
# 老师可能已在课前训练好这个模型（`lmlab prepare`）：这时下一个单元格会加载它（配置完全相同的那次训练），显示训练时记录的图，并给出提示。环境变量 `LMLAB_RETRAIN=1`（或 `=02_lstm_shakespeare`）则在这里重新训练。

# %%
from lmlab.prepared import cached
from lmlab.train.engine import train

run = cached("02_lstm_shakespeare", config, preset=lab.preset, corpus=corpus,
             fit=lambda out: train(L.LSTMRecipe(config, train_text, val_text=val_text), out=out,
                                   device=lab.device, live=True, progress=False),
             load=lambda prep: L.load_run(prep.path, metrics=prep.metrics))
m = run.metrics
print(f"{m['iters']} 轮迭代，训练 {m['train_s']:.1f} 秒，每秒 {m['tokens_per_sec']:,.0f} 个字符")
print(f"验证集：{m['val_loss']:.3f} 奈特/字符 = {m['val_bpc']:.3f} 比特/字符，"
      f"困惑度 {m['val_perplexity']:.2f}（{m['params']:,} 个参数）")
from lmlab.cite import cite  # noqa: E402

V = run.tokenizer.vocab_size
print(f"在 {cite('vocab', V, '{}')} 个字符上均匀猜测：ln {V} = "
      f"{cite('uniform_nats', math.log(V))} 奈特；模型有 {cite('lstm_params_m', m['params'] / 1e6)} M "
      "个参数")

# %% [markdown]
# 作为参照：在 65<!--cite:vocab@class--> 个字符上均匀猜测，得分是 $\ln 65 \approx$
# 4.17<!--cite:uniform_nats@class--> 奈特。`class` 预设的 2 层、256 单元 LSTM（1.07<!--cite:lstm_params_m@class--> M
# 个参数）目标是在 5 分钟训练内在 tiny Shakespeare 上达到 ≤ 1.55 奈特/字符；这段时间能跑多少步取决于你的 CPU。在一次测量中，同样的配置 300 步后达到 1.84，1,200 步后 1.54，1,800 步（370 万字符）后 1.50。检查点
# `runs/02_lstm_shakespeare/ckpt.pt` 在终端里也能用：
# `lmlab sample runs/02_lstm_shakespeare --prompt "ROMEO:" --temperature 0.8`。

# %% [markdown]
# **和计数比。** 均匀猜测是一无所知的底线；知道一点东西的最简单模型是一张计数表：哪个字符跟在前一个字符（二元，bigram）或前两个字符（三元，trigram）后面，用 Kneser–Ney 平滑（`lmlab.models.ngram`），在同一份训练文本上计数。论断是：训练好的 LSTM 最终低于三元模型，因为它的细胞状态携带的上下文不止两个字符。三者都在同样的验证窗口上打分，并给出在窗口上做自助法（bootstrap）得到的 95 % 区间。

# %%
from lmlab.eval.language_model import score_against_counts  # noqa: E402
from lmlab.models.ngram import KneserNey  # noqa: E402

val_ids = torch.tensor(run.tokenizer.encode(val_text), dtype=torch.long)
train_ids = run.tokenizer.encode(train_text)
block, n_windows = 64, 300  # 每个窗口 64 个字符，各自从全新的状态开始读
device = next(run.model.parameters()).device
counts = {f"{n}-gram": KneserNey.fit(train_ids, V, n=n) for n in (2, 3)}  # 二元和三元模型
scores = score_against_counts(run.model, counts, val_ids, block, n_windows, name="LSTM", device=device)
print(scores.report(below="3-gram", vocab_size=V, unit="奈特/字符"))

# %% [markdown]
# ## 5 · 采样
#
# 生成时把每个采样出的字符再喂回模型，同时携带 $(h, c)$。**温度**（temperature）$\tau$ 在 softmax 之前去除得分，
# $p_i \propto e^{z_i / \tau}$：小于 1 时模型求稳，大于 1 时模型冒险。**top-k** 只保留最可能的 $k$ 个字符；
# **top-p** 保留概率之和达到 $p$ 的最小集合。

# %%
prime = "ROMEO:\n" if corpus == "tiny_shakespeare" else val_text[:20]
for temperature in (0.5, 1.0):
    print(f"--- 温度 {temperature}")
    print(L.generate(run.model, run.tokenizer, prime, 200, temperature=temperature, seed=0))
print("--- 温度 0.8，top-p 0.9")
print(L.generate(run.model, run.tokenizer, prime, 200, temperature=0.8, top_p=0.9, seed=0))

# %% [markdown]
# ## 6 · 唐诗"诗人"
#
# 同样的模型，在格律工整的唐诗上训练：五言、七言的绝句和律诗，每联占一行（`床前明月光，疑是地上霜。`）。我们只保留全部由最常用的 3,000 个字写成的诗，这样输出层可以小一些。（没有语料时——比如 CI 中的 `smoke` 预设——用 18 首名篇绝句代替，数量远远不够学习。）中文版读取的是唐诗的简体字视图（`tang_poems_simplified`，由 OpenCC 转换）；英文版读取原始的繁体字。

# %%
from lmlab.models.lstm.poems import poem_corpus

POEM_SIZES = {
    "smoke": dict(hidden=64, n_layer=1, batch_size=4, block_size=32, max_iters=30, max_poems=300),
    "class": dict(hidden=256, n_layer=2, batch_size=32, block_size=64, time_budget_s=150.0, max_iters=5000,
                  eval_interval=500, max_poems=None),
    "full": dict(hidden=512, n_layer=2, batch_size=64, block_size=128, max_iters=5000, max_poems=None),
}
sizes = dict(POEM_SIZES[lab.preset])
poems, poems_name = poem_corpus(max_vocab=3000, max_poems=sizes.pop("max_poems"))
poem_train, poem_val = train_val_split(poems, 0.9)
print(f"{poems_name}：{poems.count(chr(10) * 2) + 1:,} 首诗，{len(poems):,} 个字符，"
      f"{len(set(poems)):,} 个不同的字")
print(poems[:60])

# %%
from dataclasses import asdict

poem_config = L.preset_config(lab.preset, device=lab.device.type, corpus=poems_name, **sizes)
poet = cached("02_lstm_poems", {**asdict(poem_config), "max_poems": POEM_SIZES[lab.preset]["max_poems"],
                                 "max_vocab": 3000}, preset=lab.preset, corpus=poems_name, script=True,
              fit=lambda out: train(L.LSTMRecipe(poem_config, poem_train, val_text=poem_val,
                                                 sample_prompt="\n"),
                                    out=out, device=lab.device, live=True, progress=False),
              load=lambda prep: L.load_run(prep.path, metrics=prep.metrics))
print(f"验证集：训练 {poet.metrics['train_s']:.1f} 秒后 {poet.metrics['val_loss']:.3f} 奈特/字符")
poem_val_ids = torch.tensor(poet.tokenizer.encode(poem_val), dtype=torch.long)
poem_block = min(block, len(poem_val_ids) - 1)
poem_counts = {"2-gram": KneserNey.fit(poet.tokenizer.encode(poem_train), poet.tokenizer.vocab_size, n=2)}
poem_scores = score_against_counts(poet.model, poem_counts, poem_val_ids, poem_block, n_windows, name="LSTM",
                                   device=next(poet.model.parameters()).device)
print(poem_scores.report(below="2-gram", unit="奈特/字符"))  # 论断：这位"诗人"胜过二元计数

# %% [markdown]
# 自由采样会让模型自己决定在哪里断句，而训练不足的模型常常数错字数。诗歌模式固定**格式**，只让模型选**字**：在一句之内，采样器只能选汉字，句末的 `，` 和 `。` 是直接放上去的，而不是采样出来的。每一句都恰好五个（或七个）字；
# `heads` 可以写藏头诗。

# %%
print(L.generate_poem(poet.model, poet.tokenizer, chars_per_line=5, n_lines=4, seed=1), "\n")
print(L.generate_poem(poet.model, poet.tokenizer, chars_per_line=7, n_lines=4, seed=2), "\n")
print(L.generate_poem(poet.model, poet.tokenizer, chars_per_line=5, n_lines=4, heads="春江花月", seed=3))

# %% [markdown]
# ## 7 · 往里看
#
# 我们把训练好的莎士比亚模型的权重交给从零实现的 LSTM，让它读一段文字，并记下每一步的每一个门。热力图的每一行是一个单元，每一列是一个字符。

# %% [markdown]
# **先预测，再运行。** 练习 1 给出了遗忘门取常数时细胞内容的半衰期。对于训练好的模型最后一层中一个典型的单元（中位数单元），读这段文字时：过多少个字符，它的细胞所保存的内容会忘掉一半？先写下答案，再运行下面的单元格；测量之后的检查会说明发生了什么、为什么。
#
# - `"a"`：超过 100 个字符：细胞状态记得整段文字
# - `"b"`：10 到 100 个字符之间
# - `"c"`：少于 10 个字符

# %%
prediction = ...  # "a"、"b"、"c" 中的一个

# %%
passage = val_text[: 160 if lab.preset == "smoke" else 400]
inside = analysis.internals(run.model, run.tokenizer, passage)
last = config.n_layer - 1
layer = {k: v[last] for k, v in inside.items() if k != "probs"}
fig = viz.plot_gates(passage, layer, units=range(12), max_chars=60)
viz.save(fig, "runs/02_lstm/gates.png")
fig

# %%
import numpy as np

mean_forget = layer["forget_gate"].mean(axis=0)  # 每个单元在这段文字上的 f̄：(H,)
half_lives = np.log(0.5) / np.log(np.clip(mean_forget, 1e-6, 1 - 1e-9))
print(f"细胞内容的半衰期，{len(half_lives)} 个单元中："
      f"中位数 {np.median(half_lives):.1f} 个字符，最长 {half_lives.max():.1f}")
check("lstm.predict_memory", prediction, measured=mean_forget)

# %% [markdown]
# 这里的每张图都可以用 `viz.save(fig, "name.png")`（或 `.svg`）保存下来，用于幻灯片或打印，就像上面那样。有些单元的遗忘门长时间保持在接近 1 的位置（它们在记忆）；另一些则在空格或换行处重置。有没有哪个单元追踪着某种我们能叫出名字的东西？我们把每个细胞状态单元与**在行中的位置**（自上一个换行符以来的字符数）做相关，并用相关性最高的那个单元给它读到的文本着色：

# %%
position = analysis.line_position(passage)
unit, r = analysis.find_neuron(layer["cell_state"], position)
print(f"第 {last} 层的细胞单元 {unit}：与行内位置的相关系数 r = {r:+.2f}")
display(HTML(viz.text_heat_html(passage[:300], layer["cell_state"][:300, unit])))

# %%
viz.plot_text_heat(passage[:300], layer["cell_state"][:300, unit], width=48,
                    title=f"细胞单元 {unit}：红 = 正，蓝 = 负")

# %% [markdown]
# （在 `smoke` 预设下模型几乎没怎么训练：一个只会数字符的单元也可能和行内位置相关，所以要看颜色。`class` 模型里有在每个换行处重置的单元——我们找到过一个在 2,000 个字符上 $r = 0.86$ 的——还有标记大写字母的单元。）最后，看看模型读这段文字开头时，隐藏状态在它的两个主方向（PCA）上走过的轨迹：

# %%
viz.plot_pca_trajectory(layer["hidden_state"][:120], passage[:120])

# %% [markdown]
# 再看模型在每个字符之后期待什么：它最好的五个猜测，颜色越深表示概率越大。

# %%
viz.plot_next_char_probs(passage, inside["probs"][0], run.tokenizer.itos, top=5, max_chars=40)

# %% [markdown]
# 同样的视图也适用于"诗人"。中文标签使用 `lmlab.viz.style` 设置好的 CJK 字体显示：

# %%
poem = poem_val.strip().split("\n\n")[-1][:40]  # 切分出的最后一首诗是完整的
poet_inside = analysis.internals(poet.model, poet.tokenizer, poem)
poet_layer = {k: v[-1] for k, v in poet_inside.items() if k != "probs"}
viz.plot_gates(poem, poet_layer, units=range(8), names=("forget_gate", "cell_state"))

# %% [markdown]
# **更进一步。** 在词级别上训练：`lmlab train lstm --corpus tiny_shakespeare --tokenizer word --out runs/lstm_words`，然后比较**每字符比特数**（而不是困惑度：两者的词表不同）。在预设配置里试试 `block_size=8`：截断窗口很短时，最终损失会怎样变化？
