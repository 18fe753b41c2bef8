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
# # 04 · 看得见的注意力
#
# Transformer 为每个 token 决定**从哪些更早的 token 读取信息**。这些决定就是一些数——每层、每个头、每个 token 一行
# softmax——在这个笔记本里，我们就来看这些数：
#
# 1. 一个在莎士比亚上训练的小 GPT 的各个头（bertviz 的视图，离线可用），
# 2. 如何*量化*一个头在做什么，并找出"前一个 token 头"和"行首头"，
# 3. 一个头对一个 token 的全部算术，每个数都摆出来，
# 4. 一个真正的预训练（pretrained）编码器（all-MiniLM-L6-v2）在一对句子上的表现，并与我们的 GPT 比较，
# 5. 位置与下一个 token 的概率，以及如何把任何图导出到幻灯片里。
#
# 这里的一切都不需要网络：bertviz 的脚本来自已安装的 Python 包。

# %%
from lmlab.notebook import setup

lab = setup(lang="zh")

# %%
import tempfile
from pathlib import Path

import torch

from lmlab.checkpoint import load_checkpoint
from lmlab.cite import cite
from lmlab.data import load_text_or_fallback
from lmlab.exercises import check
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.generate import load_for_sampling
from lmlab.models.transformer.model import GPT
from lmlab.models.transformer.run import make_tokenizer
from lmlab.models.transformer.trainer import PRESETS, GPTRecipe, TokenData, TrainConfig
from lmlab.prepared import find_checkpoint
from lmlab.train.engine import train
from lmlab.viz.attention import (
    attention_of,
    attention_steps,
    grid_view,
    head_view,
    model_view,
    next_token_view,
    positional_view,
    steps_view,
)

# %% [markdown]
# ## 1 · 一个可以往里看的 GPT
#
# 如果你运行过 03 号笔记本，它的 GPT 就在 ``runs/03_gpt_shakespeare``（或者把 ``$LMLAB_GPT_CKPT`` 指向任何
# ``lmlab train gpt --out DIR`` 的输出，或者请老师运行 ``lmlab prepare``），我们直接加载它。否则就在这里训练一个小的，规模由预设决定（smoke：几秒；class：在笔记本电脑 CPU 上 2<!--cite:class_train_minutes--> 分钟）。注意：中文版在 ``notebooks/zh`` 中运行，查找的是 ``notebooks/zh/runs/``。

# %%
PRESET_SIZES = {
    "smoke": dict(n_layer=2, n_head=4, n_embd=64, block_size=64, batch_size=8, max_iters=80),
    "class": dict(n_layer=4, n_head=4, n_embd=128, block_size=128, batch_size=16, max_iters=100_000,
                  time_budget_s=120.0),
    "full": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, max_iters=2000),
}
SIZES = PRESET_SIZES[lab.preset]
print(f"class 预设：训练 {cite('class_train_minutes', PRESET_SIZES['class']['time_budget_s'] / 60, '{:.0f}')} "
      "分钟")

text, corpus = load_text_or_fallback("tiny_shakespeare")
gpt_03 = {"tokenizer": "char", **PRESETS[lab.preset]}  # 第 03 本笔记的 GPT：它预先训练好的那次运行的键
found = find_checkpoint("03_gpt_shakespeare", gpt_03, preset=lab.preset, corpus=corpus,
                        notebook="03_transformer", env="LMLAB_GPT_CKPT",
                        local=("runs/03_gpt_shakespeare", "runs/gpt"))
found = [found] if found else []
gpt = None
if found:
    gpt, tok = load_for_sampling(load_checkpoint(found[0]), lab.device)
    try:
        tok.encode(text[:5000])
        print(f"已从 {found[0]} 加载 03 号笔记本的 GPT")
    except ValueError as err:  # 训练所用的语料与现在能用的语料不同
        print(f"不使用 {found[0]}：{err}")
        gpt = None
if gpt is None:
    text = text[: 100_000 if lab.preset == "smoke" else 2_000_000]
    tok = make_tokenizer("char", text)
    model_keys = ("n_layer", "n_head", "n_embd", "block_size")
    gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, **{k: SIZES[k] for k in model_keys}))
    train_keys = {k: v for k, v in SIZES.items() if k not in model_keys}
    tcfg = TrainConfig(lr=2e-3, min_lr=2e-4, warmup_iters=20, lr_decay_iters=SIZES["max_iters"],
                       eval_interval=10**9, eval_iters=2, **train_keys)
    result = train(GPTRecipe(tcfg, TokenData.from_text(text, tok), tokenizer=tok), model=gpt,
                   device=lab.device, progress=False)
    print(f"在 {corpus} 上训练：验证损失 {result.metrics['val_loss']:.3f} 奈特/字符"
          f"（均匀猜测：{torch.log(torch.tensor(float(tok.vocab_size))):.3f}）")
gpt.eval()
print(gpt.config)

# %% [markdown]
# ## 2 · 用 bertviz 的 head view 看我们的 GPT
#
# 选一段文本窗口，用 `forward_with_attention` 运行一次模型：每一层返回一个形状为 (batch, heads, T, T) 的张量，其中第 *i*
# 行是 token *i* 可以看的那些 token 上的 softmax。`attention_of` 把它们连同 token 字符串一起收集起来（这里是字符；换行显示为 ⏎，空格显示为 ␣）。在 head view 中，每种颜色是一个头；把鼠标悬停在左侧的某个 token 上，就能看到它在看哪里。因为这是一个因果模型，连线永远只*向上*（指向更早的 token）。

# %%
delimiter = "\n" if text.count("\n") > len(text) // 200 else " "  # 按行（莎士比亚）或按词
start = text.index(delimiter, len(text) // 2) + 1
sample = text[start:start + min(gpt.config.block_size, 60)]
maps = attention_of(gpt, sample, tok)
print(maps.weights.shape, "(层数, 头数, T, T)")
head_view(maps, layer=gpt.config.n_layer - 1)

# %% [markdown]
# ## 3 · 量化一个头在做什么
#
# 看是开始，量化更好。一个**前一个 token 头**（previous-token head）把权重放在紧挨着的前一个 token 上：即元素
# `weights[i, i-1]`，主对角线下方的那条对角线。写出这个得分。

# %%
def previous_token_score(weights):
    """weights: (T, T) attention of one head. The mean weight that token i gives to token i-1."""
    return ...  # 你的代码：一行


check("attention.previous_token_score", previous_token_score)

# %% [markdown]
# 如果卡住了，`check` 会给出提示；下面的单元格用的是参考版本，所以不管怎样笔记本都能跑下去。我们在几个窗口上给每个头打分，还要看第二种模式：对**当前这一行（或这个词）的第一个 token** 的注意力，模型需要靠它知道自己在行中的位置。
#
# **和什么比？** 只有当得分高于一个什么都没学到的头时，它才算一种模式。基线是一个把权重平均分给它能看到的每个 token 的头（第 $i$ 行给每个 token $1/(i+1)$）：它在两种模式上的得分都明显高于 0，因为前面几行可选的 token 很少。只有远高于这条线的头，才算得上前一个 token 头或行首头；而且得分是六个窗口的平均，所以单元格还会打印它在窗口之间的波动。

# %%
def reference_previous_token_score(weights):
    return float(torch.diagonal(weights, offset=-1).mean())


def line_start_score(weights, tokens, delimiter_shown):
    """Mean weight that a token gives to the first token of its own line (or word)."""
    scores, line_start = [], 0
    for i in range(len(tokens)):
        if i > 0 and tokens[i - 1] == delimiter_shown:
            line_start = i
        elif i > line_start:
            scores.append(float(weights[i, line_start]))
    return sum(scores) / max(1, len(scores))


shown = "⏎" if delimiter == "\n" else "␣"
L, H = gpt.config.n_layer, gpt.config.n_head
starts = range(len(text) // 3, len(text) - 10_000, len(text) // 12)
windows = [text.index(delimiter, k) + 1 for k in starts][:6]
per_window_prev, per_window_line, uniform_prev, uniform_line = [], [], [], []
for s0 in windows:
    m = attention_of(gpt, text[s0:s0 + gpt.config.block_size], tok)
    per_window_prev.append([[reference_previous_token_score(m.head(layer, h)) for h in range(H)]
                            for layer in range(L)])
    per_window_line.append([[line_start_score(m.head(layer, h), m.tokens, shown) for h in range(H)]
                            for layer in range(L)])
    T = len(m.tokens)
    uniform = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1).unsqueeze(1)  # (T, T) 权重均匀分布的行
    uniform_prev.append(reference_previous_token_score(uniform))
    uniform_line.append(line_start_score(uniform, m.tokens, shown))
prev, line = torch.tensor(per_window_prev).mean(0), torch.tensor(per_window_line).mean(0)  # (L, H)
best_prev = divmod(int(prev.argmax()), H)
best_line = divmod(int(line.argmax()), H)
print("前一个 token 得分（行：层，列：头）\n", prev.numpy().round(2))
print(f"行首/词首得分（以 {delimiter!r} 分隔）\n", line.numpy().round(2))
print(f"最像前一个 token 头的：第 {best_prev[0]} 层第 {best_prev[1]} 个头（{prev.max():.2f}）；"
      f"最像行首头的：第 {best_line[0]} 层第 {best_line[1]} 个头（{line.max():.2f}）")
spread_prev = torch.tensor(per_window_prev)[:, best_prev[0], best_prev[1]]
spread_line = torch.tensor(per_window_line)[:, best_line[0], best_line[1]]
print(f"在 {len(windows)} 个窗口上，这两个头的得分为 {spread_prev.min():.2f} .. "
      f"{spread_prev.max():.2f} 和 {spread_line.min():.2f} .. {spread_line.max():.2f}；"
      "把权重平均分配的头得分为 "
      f"{sum(uniform_prev) / len(windows):.2f} 和 {sum(uniform_line) / len(windows):.2f}")

# %% [markdown]
# **先预测，再运行。** 上面的单元格找到了最像"前一个 token"的头：它的模式是模型里最清楚的。每次关掉一个头（把它的输出置零），测量损失上升多少：这个头是不是关掉后代价最大的那个？先写下答案，再运行下面的单元格；测量之后的检查会说明发生了什么、为什么。
#
# - `"a"`：是：模式最清楚的头，就是模型最需要的头
# - `"b"`：不是：关掉另一个头的代价更大

# %%
prediction = ...  # "a"、"b" 中的一个

# %%
hs = gpt.config.n_embd // H
device = next(gpt.parameters()).device
ids = torch.tensor([tok.encode(text[s0:s0 + gpt.config.block_size + 1]) for s0 in windows], device=device)


def loss_without(layer=None, head=None):
    """The loss on the windows with one head's output set to zero (None: the whole model)."""
    def zero_head(module, args):
        y = args[0].clone()
        y[..., head * hs:(head + 1) * hs] = 0  # 这个头在合并后的各头中所占的那一段，在 W_o 之前
        return (y,)

    hook = None if layer is None else gpt.blocks[layer].attn.W_o.register_forward_pre_hook(zero_head)
    try:
        with torch.no_grad():
            return float(gpt(ids[:, :-1], ids[:, 1:])[1])
    finally:
        if hook is not None:
            hook.remove()


base = loss_without()
rise = torch.tensor([[loss_without(layer, h) - base for h in range(H)] for layer in range(L)])
print(f"损失 {base:.3f}；关掉一个头后它的上升（行：层，列：头）\n",
      rise.numpy().round(3))
check("attention.predict_knockout", prediction,
      measured={"previous_token_head": best_prev, "loss_increase": rise.tolist()})

# %% [markdown]
# 现在看**网格**：每一层 × 每个头一张热力图（行 = 发出关注的 token，列 = 被关注的 token；灰色 = 因果掩码）。点击一张热力图可以放大并显示 token 标签；悬停可以看到精确的权重；勾选 *average the heads* 可以看整层在做什么。细节视图一开始显示的是上面找到的前一个 token 头：它那条亮带正好在对角线下方。

# %%
grid_view(maps, layer=best_prev[0], head=best_prev[1])

# %% [markdown]
# ## 4 · 一个头，一个 token，每一个数
#
# 对于位置 *i* 上的 token，某一层的第 *h* 个头计算（$d_k$ = 每个头的通道数）
#
# $$q = x_i W_q,\quad k_j = x_j W_k,\quad v_j = x_j W_v,\qquad
#   s_j = \frac{q \cdot k_j}{\sqrt{d_k}},\qquad s_j = -\infty \text{ for } j > i,$$
# $$a_j = \frac{e^{s_j}}{\sum_{j'} e^{s_{j'}}},\qquad \text{out} = \sum_j a_j v_j .$$
#
# `attention_steps` 捕获那一层真实的输入 $x$（在注意力模块上挂一个钩子），重做每一步，并把结果与模型自己报告的权重核对。

# %%
layer, head = best_prev
query = min(20, maps.n_tokens - 1)
steps = attention_steps(gpt, sample, tok, layer=layer, head=head, token=query)
steps_view(gpt, sample, tok, layer=layer, head=head, token=query)

# %% [markdown]
# 轮到你了：前两步。`steps.q` 就是 $q$（形状 $(d_k,)$），`steps.K` 装着每个 $k_j$（形状 $(T, d_k)$）。写出缩放后的得分，再写一个作用于整个 $(T, T)$ 矩阵的因果 softmax。

# %%
def scaled_scores(q, K):
    """(T,) scores q·k_j / sqrt(d_k)."""
    return ...  # 你的代码


def causal_softmax(scores):
    """(T, T) scores -> (T, T) weights; row i may only use columns 0..i."""
    return ...  # 你的代码


check("attention.scaled_scores", scaled_scores)
check("attention.causal_softmax", causal_softmax)

# %% [markdown]
# ## 5 · 一个真正的预训练模型：all-MiniLM-L6-v2
#
# MiniLM 是一个 6 层、12 个头的 BERT 系**编码器**（22.7<!--cite:minilm_params_m--> M 参数），在十亿多对句子上训练过（见它的模型卡 `sentence-transformers/all-MiniLM-L6-v2`）。它的权重随一个 PyPI 包发布，所以可以离线加载。编码器是*双向*的：没有因果掩码，每个 token 都可以向两边看。给它一对句子：BERT 风格的模型读的是
# `[CLS] sentence A [SEP] sentence B [SEP]`，`sentence_b_start` 让 head view 可以筛选 A→B 和 B→A 的注意力（下拉菜单）。

# %%
from lmlab.models.pretrained import load_minilm

minilm = load_minilm()
print(f"{cite('minilm_params_m', sum(p.numel() for p in minilm.parameters()) / 1e6, '{:.1f}')} M 个参数")
pair = attention_of(minilm, "The cat sat on the mat.", text_b="It was happy there.")
print(minilm, "\n句子 B 从这个 token 开始", pair.sentence_b_start, repr(pair.tokens[pair.sentence_b_start]))
head_view(pair, layer=2)

# %% [markdown]
# model view 一次显示全部 72<!--cite:minilm_heads--> 个头；点击缩略图可以放大。找找看：把一切都送到 `[SEP]` 或 `[CLS]` 的头（一个"什么都不做"、用来停放注意力的地方），往回看一个 token 或往前看一个 token 的头，以及把两个句子中同一个词连起来的头。

# %%
n_heads = pair.n_layer * pair.n_head
print(f"{pair.n_layer} 层 × {pair.n_head} 个头 = {cite('minilm_heads', n_heads, '{}')}")
model_view(pair)

# %% [markdown]
# **预训练编码器 vs. 我们的 GPT。** 同样的前一个 token 得分，两个模型的每个头都算一遍。论断是：在十亿多对句子上训练过的 MiniLM 有一个几乎完美的"读前一个 token"的头（在下面这句话上，它最好的头得分 0.998<!--cite:minilm_prev_max-->，对照第 3 节打印的平均分配权重的基线）。GPT 在训练中也会长出这样的头；`smoke` 预设的几秒钟不够（它的头都停留在那条基线附近），所以请用 `class` 预设或 03 号笔记本的模型来比较。

# %%
from matplotlib.figure import Figure

mini = attention_of(minilm, "Four score and seven years ago our fathers brought forth on this continent "
                            "a new nation, conceived in liberty.")
mini_prev = torch.tensor([[reference_previous_token_score(mini.head(l, h)) for h in range(mini.n_head)]
                          for l in range(mini.n_layer)])
fig = Figure(figsize=(8, 2.6), layout="constrained")
ax1, ax2 = fig.subplots(1, 2)
for ax, scores, name in ((ax1, prev, f"我们的 GPT（{corpus}）"), (ax2, mini_prev, "all-MiniLM-L6-v2")):
    image = ax.imshow(scores.numpy(), vmin=0, vmax=1, cmap="viridis")
    ax.set(title=f"前一个 token 得分：{name}", xlabel="头", ylabel="层")
    ax.grid(False)
fig.colorbar(image, ax=[ax1, ax2], shrink=0.8)
print(f"最好的前一个 token 得分：我们的 GPT {prev.max():.3f}，MiniLM "
      f"{cite('minilm_prev_max', mini_prev.max().item(), '{:.3f}')}")
fig

# %% [markdown]
# 编码器还可以*往前*看：镜像的得分 `torch.diagonal(weights, offset=+1)` 能找到一个**下一个 token 头**，这是 GPT 不可能有的。下面是 MiniLM 的两个冠军，各用一种颜色。

# %%
mini_next = torch.tensor([[float(torch.diagonal(mini.head(l, h), offset=1).mean())
                           for h in range(mini.n_head)] for l in range(mini.n_layer)])
p_layer, p_head = divmod(int(mini_prev.argmax()), mini.n_head)
n_layer, n_head = divmod(int(mini_next.argmax()), mini.n_head)
print(f"前一个 token 头：第 {p_layer} 层第 {p_head} 个头（得分 {mini_prev.max():.2f}）；"
      f"下一个 token 头：第 {n_layer} 层第 {n_head} 个头（得分 {mini_next.max():.2f}）")
head_view(mini, layer=p_layer, heads=[p_head])

# %% [markdown]
# ## 6 · 位置，以及接下来是什么
#
# 注意力本身不管顺序。原始的 Transformer 给 token 嵌入加上固定的正弦曲线，$PE_{(pos, 2i)} = \sin(pos / 10000^{2i/d})$ 和
# $PE_{(pos, 2i+1)} = \cos(pos / 10000^{2i/d})$（GPT-2 则是*学习*这样一张表）。我们的 GPT 使用旋转位置编码（RoPE，见 03 号笔记本）：每个查询和键都把第 $i$ 个通道对旋转角度 $pos\cdot\theta_i$，用的是同样的时钟 $\theta_i = 10000^{-2i/d}$，所以得分取决于两个 token 相距多远，而不是它们在哪里。第二张图显示一个头的这些角度；每张图右边是两个位置看起来有多相似
# （余弦相似度）：沿对角线的一条带子，在每个位置都一样。

# %%
positional_view(n_pos=gpt.config.block_size, d_model=gpt.config.n_embd)

# %%
positional_view(gpt)

# %% [markdown]
# 所有这些注意力最终是为了什么：为每个可能的下一个 token 给出一个概率。拖动滑块：温度 $\tau$ 让
# $p_i \propto e^{z_i/\tau}$ 更尖锐（$\tau < 1$）或更平坦（$\tau > 1$）；top-k 只保留最可能的 k 个 token。

# %%
next_token_view(gpt, sample[:30], tok, temperature=1.0)

# %% [markdown]
# ## 7 · 用于幻灯片的图
#
# 每个视图一行代码就能保存：`.html`（自包含：离线可打开，可交互）、`.png` 或 `.svg`（静态，用于幻灯片和论文）。不用笔记本时，
# `lmlab viz` 命令也能做同样的事：
#
#     lmlab viz attention runs/03_gpt_shakespeare --text "ROMEO: But soft" --view head -o head.html
#     lmlab viz attention minilm --text "The cat sat." --text-b "It purred." --view model -o model.svg

# %%
out = Path(tempfile.mkdtemp(prefix="lmlab-04-"))  # 做真正的幻灯片时请换成你自己的文件夹
for path in (head_view(maps, layer=best_prev[0]).save(out / "head_view.html"),
             head_view(maps, layer=best_prev[0]).save(out / "head_view.png"),
             grid_view(maps, head=None, average_heads=True).save(out / "grid.svg"),
             steps_view(gpt, sample, tok, layer=layer, head=head, token=query).save(out / "steps.png")):
    print(f"{path}  {path.stat().st_size / 1024:.0f} KiB")

# %% [markdown]
# ## 更进一步
#
# * 把 `sample` 换成你自己写的一行（只用 GPT 见过的字符），看看行首头如何跟着 ⏎ 走。
# * 用 `class` 或 `full` 预设时，GPT 更大、训练更久：会有更多的头分化出专门的功能吗？
# * 试试 `attention_steps(minilm, "...", layer=..., head=..., token=...)`：同样的算术，只是没有掩码。
