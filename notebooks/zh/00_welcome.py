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
# # 00 · 欢迎来到 lmlab
#
# lmlab 是一个动手学习语言模型（language model）的实验室：亲手搭建、亲手训练——词向量、LSTM、Transformer，再深入看看注意力机制（attention）内部在做什么。每个笔记本都以同一行代码开头：它选择设备、数值精度和
# **预设**（preset，决定一切的规模），并设置好作图风格。

# %%
from lmlab.notebook import setup

lab = setup(lang="zh")
lab

# %% [markdown]
# ## 实验室里有什么
#
# | 笔记本 | 你会学到 | 你会训练 |
# |---|---|---|
# | `00_welcome` | 实验室本身：预设、离线数据、实时训练视图、练习 | 一个二元（bigram）模型 |
# | `01_word2vec` | skip-gram 与 CBOW、负采样（negative sampling）、类比、词嵌入投影器 | 词向量 |
# | `02_lstm` | RNN 的递推、梯度消失（vanishing gradient）、从方程出发推导 LSTM 的门 | 一位"诗人" |
# | `03_transformer` | 从公式出发的注意力、因果掩码、多头、位置编码、BPE | 一个小型 GPT |
# | `04_attention` | 注意力头在做什么：离线的 bertviz 视图和 lmlab 自己的视图 | — |
# | `05_scaling` | 数据并行、混合精度、知识蒸馏、微调 | 一个蒸馏出来的学生模型 |
#
# 笔记本下面是一个小小的 Python 包 `lmlab`，负责各种"管道"工作（数据、训练循环、检查点、图表），好让笔记本专心讲清楚思想。每个模型都是一个简短的模块，点一下就能打开：`lmlab/models/...`。
#
# ## 你的机器：`lmlab doctor`
#
# 这份报告和在终端里运行 `lmlab doctor` 得到的一样：各软件版本、设备、预设、哪些语料可以离线使用，以及显示中文标签所用的 CJK 字体。

# %%
from lmlab.cli import main as lmlab_cli

exit_code = lmlab_cli(["doctor"])

# %% [markdown]
# ## 预设：一个笔记本，三种规模
#
# | 预设 | 适用于 | 规模 |
# |---|---|---|
# | `smoke` | 初次浏览、持续集成（CI） | 每个笔记本几秒钟 |
# | `class` | 双核笔记本电脑的 CPU | 每次训练不超过 5 分钟，结果依然有意义 |
# | `full` | GPU | 接近论文中小模型的结果 |
#
# 默认值由设备决定（CUDA 上是 `full`，其他情况是 `class`）。要切换，可以在启动实验室时设置环境变量——
# `LMLAB_PRESET=smoke lmlab lab`——也可以直接在这里传入：`lab = setup(preset="smoke")`。每个笔记本都通过下面这样一张小表，根据 `lab.preset` 确定模型的大小：

# %%
from lmlab.presets import preset_values

SIZES = {
    "smoke": {"max_iters": 60, "batch_size": 16, "block_size": 32, "max_chars": 200_000},
    "class": {"max_iters": 600, "batch_size": 32, "block_size": 64, "max_chars": 2_000_000},
    "full": {"max_iters": 3000, "batch_size": 64, "block_size": 128, "max_chars": 20_000_000},
}
cfg = preset_values(SIZES, lab.preset)
cfg

# %% [markdown]
# ## 数据：没有网络也能用
#
# 语料先在离线镜像（`$LMLAB_DATA_DIR`）中查找，再到本地缓存中查找，都没有时才去下载（https，并用 sha256 校验）。要为一间没有互联网的教室做准备，只需在一台联网的机器上运行一次
#
#     lmlab data fetch --all
#
# 然后把缓存文件夹复制过去（或者把 `LMLAB_DATA_DIR` 指向一个 U 盘）。`lmlab prepare --dest DIR` 会把笔记本要训练的每个模型都提前训练好，放进同一个文件夹，上课时直接加载，不必等待（每个训练单元格都会说明它加载的是预先准备好的结果）。当某个语料不在时，笔记本会退回到内置的英文语料，并且**明确告诉你**——你永远不会因此看到一大段报错（traceback）。

# %%
from lmlab.data import load_text_or_fallback

text, corpus = load_text_or_fallback("tiny_shakespeare")
text = text[: cfg["max_chars"]]
print(f"语料：{corpus}，使用 {len(text):,} 个字符")
print(text[:300])

# %% [markdown]
# ## 可以随时中断的训练会话
#
# 实验室里的每个模型都通过同一个训练引擎来训练：模型带来一份**配方**（recipe：它的批次、损失、学习率和优化器），其余的（训练循环、计时、实时图、检查点、断点续训）都由 `train` / `start` 完成。为了看清它，我们先用最小的语言模型：
# **二元**（bigram）模型。它只有一张表 $W \in \mathbb{R}^{V \times V}$，第 $a$ 行 $W_{a}$ 存放的是字符 $a$ 之后每个可能字符的得分（logits）：
#
# $$p(x_{t+1} = b \mid x_t = a) = \operatorname{softmax}(W_{a})_b, \qquad
#   \mathcal{L} = -\frac{1}{N}\sum_{t} \log p(x_{t+1} \mid x_t).$$

# %%
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from lmlab.tokenizers import CharTokenizer
from lmlab.train import iteration_batch
from lmlab.train.engine import Recipe, start
from lmlab.viz.curves import LiveView

tok = CharTokenizer.fit(text)
data = torch.tensor(tok.encode(text), dtype=torch.long)
V = tok.vocab_size


class Bigram(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.config = {"vocab_size": V}
        self.W = torch.nn.Parameter(torch.zeros(V, V))  # 给定当前字符时下一个字符的 logits：(V, V)


class BigramRecipe(Recipe):
    kind = "bigram"

    def build(self):
        return Bigram()

    def optimizer(self, model, device_type):
        return torch.optim.Adam(model.parameters())

    def lr(self, it, train_s):
        return 0.3  # 每一步都一样

    def batch(self, it, generator, micro, device):  # 第 t 个批次用种子 (1337, t) 抽取
        return iteration_batch(data, it, seed=1337, batch_size=cfg["batch_size"],
                               block_size=cfg["block_size"])

    def loss(self, model, batch):
        x, y = batch
        return F.cross_entropy(model.W[x].view(-1, V), y.view(-1))  # W[x]: (B, T, V)

    def tokens(self, batch):
        return batch[0].numel()

    def evaluate(self, model):
        x, y = iteration_batch(data, 10**9, seed=7, batch_size=64, block_size=cfg["block_size"])
        with torch.no_grad():
            return {"val_loss": F.cross_entropy(model.W[x].view(-1, V), y.view(-1)).item()}

    def sample(self, n=80):
        g = torch.Generator().manual_seed(0)
        ids = [tok.encode("\n")[0] if "\n" in text else 0]
        for _ in range(n):
            probs = torch.softmax(self.model.W[ids[-1]].detach(), dim=-1)
            ids.append(int(torch.multinomial(probs, 1, generator=g)))
        return tok.decode(ids)


# %% [markdown]
# 运行下一个单元格。它下面的图是**一张**原地刷新的小 PNG（损失、学习率、每秒处理的 token 数），旁边还有一行数字和一段生成的文本样例。训练过程中按 **■ / 中断内核**（Interrupt the kernel）：正在进行的那一步会完成，模型、优化器和训练历史都会保留。再次运行 `run.fit()` 会从那一轮迭代继续，损失曲线和不中断时完全相同，因为第 $t$ 个批次（batch）总是用种子 $(1337, t)$ 抽取的。

# %%
settings = SimpleNamespace(max_iters=cfg["max_iters"], seed=1337, eval_interval=max(1, cfg["max_iters"] // 4))
run = start(BigramRecipe(settings), live=LiveView(title="二元模型", every_s=0.5))
run.fit()
W = run.model.W  # 训练好的表
print(f"停在第 {run.next_iter} 轮迭代；每秒 {run.metrics['tokens_per_sec']:,.0f} 个 token")

# %% [markdown]
# 训练历史就是普通的数据——一个字典列表，每个记录的步骤一个字典——所以可以直接放进表格或检查点（checkpoint）：

# %%
run.history.records[-3:]

# %% [markdown]
# ## 练习：`check(...)`
#
# 练习会留下一个 `...` 让你填写；`check("name", answer)` 运行隐藏的测试，告诉你期望的是什么、你的答案哪里不同
# （绝不会只说一句"错了"）。`hint("name")` 会给你一点提示。
#
# **练习 1.** 训练之前，一个什么都不知道的模型给 $V$ 个字符中的每一个都分配概率 $1/V$。它的损失 $\mathcal{L}$
# 是多少？请写出 `uniform_loss(V)`。

# %%
import math

from lmlab.exercises import check, hint


def uniform_loss(V):
    return ...  # 你的代码：对 V 个符号做均匀猜测时的交叉熵


check("welcome.uniform_loss", uniform_loss)

# %% [markdown]
# 把你的结果和上面记录的第一个损失值比较一下：训练是从 $\ln V$ 奈特（nat）开始的。

# %%
first_loss = run.history.records[0]["train_loss"]
print(f"ln V = {math.log(V):.3f} 奈特；记录的第一个训练损失：{first_loss:.3f}")

# %% [markdown]
# 这只是起点。这个模型最终能到哪里？二元模型的表有一个无需任何训练的精确答案：**数**出每个字符跟在另一个字符后面的次数，再把次数变成概率（每个次数都加 1，这样没有哪一对的概率为 0）。对 $W$ 做梯度下降应当慢慢接近这张数出来的表；剩下的差距，就是更多步数还能换来的。两者都在 `evaluate()` 用的那个批次上打分，并给出在它的 64 行上做自助法（bootstrap）得到的 95 % 区间。

# %%
from lmlab.eval.bootstrap import bootstrap_mean

counts = torch.ones(V, V)  # 加一平滑：每一对都比实际多数一次
counts.index_put_((data[:-1], data[1:]), torch.ones(len(data) - 1), accumulate=True)
log_p = (counts / counts.sum(1, keepdim=True)).log()  # (V, V) 的 log p(b | a)
x, y = iteration_batch(data, 10**9, seed=7, batch_size=64, block_size=cfg["block_size"])  # evaluate() 用的批次
with torch.no_grad():
    learned = F.cross_entropy(W[x].view(-1, V), y.view(-1), reduction="none").view(64, -1).mean(1)
counted = -log_p[x, y].mean(1)  # (64,) 每行的损失
for name, rows in (("训练出的 W", learned), ("数出的表", counted)):
    lo, hi = bootstrap_mean(rows.tolist())
    print(f"{name:14} {rows.mean():.3f} 奈特，95% 区间 {lo:.3f} .. {hi:.3f}")
print(f"{'均匀猜测':14} {math.log(V):.3f} 奈特")

# %% [markdown]
# **练习 2.** 论文中报告字符级模型时用的是*每字符比特数*（bits per character）：同样的损失，只是把 $\ln$
# 换成 $\log_2$。请写出 `bits_per_char(loss_nats)`。

# %%
def bits_per_char(loss_nats):
    ...  # 你的代码


check("welcome.bits_per_char", bits_per_char)
hint("welcome.bits_per_char")

# %% [markdown]
# ## 一个验算过的例子：一次前向传播及其交叉熵
#
# 本实验的学生可能读过这样一篇教程：它用一个有 2 个输入、2 个 ReLU 隐藏单元和 2 个输出类别的网络走完一个例子，算出交叉熵约为 $-0.415$。这不可能是对的，下面的步骤说明原因。数据如下：$W_1 = \begin{pmatrix}0.1 & 0.2\\ 0.3 & 0.4\end{pmatrix}$，
# $b_1 = (0.5, 0.6)$，$W_2 = \begin{pmatrix}0.7 & 0.8\\ 0.9 & 1.0\end{pmatrix}$，$b_2 = (0.1, 0.2)$，
# $x = (0.5, 0.6)$，目标类别 $t = 1$（PyTorch 把类别编号为 0 和 1，所以这是第二类）：
#
# $$h = \operatorname{ReLU}(W_1 x + b_1),\qquad z = W_2 h + b_2,\qquad
#   \mathcal{L} = -\log \frac{e^{z_t}}{e^{z_0} + e^{z_1}}.$$
#
# 手算：$W_1 x = (0.1\cdot0.5 + 0.2\cdot0.6,\ 0.3\cdot0.5 + 0.4\cdot0.6) = (0.17, 0.39)$，所以
# $h = (0.67, 0.99)$（两者都为正，ReLU 原样保留），而不是 $(0.8, 1.0)$。接着
# $z = (0.7\cdot0.67 + 0.8\cdot0.99 + 0.1,\ 0.9\cdot0.67 + 1.0\cdot0.99 + 0.2) = (1.361, 1.793)$，而不是 $(1.3, 1.5)$。那篇教程随后又在指数里把 $b_2$ 加了第二次，并把 $e^{1.4}$ 放在分子上，而它并不是分母中的两项之一：softmax 的分子永远是它自己分母中的一项。下面用 torch 做同样的计算，得到正确的损失：

# %%
W1 = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
b1 = torch.tensor([0.5, 0.6])
W2 = torch.tensor([[0.7, 0.8], [0.9, 1.0]])
b2 = torch.tensor([0.1, 0.2])
x = torch.tensor([0.5, 0.6])
t = 1
h = torch.relu(W1 @ x + b1)  # 隐藏层：(2,)
z = W2 @ h + b2  # logits：(2,)，输出层不加 ReLU，接下来就是 softmax
p = torch.softmax(z, dim=-1)
print(f"h = {[round(v, 3) for v in h.tolist()]}, z = {[round(v, 3) for v in z.tolist()]}")
print(f"教程自己的式子 -log(e^1.4 / (e^1.5 + e^1.7)) = "
      f"{-math.log(math.exp(1.4) / (math.exp(1.5) + math.exp(1.7))):.3f}：同样是正数")

# %% [markdown]
# **为什么交叉熵（cross-entropy）永远不会是负数。** 每一项 $e^{z_j}$ 都是正数，所以 softmax 的
# $p_t = e^{z_t} / \sum_j e^{z_j}$ 是一个正数，而且它自己那一项就在分母的和里：
# $0 < p_t \le 1$。$(0, 1]$ 中的数取对数 $\le 0$，所以 $\mathcal{L} = -\log p_t \ge 0$，只有当模型把全部概率都放在正确类别上时才等于 $0$。损失为负，一定是算术上出了差错。
# （若 $t = 0$，即第一类，损失为 $-\log p_0 = -\log$ 0.3936<!--cite:worked_p0--> =
# 0.932<!--cite:worked_loss_t0-->，同样是正数。）
#
# **练习 3.** $t = 1$ 时的损失是多少（保留三位小数）？在纸上从 $z$ 算起（或者用 `math.exp` 和
# `math.log`），然后检查答案；检查之后的单元格会把它算出来。

# %%
worked_loss = ...  # 你的答案：一个数
check("welcome.worked_loss", worked_loss)

# %%
from lmlab.cite import cite

p = torch.softmax(z, dim=-1)
print(f"p = {[round(v, 4) for v in p.tolist()]}；交叉熵 -log p[t] = {-torch.log(p[t]).item():.4f}；"
      f"F.cross_entropy 的结果一致：{F.cross_entropy(z[None], torch.tensor([t])).item():.4f}")
print(f"t = 0 时：-log {cite('worked_p0', p[0].item(), '{:.4f}')} = "
      f"{cite('worked_loss_t0', -torch.log(p[0]).item(), '{:.3f}')}")

# %% [markdown]
# **教师请看：** 参考答案不在笔记本里，而是和隐藏测试放在一起，位于 `lmlab/exercises/<topic>.py`。用
# `LMLAB_TEACHER=1` 启动实验室，这个单元格就会打印一份参考答案（对学生则只说明答案在哪里）。`lmlab site --teacher`
# 会执行每个笔记本并显示答案，生成离线 HTML 页面；`lmlab site` 生成的是学生版。

# %%
from lmlab.exercises import solution

_ = solution("welcome.uniform_loss")  # 为教师打印参考答案的源代码

# %% [markdown]
# ## 动手试试：温度
#
# 采样时先把 logits 除以温度（temperature）$\tau$，再做 softmax，
# $p_b \propto \exp(W_{a,b}/\tau)$：$\tau$ 小，分布更尖锐；$\tau$ 大，分布更平坦。

# %% [markdown]
# **先预测，再运行。** 当 τ 从 0.5 变到 2 时，`e` 后面最可能的字符会变吗？先写下答案，再运行下面的单元格；测量之后的检查会说明发生了什么、为什么。
#
# - `"a"`：会：低温度会挑出另一个、更好的字符
# - `"b"`：不会：每个温度都保持同样的顺序，变的只是分布的集中程度

# %%
prediction = ...  # "a"、"b" 中的一个

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt

after = "e" if "e" in text else text[0]
row = W[tok.encode(after)[0]].detach()  # 字符 `after` 之后那个字符的 logits：(V,)
top = torch.topk(row, 12).indices
labels = [repr(tok.decode([int(i)]))[1:-1] for i in top]

fig, axes = plt.subplots(1, 3, figsize=(10, 2.4), sharey=True)
for ax, tau in zip(axes, (0.5, 1.0, 2.0), strict=True):
    ax.bar(labels, torch.softmax(row / tau, dim=-1)[top])
    ax.set(title=f"τ = {tau}", ylim=(0, 1))
axes[0].set_ylabel(f"p(下一个 | {after!r})")
plt.show()

# %%
def order(tau):
    return torch.argsort(row / tau, descending=True, stable=True)  # 字符，最可能的在前


same_order = all(torch.equal(order(tau), order(1.0)) for tau in (0.5, 2.0))
print(f"{after!r} 之后最可能的字符：τ = 0.5 → {tok.decode([int(order(0.5)[0])])!r}，"
      f"τ = 2 → {tok.decode([int(order(2.0)[0])])!r}；每个 τ 下顺序都相同：{same_order}")
check("welcome.predict_temperature", prediction, measured=same_order)

# %% [markdown]
# 现在自己拖动滑块试试（需要正在运行的内核）：

# %%
def show_temperature(tau=1.0):
    probs = torch.softmax(row / tau, dim=-1)[top]
    fig, ax = plt.subplots(figsize=(6, 2.4))
    ax.bar(labels, probs)
    ax.set(title=f"p(下一个字符 | {after!r})，τ = {tau:.2f}", ylabel="概率", ylim=(0, 1))
    plt.show()


slider = widgets.FloatSlider(value=1.0, min=0.1, max=3.0, step=0.1, description="τ")
_ = widgets.interact(show_temperature, tau=slider)

# %% [markdown]
# ## 图里的中文
#
# 唐诗出现在第 01–03 个笔记本中。中文标签无需任何字体设置就能正常显示（使用已安装的中日韩（CJK）字体，或 `mplfonts` 包自带的 Noto Sans CJK 字体文件）。
#
# **用于幻灯片的图。** 笔记本画出的每一样东西都可以一次调用保存下来，由文件名决定格式：
#
#     from lmlab.viz import save
#     save(fig, "poem.png")              # any figure: .png, .svg or .pdf
#     save(view, "heads.html")           # attention views (04) and the projector (01): also .html
#     save(frames, "training.gif")       # a list of figures or an animation: .gif, or .mp4 for slides
#
# 现成的动画有两个：GPT 训练时一个注意力头如何形成
# （`lmlab.viz.attention.AttentionRecorder`，作为训练器的 `live=` 传入，然后 `recorder.save("head.mp4")`），以及 word2vec 训练时词语地图如何形成（第 01 个笔记本中的 `evolution_gif(snapshots, words, "words.mp4")`）。
# MP4 使用 `imageio-ffmpeg` 包自带的 ffmpeg，因此不需要系统里装 ffmpeg。

# %%
poem = "床前明月光疑是地上霜举头望明月低头思故乡"
counts = {ch: poem.count(ch) for ch in dict.fromkeys(poem)}
fig, ax = plt.subplots(figsize=(7, 2.2))
ax.bar(list(counts), list(counts.values()))
ax.set(title="《静夜思》字频统计", ylabel="次数")
plt.show()

# %% [markdown]
# ## 接下来去哪儿
#
# 打开 `01_word2vec`，学习如何从共现关系中得到词向量；或者直接跳到 `03_transformer` 搭一个 GPT。在终端里，`lmlab --help` 会以命令的形式列出同样的工具（train、sample、viz、data、doctor）。
