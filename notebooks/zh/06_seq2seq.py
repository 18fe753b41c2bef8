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
# # 06 · 序列到序列：从一个向量到交叉注意力，再到一位对对联的诗人
#
# 语言模型（02–03 号笔记本）是把一段文字续写下去。而许多任务是**把一个序列映射成另一个序列**：翻译、摘要、问答。
# 这时模型分成两半：**编码器**（encoder）读完整个源序列，**解码器**（decoder）一次写出目标序列的一个 token，同时回头看源序列。
#
# 我们的任务是一个和唐诗一样古老的中文游戏：给出对联的上联，写出下联。在格律诗里，每一句 `上句，下句。` 都是这样的一对，
# 后半句**逐字**对应前半句：白日 ↔ 黄河，依山 ↔ 入海，尽 ↔ 流。所以源序列与目标序列之间的对齐是看得见的，
# 我们可以检查模型的注意力有没有找到它。
#
# 我们沿着这个领域走过的路前进：解码器只看到**一个向量**的 RNN 编码器–解码器（Cho 等，2014），加上**注意力**的同一模型
# （Bahdanau 等，2015），以及 **Transformer** 的交叉注意力（cross-attention；Vaswani 等，2017）。代码在
# `lmlab/models/seq2seq/` 中（每个想法一个短小的模块）。

# %%
from lmlab.notebook import setup

lab = setup(lang="zh")

# %%
import time

import matplotlib.pyplot as plt
import torch

from lmlab.exercises import check
from lmlab.models.seq2seq import PAD, Seq2SeqVocab, build_model, load_couplets
from lmlab.models.seq2seq.batches import PairTensors
from lmlab.models.seq2seq.couplets import written_in
from lmlab.models.seq2seq.trainer import PRESETS, make_session, preset_configs, translate_pairs
from lmlab.presets import preset_values

torch.set_printoptions(precision=3, sci_mode=False)
values = preset_values(PRESETS, lab.preset)
print({k: values[k] for k in ("d_model", "n_layer", "batch_size", "max_iters", "time_budget_s", "max_vocab")})

# %% [markdown]
# ## 1 · 数据：唐诗里的对句
#
# 每一句两半等长（5 或 7 个字）的 `上句，下句。` 就是一对：57,607 首诗中约有 230,000 个不同的对句。同一首诗的所有对句
# 都分到同一个数据划分中（**没有哪首诗跨两个划分**），重复的对句被去掉，而且**从不在测试集上训练**（即使某个源句
# 也出现在训练集中）。没有语料时（一台离线的新机器），加载器会说明这一点，并改用 18 首内置绝句中的对句：每个单元格
# 照样能运行，但从 36 个对句里学不到什么值得一读的东西。

# %%
data = load_couplets(max_pairs=values["max_pairs"])
vocab = Seq2SeqVocab.fit([s for pair in data.train for s in pair], values["max_vocab"])
data = written_in(data, set(vocab.chars.itos))  # 只保留全由最常用的字写成的对句
print(data.source, data.sizes(), "|", data.note)
for a, b in data.train[:5]:
    print(f"{a}  →  {b}")

# %% [markdown]
# ## 2 · 教师强制与三种掩码
#
# 解码器在**真实的**前文字符上训练（教师强制，teacher forcing）：它读入 `<s> y₁ … yₙ`，要预测 `y₁ … yₙ </s>`，所有位置同时进行。
# 一个批次里各行长度不同，短的用 `<pad>` 补齐；三种掩码让填充和未来都不可见：
#
# * **编码器**的自注意力：每个源位置都能看到每个*真实的*源位置；
# * **解码器**的自注意力：位置 t 只能看到 ≤ t 的位置（因果的，和 GPT 一样）；
# * **交叉注意力**：每个目标位置都能看到每个真实的源位置。

# %%
pairs = PairTensors.from_pairs([("白日依山尽", "黄河入海流"), ("月落", "乌啼")], vocab, 8)
src, tgt_in, tgt_out = pairs.rows(torch.arange(2))
print("src    ", src.tolist())
print("tgt_in ", tgt_in.tolist(), " <- 解码器读入的内容")
print("tgt_out", tgt_out.tolist(), " <- 它要预测的内容（错开一位）")

S, T = src.size(1), tgt_in.size(1)
masks = {"encoder (row 1): key real": (src[1] != PAD)[None, :].expand(S, S),
         "decoder: causal": torch.ones(T, T, dtype=torch.bool).tril(),
         "cross (row 1): key real": (src[1] != PAD)[None, :].expand(T, S)}
fig, axes = plt.subplots(1, 3, figsize=(9, 3), layout="constrained")
for ax, (title, m) in zip(axes, masks.items(), strict=True):
    ax.imshow(m.int(), cmap="Greens", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("键的位置")
    ax.set_ylabel("查询的位置")
plt.show()

# %% [markdown]
# **练习。** 写出解码器的两种掩码：因果自注意力掩码 (T, T)，以及交叉注意力掩码 (B, T, S)，源 token 是真实 token 的地方为 True。

# %%
def decoder_masks(src, T):
    # 返回 (causal (T, T), cross (B, T, S))；<pad> 的 id 是 0
    ...


check("seq2seq.masks", decoder_masks)

# %% [markdown]
# ## 3 · 瓶颈：没有注意力的 RNN 编码器–解码器
#
# 一个双向 GRU 读入源序列；它最后的状态变成**一个向量** c，解码器 GRU 在每一步都读入 c：
#
# $$s_i = \mathrm{GRU}([E y_{i-1};\, c],\, s_{i-1}), \qquad p(y_i) = \mathrm{softmax}(W [s_i; c; E y_{i-1}])$$
#
# 无论源序列多长，解码器对它的全部了解都必须经过 c。
# 每个模型的训练方式都相同：标签平滑的损失（第 6 节）、lmlab 的 AdamW 加上论文中的 betas (0.9, 0.98)、预热学习率调度（第 7 节）；
# 损失一旦出现 nan/inf，训练立即停止，这一步不会被应用。

# %%
from types import SimpleNamespace

from lmlab.models.seq2seq.translate import load_translator
from lmlab.prepared import find_prepared

runs = {}
PREPARED = {"rnn": "06_rnn", "rnn-attention": "06_rnn_attention", "transformer": "06_transformer"}


def train(arch, retrain=False):
    """Train one architecture with the preset's sizes; returns the session (Ctrl-C, then call again).

    A run prepared ahead of the lesson (`lmlab prepare`) is loaded instead, and said so; retrain=True (or
    LMLAB_RETRAIN=1) trains it here."""
    prep = find_prepared(PREPARED[arch], lab.preset, corpus=data.source, retrain=retrain)
    if prep is not None:
        m = prep.metrics
        print(f"{arch}：{m['iters']} 步，用时 {m['train_s']:.0f} 秒（预先训练好的），验证损失 {m['val_loss']:.3f}，"
              f"验证 chrF {m['val_chrf']}")
        runs[arch] = SimpleNamespace(model=load_translator(prep.path)[0].to(lab.device), metrics=m)
        return runs[arch]
    model_cfg, tcfg = preset_configs(lab.preset, arch, vocab, data)
    torch.manual_seed(0)
    model = build_model(model_cfg)
    session = make_session(model, data, vocab, tcfg, device=lab.device, live=True, progress=False)
    t0 = time.perf_counter()
    session.fit()
    print(f"{arch}：{session.next_iter} 步，用时 {time.perf_counter() - t0:.0f} 秒，"
          f"验证损失 {session.history.last('val_loss'):.3f}，验证 chrF {session.history.last('val_chrf')}")
    runs[arch] = session
    return session


train("rnn")

# %% [markdown]
# ## 4 · 注意力（Bahdanau）：回头看每一个源位置
#
# 解码器不再只用一个 c，而是在每一步都重新计算一个上下文：所有编码器状态的加权平均，权重说明此刻哪些源字符重要：
#
# $$e_{ij} = v^\top \tanh(W_s s_{i-1} + W_h h_j), \quad \alpha_{ij} = \mathrm{softmax}_j(e_{ij}), \quad
# c_i = \sum_j \alpha_{ij} h_j$$
#
# 这就是 `lmlab/models/seq2seq/additive_attention.py`，二十行。

# %%
train("rnn-attention")

# %% [markdown]
# ### 一个向量在哪里撑不住
#
# 对联只有 5 或 7 个字：太短，难不倒一个向量。用一个在任何长度下答案都已知的任务就能看出来：**把一串 2 到 16 个数字（一…十）
# 倒过来**。两个 RNN 训练同样长的时间；我们按源序列长度统计放在正确位置上的字符比例。没有注意力时，每个字符都必须在 c 中
# 一直保存到用得着的时候；有了注意力，解码器直接去查那个字符。

# %%
import random

from lmlab.models.seq2seq.couplets import CoupletData

digits = "一二三四五六七八九十"
rng = random.Random(0)


def reversal_pairs(n):
    strings = ["".join(rng.choice(digits) for _ in range(rng.randint(2, 16))) for _ in range(n)]
    return [(s, s[::-1]) for s in strings]


n_toy = 2000 if lab.preset == "smoke" else 20000  # smoke 预设只训练 40 步：2,000 个对子就够了
toy = CoupletData(reversal_pairs(n_toy), reversal_pairs(100), reversal_pairs(400), "reversed digit strings")
toy_vocab = Seq2SeqVocab.fit([digits])
toy_accuracy = {}
prep = find_prepared("06_reversal", lab.preset, corpus=toy.source, retrain=False)  # `lmlab prepare`（课前预训练）
if prep is not None:  # JSON 把源序列长度存成了字符串
    toy_accuracy = {arch: {int(n): v for n, v in by_length.items()}
                    for arch, by_length in prep.metrics["accuracy"].items()}
for arch in ("rnn", "rnn-attention") if prep is None else ():
    cfg, tcfg = preset_configs(lab.preset, arch, toy_vocab, toy, eval_pairs=50,
                               time_budget_s=90.0 if lab.preset == "class" else None)
    torch.manual_seed(0)
    session = make_session(build_model(cfg), toy, toy_vocab, tcfg, device=lab.device, progress=False)
    session.fit()
    outputs = translate_pairs(session.model.eval(), toy_vocab, [a for a, _ in toy.test])
    for (a, b), o in zip(toy.test, outputs, strict=True):
        hits = sum(x == y for x, y in zip(o, b, strict=False))
        toy_accuracy.setdefault(arch, {}).setdefault(len(a), []).append(hits / len(b))

fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
for arch, by_length in toy_accuracy.items():
    lengths = sorted(by_length)
    ax.plot(lengths, [sum(by_length[n]) / len(by_length[n]) for n in lengths], marker="o", label=arch)
ax.set_xlabel("源序列长度")
ax.set_ylabel("位置正确的字符比例")
ax.set_ylim(0, 1)
ax.legend()
plt.show()

# %% [markdown]
# ## 5 · 交叉注意力：Transformer 的编码器–解码器
#
# Transformer 用点积代替那个小小的打分网络，并且用多个头来做：
#
# $$\mathrm{CrossAttention}(Y, M) = \mathrm{softmax}\!\left(\frac{(Y W_q)(M W_k)^\top}{\sqrt{d_k}} +
# \text{mask}\right) M W_v$$
#
# 查询来自解码器（Y），键和值来自编码器的输出，即*记忆*（memory）M。一个解码器块依次是因果自注意力、交叉注意力和 MLP。
# **练习**：不带投影的单头交叉注意力（q = y，k = v = memory），加上填充掩码。

# %%
def cross_attention(y, memory, src_mask):
    ...  # (B, T, C), (B, S, C), (B, S) -> (B, T, C)


check("seq2seq.cross_attention", cross_attention)

# %% [markdown]
# lmlab 的模型由 GPT 的块搭成；取 `norm_first=False` 时就是论文中的 post-LN 布局。把它的权重复制进 `torch.nn.Transformer`，
# 两者给出相同的数值，两种布局都是如此；而且可读的注意力路径（它返回每一个权重）与融合的路径结果相等：

# %%
from lmlab.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer
from lmlab.models.seq2seq.torch_reference import torch_forward, torch_transformer_like

for norm_first in (False, True):
    torch.manual_seed(0)
    m = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=vocab.vocab_size, d_model=32, n_head=4, n_layer=2,
                                         dropout=0.0, norm_first=norm_first, max_len=8)).eval()
    with torch.no_grad():
        memory, mask, _ = m.encode(src)
        y = m.embed(tgt_in)
        for layer in m.decoder:
            y, _, _ = layer(y, memory, mask)
        diff = (m.dec_ln(y) - torch_forward(torch_transformer_like(m).eval(), m, src, tgt_in)).abs().max()
        fused, (readable, attn) = m(src, tgt_in), m.forward_with_attention(src, tgt_in)
    print(f"{'pre' if norm_first else 'post'}-LN：max |lmlab - torch.nn.Transformer| = {diff:.1e}；"
          f"融合与可读路径之差 {(fused - readable).abs().max():.1e}；"
          f"交叉注意力权重 {tuple(attn['cross'][0].shape)} (B, heads, T, S)")

# %%
train("transformer")

# %% [markdown]
# ## 6 · 标签平滑
#
# 损失的目标不是 one-hot 向量，而是平滑过的向量（标签平滑，label smoothing）
# $q = (1-\varepsilon)\,\mathrm{onehot}(y) + \varepsilon / V$，所以
#
# $$\ell = (1-\varepsilon)\,(-\log p_y) + \varepsilon \cdot \mathrm{mean}_v(-\log p_v)$$
#
# 在非填充的位置上取平均。模型永远不会被逼着把全部概率压在一个答案上：论文发现它"损害困惑度……但提高准确率和 BLEU"。
# 下图：对三种 ε，随着预测越来越确信正确的 token，损失如何变化。ε > 0 时，最好的*不是*完全确定。

# %%
from lmlab.models.seq2seq.loss import label_smoothed_loss

margins = torch.linspace(0, 15, 100)
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
for eps in (0.0, 0.1, 0.3):
    logits = torch.zeros(100, 1, 50)
    logits[:, 0, 7] = margins  # 正确 token 的 logit 比其他 token 高出多少
    losses = [label_smoothed_loss(logits[i:i + 1], torch.tensor([[7]]), eps).item() for i in range(100)]
    ax.plot(margins, losses, label=f"ε = {eps}")
ax.set_xlabel("正确 token 的 logit 比其他高出的量")
ax.set_ylabel("损失")
ax.legend()
plt.show()

# %% [markdown]
# **练习。** 标签平滑的损失，不计填充。

# %%
def smoothed_loss(logits, targets, epsilon):
    ...  # logits (B, T, V)，targets (B, T)，其中 0 = <pad>


check("seq2seq.label_smoothing", smoothed_loss)

# %% [markdown]
# ## 7 · 预热学习率调度
#
# $$\mathrm{lr} = d_{\text{model}}^{-0.5} \cdot \min(\text{step}^{-0.5},\ \text{step} \cdot
# \text{warmup}^{-1.5})$$
#
# 前 `warmup` 步线性上升，之后按 1/√step 下降（论文的式 3；我们的版本经过缩放，使峰值等于预设的 `lr`）。它放在
# `lmlab.train.schedule` 里，和 GPT、LSTM 使用的预热 + 余弦调度在一起：所有调度都在一个模块中。

# %%
from lmlab.train.schedule import noam_lr

fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
steps = range(20000)
for warm in (1000, 4000, 8000):
    ax.plot(steps, [noam_lr(i, 512, warm) for i in steps], label=f"d_model 512，预热 {warm} 步")
ax.set_xticks(range(0, 20001, 5000))
ax.set_xlabel("步数")
ax.set_ylabel("学习率")
ax.legend()
plt.show()

# %% [markdown]
# ## 8 · 解码：贪心、束搜索、采样
#
# 贪心解码在每一步取最可能的字符。**束搜索**（beam search）按总对数概率保留 `width` 个最好的前缀；一个完成的答案按
# $\log p(y|x) / \mathrm{lp}(|y|)$ 排序，其中 $\mathrm{lp}(n) = ((5+n)/6)^\alpha$（没有它，短答案会占优）。生成时复用解码器的键和值
# 以及记忆的 K/V（缓存），得到的答案与全部重新计算完全相同（有测试），只是更快（`benchmarks/seq2seq_vs_torch.py`）。

# %%
from lmlab import i18n  # i18n._：把 translate() 返回的提示换成学习者的语言
from lmlab.models.seq2seq.decode import BeamTree, beam_search
from lmlab.models.seq2seq.translate import translate
from lmlab.viz.beam_tree import beam_tree_figure

poet = runs["transformer"].model.eval()
line = "白日依山尽"
for method in ("greedy", "beam", "sample"):
    t = translate(poet, vocab, line, method=method, width=4, seed=0)
    print(f"{method:7s}", t.output or f"({i18n._(t.notes[-1])})")  # 答案为空时说明原因

tree = BeamTree()
beam_search(poet, torch.tensor([vocab.encode(line)]), width=3, max_len=8, tree=tree)
beam_tree_figure(tree, vocab, title=f"对 {line} 做束搜索")

# %% [markdown]
# **练习。** 束搜索的一步：根据各前缀的得分 (k,) 和下一个 token 的对数概率 (k, V)，保留 `width` 个最好的延续：
# (parents, tokens, new scores)。

# %%
def beam_step(scores, logp, width):
    ...


check("seq2seq.beam_step", beam_step)

# %% [markdown]
# ## 9 · 效果如何？BLEU、chrF 和两个基线
#
# $$\mathrm{BLEU} = \mathrm{BP}\cdot\exp\Big(\tfrac14\sum_{n=1}^4 \log p_n\Big),\quad p_n =
# \frac{\text{clipped matching n-grams}}{\text{n-grams of the hypothesis}},\quad
# \mathrm{BP} = \min(1, e^{1 - r/c})$$
#
# 以字符为 token（中文没有空格）。**练习**：手算它，`check` 会与标准实现 sacrebleu 的结果对比。

# %%
def bleu(hypothesis, reference):
    ...  # 0..100 之间的一个数


check("seq2seq.bleu", bleu)

# %% [markdown]
# lmlab 中同样的计算（`metrics.bleu_by_hand`），在一个很小的例子上一步一步来，旁边是 sacrebleu 的结果：

# %%
from lmlab.models.seq2seq.metrics import bleu_by_hand, bleu_chrf, ngrams

hyp, ref = "白日依山尽江", "白日依山尽海"
for n in range(1, 5):
    h, r = ngrams(hyp, n), ngrams(ref, n)
    print(f"p_{n} = {sum(min(c, r[g]) for g, c in h.items())}/{sum(h.values())}")
print(f"BP = 1（长度相同）；手算：{bleu_by_hand([hyp], [ref]):.2f}；"
      f"sacrebleu：{bleu_chrf([hyp], [ref])['bleu']:.2f}")

# %% [markdown]
# 一句上联有很多正确的下联，所以和唯一的参考答案相比，谁的得分都很低。基线告诉我们"低"意味着什么：**照抄源句**
# （长度正确，每个字都重复），以及**最近的训练对**（与源句共享字最多的那个训练源句的下联）。对联的检查项：答案与源句
# 等长的比例，以及与源句同一位置重复用字的比例。

# %%
from lmlab.models.seq2seq.metrics import baselines, couplet_checks


def table(rows):
    """Print {row name: {column: number}} as aligned columns."""
    columns = list(dict.fromkeys(c for r in rows.values() for c in r))
    print(f"{'':14s}" + "".join(f"{c:>24s}" for c in columns))
    for name, r in rows.items():
        print(f"{name:14s}" + "".join(f"{r[c]:>24}" if c in r else f"{'':24s}" for c in columns))


test = (data.test or data.val or data.train)[:500]  # 内置的诗可能分不出测试对句
sources, refs = [a for a, _ in test], [b for _, b in test]
rows = {name: scores for name, scores in baselines(data.train, test).items()}
for arch, session in runs.items():
    outputs = translate_pairs(session.model.eval(), vocab, sources)
    rows[arch] = {**bleu_chrf(outputs, refs), **couplet_checks(sources, outputs)}
rows["reference"] = couplet_checks(sources, refs)
table(rows)

# %% [markdown]
# 作为比较，这是 class 预设的一次实测（在一台负载较重的 2 核 CPU 上，每个模型训练 5 分钟，贪心解码，1,525 个测试对联；
# `lmlab train seq2seq --arch ARCH --preset class`）：测试集 chrF 照抄为 0.22，最近训练对为 1.50，GRU 为 0.81，带注意力的 GRU 为 0.84，
# Transformer 为 0.91（验证损失分别为 5.08、4.99、4.52 奈特/字符）。五分钟的训练还不足以胜过检索；你的数字会有所不同，
# 而在 smoke 预设下（只训练几秒）它们接近于零。

# %% [markdown]
# 再按源句长度看：一个向量装 7 个字的句子，和装 5 个字的句子一样好吗？

# %%
by_len = {}
for arch, session in runs.items():
    outputs = translate_pairs(session.model.eval(), vocab, sources)
    for n in (5, 7):
        keep = [i for i, s in enumerate(sources) if len(s) == n]
        if keep:
            by_len.setdefault(arch, {})[f"chrF, {n} characters"] = bleu_chrf(
                [outputs[i] for i in keep], [refs[i] for i in keep])["chrf"]
table(by_len)

# %% [markdown]
# **先预测，再运行。** 把每句参考答案的字倒过来写：根本不是对联，声调和对仗都没了。它对参考答案的 chrF 是多少？先写下答案，再运行下面的单元格；测量之后的检查会说明发生了什么、为什么。
#
# - `"a"`：很低，像一个坏答案：它根本不是对联
# - `"b"`：比上面每个模型和基线都高

# %%
prediction = ...  # "a"、"b" 中的一个

# %%
reversed_chrf = bleu_chrf([r[::-1] for r in refs], refs)["chrf"]
best_other = max(float(r["chrf"]) for r in rows.values() if "chrf" in r)
print(f"参考答案倒序后的 chrF：{reversed_chrf:.2f}；"
      f"上面最好的模型或基线：{best_other:.2f}")
check("seq2seq.predict_scrambled", prediction, measured=(reversed_chrf, best_other))

# %% [markdown]
# ## 10 · 观察交叉注意力
#
# 第 t 行：解码器在选择下一个字时看向哪里。对于对联，我们期望看到一条对角线：第 i 个字对应第 i 个字。左边是 Transformer
# 的各个头，右边是 RNN 的对齐 α。

# %%
from lmlab.viz.attention.seq2seq import (
    cross_steps_view,
    cross_view,
    seq2seq_attention,
    seq2seq_head_view,
    seq2seq_model_view,
)

maps = seq2seq_attention(poet, vocab, "白日依山尽", "黄河入海流")
cross_view(maps).figure()

# %%
cross_view(seq2seq_attention(runs["rnn-attention"].model.eval(), vocab, "白日依山尽", "黄河入海流")).figure()

# %% [markdown]
# bertviz 的视图能显示全部三种注意力：在菜单中选择 *Encoder*、*Decoder* 或 *Cross*（离线，不用 CDN）。

# %%
seq2seq_head_view(maps)

# %%
seq2seq_model_view(maps)

# %% [markdown]
# 一个交叉注意力头，一步一步来：q 来自解码器，K 和 V 来自编码器的记忆，并与模型报告的权重对照。

# %%
cross_steps_view(poet, vocab, "白日依山尽", "黄河入海流", layer=0, head=0, position=1)

# %% [markdown]
# ## 11 · 轮到你了：对对联
#
# 输入一句上联（用与诗歌语料相同的字形；不认识的字会变成 □ 并附上说明），选择束宽，按下按钮。

# %%
import ipywidgets as widgets
from IPython.display import display

text = widgets.Text(value="春眠不觉晓", description="上联")
width = widgets.IntSlider(value=4, min=1, max=10, description="束宽")
button = widgets.Button(description="对!")
out = widgets.Output()


def answer(_=None):
    out.clear_output()
    with out:
        if not text.value.strip():
            print("输入框是空的：在框里输入一句上联，再按“对!”")
            return
        try:
            t = translate(poet, vocab, text.value, width=width.value)
        except ValueError as err:  # 空的或太长：给出一行说明，而不是报错
            print(i18n._(str(err)))
            return
        for note in t.notes:
            print("提示：", i18n._(note))
        print(f"{t.source}  →  {t.output}")
        for alt, score in t.alternatives[1:4]:
            print(f"      {alt}  ({score:.2f})")


button.on_click(answer)
display(widgets.HBox([text, width, button]), out)
answer()

# %% [markdown]
# ## 可以试试
#
# * `lmlab train seq2seq --arch transformer --preset class --out runs/couplets`，然后
#   `lmlab translate runs/couplets --text 白日依山尽 --beam 8 --n-best 3`。
# * 用你自己的句对：`--pairs my_pairs.tsv`（每行一个 `source<TAB>target`）。
# * `--post-ln` 按论文的布局训练；`--label-smoothing 0` 关闭平滑：比较 `metrics.json`。
