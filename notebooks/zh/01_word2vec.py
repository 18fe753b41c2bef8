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
# # 01 · word2vec：把词映射到一个"意义即几何"的空间
#
# > "观其伴，知其词。"（You shall know a word by the company it keeps.）——J. R. Firth，1957
#
# word2vec（Mikolov 等，2013）把这句话变成了一个算法：给每个词一个向量，并训练这些向量，使一个词的向量能够预测它周围的词。没有任何东西告诉模型 *king* 和 *queen* 有关系；它们之所以靠得近，是因为它们总和相同的词做伴。
#
# 在这个笔记本里，你会亲手构造训练数据（分词、词表、下采样、skip-gram 词对），根据公式写出负采样
# （negative sampling）的损失，以原版 C 工具的速度训练 skip-gram，在投影器里查看结果，与 gensim 和 GloVe
# 比较，并在唐诗上训练字向量。最内层的循环就在
# [`lmlab/models/word2vec/kernels.py`](../../lmlab/models/word2vec/kernels.py)，点一下即可打开。

# %%
from lmlab.notebook import setup

lab = setup(lang="zh")

import numpy as np
from matplotlib.figure import Figure

from lmlab.exercises import check
from lmlab.viz.style import use_lab_style

use_lab_style()
SIZES = {  # 下面的一切规模都由预设决定：smoke（CI，几秒）、class（笔记本电脑）、full（GPU 机器）
    "smoke": {"words": 100_000, "dim": 50, "epochs": 3, "glove_epochs": 5, "poem_chars": 80_000,
              "poem_epochs": 2, "tsne_words": 150},
    "class": {"words": None, "dim": 100, "epochs": 5, "glove_epochs": 10, "poem_chars": 1_500_000,
              "poem_epochs": 3, "tsne_words": 400},
    "full": {"words": None, "dim": 100, "epochs": 10, "glove_epochs": 25, "poem_chars": None,
             "poem_epochs": 5, "tsne_words": 1000},
}[lab.preset]
SIZES

# %% [markdown]
# ## 1 · 从文本到 token
#
# 语料是 gensim 自带的一份英文维基百科样本（约 470<!--cite:wiki_kwords--> 千词，因此离线也能用）。每篇文章占一行，由小写的词组成；
# `tokenize` 把每行切分成词。

# %%
from lmlab.cite import cite
from lmlab.data import load_text_or_fallback
from lmlab.models.word2vec import Vocab, tokenize

text, corpus_name = load_text_or_fallback("wiki_sample")
sentences = tokenize(text)
corpus_words = sum(map(len, sentences))
print(f"整个语料：{cite('wiki_kwords', corpus_words / 1000, '{:.0f}')} 千词")
if SIZES["words"]:  # smoke 预设只保留开头的一部分词
    kept, n = [], 0
    for s in sentences:
        kept.append(s[: SIZES["words"] - n])
        n += len(kept[-1])
        if n >= SIZES["words"]:
            break
    sentences = kept
print(f"{corpus_name}：{len(sentences)} 行，{sum(map(len, sentences)):,} 个词")
print(" ".join(sentences[0][:40]), "...")

# %% [markdown]
# **词表**（vocabulary）只保留出现次数不少于 `min_count` 的词（罕见词的"伙伴"太少，学不出什么），并按频率排序。词频服从齐普夫定律（Zipf's law）：频率排第 r 的词，出现次数大约是第一名的 1/r。

# %% [markdown]
# **先预测，再运行。** 这段文本的全部词中，10 个最常见的词占多大比例？写一个百分数。先写下答案，再运行下面的单元格；测量之后的检查会说明发生了什么、为什么。

# %%
prediction = ...  # 一个百分数，例如 5 表示 5 %

# %%
vocab = Vocab.build(sentences, min_count=5)
print(f"在 {len(set(w for s in sentences for w in s)):,} 个不同的词中保留了 {len(vocab):,} 个；"
      f"最常见的 10 个：{vocab.words[:10]}")
fig = Figure(figsize=(4.5, 3), layout="constrained")
ax = fig.add_subplot()
ax.loglog(np.arange(1, len(vocab) + 1), vocab.counts, ".", markersize=2)
ax.loglog([1, len(vocab)], [vocab.counts[0], vocab.counts[0] / len(vocab)], "--", label="1 / 排名")
ax.set(xlabel="排名", ylabel="次数", title="齐普夫定律")
ax.legend()
fig

# %%
top10_share = 100 * float(np.sum(vocab.counts[:10])) / sum(map(len, sentences))
print(f"10 个最常见的词占全部 {sum(map(len, sentences)):,} 个词的 {top10_share:.1f} %")
check("word2vec.predict_top10_share", prediction, measured=top10_share)

# %% [markdown]
# ## 2 · 高频词的下采样
#
# *the*、*of*、*and* 几乎和什么词都挨着，所以它们对邻居几乎提供不了什么信息。Mikolov 的 C 工具对频率为
# $f = \text{count}/\text{total}$ 的词，每次出现时以如下概率保留：
#
# $$P_\text{keep}(w) = \min\left(1,\ \left(\sqrt{\frac{f(w)}{t}} + 1\right)\frac{t}{f(w)}\right),
# \qquad t = 10^{-3}.$$
#
# **练习 1.** 写出 `keep_probability(counts, sample)`，输入是一个计数数组。

# %%
def keep_probability(counts, sample):
    # counts：(V,) 的词频计数数组；sample：即 t。返回每个词的 P_keep，形状为 (V,)。
    # f = count / total 就是每个词的频率。
    return ...


check("word2vec.keep_probability", keep_probability)

# %%
keep = vocab.keep_probability(sample=1e-3)
top = 15
fig = Figure(figsize=(7, 3), layout="constrained")
ax = fig.add_subplot()
x = np.arange(top)
ax.bar(x, vocab.counts[:top], color="#cccccc", label="语料中")
ax.bar(x, vocab.counts[:top] * keep[:top], color="#0072B2", label="平均保留")
ax.set_xticks(x, vocab.words[:top], rotation=60)
ax.set(title="下采样去掉了什么", ylabel="出现次数")
ax.legend()
print(f"每一轮平均有 {1 - (vocab.counts * keep).sum() / vocab.counts.sum():.0%} 的训练词被丢弃，"
      "几乎全部来自列表的最前面")
fig

# %% [markdown]
# ## 3 · Skip-gram 词对
#
# Skip-gram 把文本变成（中心词, 上下文词）对：与中心词相距不超过 `window` 个位置的每个词都是上下文。原版工具还会为每个中心词随机缩小窗口（*动态窗口*，在 1..window 中均匀取值），因此越近的词被采到的次数越多。
#
# **练习 2.** 写出 `skipgram_pairs(sentence, window)`（固定窗口）。

# %%
def skipgram_pairs(sentence, window):
    # 返回一个由（中心词, 上下文词）元组组成的列表，顺序不限。
    pairs = []
    ...
    return pairs


check("word2vec.skipgram_pairs", skipgram_pairs)

# %%
sentence = ["the", "king", "rode", "his", "horse", "into", "the", "old", "city"]
window = 2
grid = np.zeros((len(sentence), len(sentence)))
for i in range(len(sentence)):
    for j in range(max(0, i - window), min(len(sentence), i + window + 1)):
        grid[i, j] = 0.5 if i == j else 1.0
fig = Figure(figsize=(4.6, 4), layout="constrained")
ax = fig.add_subplot()
ax.imshow(grid, cmap="Blues", vmin=0, vmax=1.2)
ax.set_xticks(range(len(sentence)), sentence, rotation=60)
ax.set_yticks(range(len(sentence)), sentence)
ax.set(xlabel="上下文词", ylabel="中心词", title=f"skip-gram 词对，window={window}")
ax.grid(False)
print(int((grid == 1).sum()), "词对，来自", len(sentence), "个词")
fig

# %% [markdown]
# ## 4 · 负采样损失
#
# 每个词有两个向量：作为输入时用 $v_w$，作为被预测的词时用 $u_w$。对整个词表做 softmax，每个词对要计算 $V$
# 次点积；**负采样**则只要求模型把真实的词对 $(c, o)$ 和从 $P_n(w) \propto \text{count}(w)^{0.75}$ 中抽出的
# $K$ 个噪声词 $n_k$ 区分开：
#
# $$L = -\log\sigma(u_o\cdot v_c) - \sum_{k=1}^{K}\log\sigma(-u_{n_k}\cdot v_c),\qquad
# \sigma(x) = \frac{1}{1+e^{-x}}.$$
#
# C 工具一次处理一个词对，施加的正是它的梯度：对每个标签为 $\ell$（$o$ 为 1，噪声为 0）的输出词，
# $u \mathrel{+}= \alpha(\ell - \sigma(u\cdot v_c))\,v_c$，而 $v_c$ 累加同样的项。**练习 3.** 写出这个损失。

# %%
def sgns_loss(v_c, u_o, U_neg):
    # v_c：中心词 c 的 (D,) 输入向量，u_o：上下文词 o 的 (D,) 输出向量，
    # U_neg：K 个噪声词的 (K, D) 输出向量。以 float 返回 L。
    # 小技巧：log σ(x) = -np.logaddexp(0, -x)，|x| 很大时也不会溢出。
    return ...


check("word2vec.sgns_loss", sgns_loss)

# %%
noise = vocab.noise_distribution(0.75)
unigram = vocab.counts / vocab.counts.sum()
fig = Figure(figsize=(8, 2.8), layout="constrained")
ax1, ax2 = fig.subplots(1, 2)
xs = np.linspace(-6, 6, 200)
ax1.plot(xs, -np.log(1 / (1 + np.exp(-xs))), label=r"$-\log\sigma(x)$：真实词对，把 $x$ 推高")
ax1.plot(xs, -np.log(1 / (1 + np.exp(xs))), label=r"$-\log\sigma(-x)$：噪声，把 $x$ 压低")
ax1.set(xlabel=r"得分 $x = u\cdot v_c$", title="损失的两个部分")
ax1.legend(fontsize="small")
ax2.loglog(unigram, noise, ".", markersize=2)
ax2.loglog(unigram, unigram, "--", color="#999999")
ax2.set(xlabel="一元（unigram）概率", ylabel=r"$P_n$（0.75 次方）", title="噪声分布略微偏向罕见词")
fig

# %% [markdown]
# ## 5 · 训练 skip-gram
#
# `train(Word2VecRecipe(...))` 按原版工具的配方训练：下采样、动态窗口、按 unigram$^{0.75}$ 抽取负样本，学习率从 0.025
# 线性降到 0.0001。在 CPU 上，最内层循环是一个 numba 内核，每个核一个线程，不加锁地并行（"Hogwild"，出自 Niu 等，2011：各线程读写共享的向量时都不加锁，接受偶尔有两个线程同时更新同一行）：每次更新只涉及少数几行，线程之间很少冲突。下面的损失是在训练过程中对一部分词对抽样估计的。

# %%
from dataclasses import asdict

from lmlab.models.word2vec import Word2VecConfig, Word2VecRecipe
from lmlab.prepared import cached, load_word2vec, save_word2vec
from lmlab.train.engine import train
from lmlab.viz.curves import LiveView

WATCH = ["king", "queen", "man", "woman", "france", "paris", "germany", "berlin", "war", "army",
         "music", "film", "one", "two", "three", "four"]
config = Word2VecConfig(model="skipgram", dim=SIZES["dim"], window=5, negative=5, min_count=5,
                        epochs=SIZES["epochs"], sample=1e-3)
# 如果 `lmlab prepare` 在课前已训练好，就直接加载那次的结果（会有提示）
# （LMLAB_RETRAIN=1 则在这里重新训练）；它的键：它的设置、它读的词和它观察的词
sg = cached("01_skipgram", {"words": SIZES["words"], "watch": WATCH, **asdict(config)}, preset=lab.preset,
            corpus=corpus_name, save=save_word2vec, load=lambda prep: load_word2vec(prep, vocab, config),
            fit=lambda out: train(Word2VecRecipe(config, sentences, vocab=vocab, snapshot_words=WATCH,
                                                 snapshots_per_epoch=2), live=LiveView("skip-gram")))
wv = sg.recipe.vectors
print(f"每秒 {sg.metrics['words_per_sec']:,.0f} 个词，用时 {sg.metrics['wall_s']:.1f} 秒")

# %% [markdown]
# ## 5b · CBOW：另一个模型
#
# word2vec 还有第二个模型，**CBOW**（"连续词袋"，continuous bag of words）。取文本中的一个位置 $c$，记 $C$ 为与它相距不超过 `window` 个位置的词。CBOW 把输入向量取平均，再给一个输出向量打分，负采样和上面一样：
#
# $$h = \frac{1}{|C|}\sum_{o \in C} v_o, \qquad
# L_\text{CBOW} = -\log\sigma(u_c\cdot h) - \sum_{k=1}^{K}\log\sigma(-u_{n_k}\cdot h).$$
#
# **检查一下这个想法。** 用第 4 节的记号读这两个损失（$v_w$：词 $w$ 作为输入，$u_w$：词 $w$ 作为被预测的词）。哪个模型是根据上下文预测中心词的，`"cbow"` 还是 `"skipgram"`？（两者很容易弄混，有些教程就弄反了。）

# %%
predicts_the_centre = ...  # "cbow" 或 "skipgram"
check("word2vec.which_predicts_centre", predicts_the_centre)

# %% [markdown]
# 先说清楚哪个是哪个：**skip-gram** 以**中心词**为输入（$v_c$），预测它周围的每个**上下文词**（$u_o$），一次一个词对 $(c, o)$。**CBOW** 方向相反：它的输入是取平均后的上下文 $h$，要预测的是**中心词**（$u_c$）。
#
# CBOW 每个中心词只有一个样本，而 skip-gram 每个（中心词，上下文词）对就有一个样本，所以 CBOW 每轮的更新次数约少 $2\cdot$`window` 倍：它更快，而且对上下文做了平滑，这往往对高频词比对低频词更有帮助。手算一个 CBOW 样本：

# %%
centre_at = 4
context = [w for j, w in enumerate(sentence) if j != centre_at and abs(j - centre_at) <= window]
print(f"上下文 {context} -> 预测中心词 {sentence[centre_at]!r}")
known = [w for w in context if w in wv]
h_cbow = np.mean([sg.recipe.vectors[w] for w in known], axis=0)  # (D,) 取平均后的上下文
print(f"h 是 {len(known)} 个上下文向量的平均，形状为 {h_cbow.shape}")

# %% [markdown]
# **练习 3b.** 写出 CBOW 的损失：先把上下文向量取平均，然后用与 skip-gram 相同的负采样（negative sampling）损失，只是用 $h$ 代替 $v_c$，并以中心词的输出向量 $u_c$ 为目标。

# %%
def cbow_loss(V_context, u_c, U_neg):
    # V_context：m 个上下文词的 (m, D) 输入向量，u_c：中心词的 (D,) 输出向量，
    # U_neg：K 个噪声词的 (K, D) 输出向量。以 float 返回 L_CBOW。
    return ...


check("word2vec.cbow_loss", cbow_loss)

# %% [markdown]
# 训练器只需一个开关就能运行 CBOW：`Word2VecConfig(model="cbow")`（相当于 C 工具的 `-cbow 1`；和那里一样，我们让 CBOW 的学习率从 0.05 开始）。同样的语料、同样的轮数：比较速度，以及下一节的评测结果。

# %%
cbow_config = Word2VecConfig(model="cbow", dim=SIZES["dim"], window=5, negative=5, min_count=5,
                             epochs=SIZES["epochs"], sample=1e-3, alpha=0.05)
cb = cached("01_cbow", {"words": SIZES["words"], "watch": [], **asdict(cbow_config)}, preset=lab.preset,
            corpus=corpus_name, save=save_word2vec, load=lambda prep: load_word2vec(prep, vocab, cbow_config),
            fit=lambda out: train(Word2VecRecipe(cbow_config, sentences, vocab=vocab), live=LiveView("CBOW")))
print(f"skip-gram 每秒 {sg.metrics['words_per_sec']:,.0f} 词，用时 {sg.metrics['wall_s']:.1f} 秒；"
      f"CBOW 每秒 {cb.metrics['words_per_sec']:,.0f} 词，用时 {cb.metrics['wall_s']:.1f} 秒")

# %% [markdown]
# ## 6 · 近邻与类比
#
# 接近程度用余弦 $\cos(a, b) = \frac{a\cdot b}{\|a\|\|b\|}$ 衡量。类比 *a : b :: c : ?* 的答案是离 $b - a + c$
# 最近的词（3CosAdd），或者用 Levy 和 Goldberg 的 3CosMul：
# $\arg\max_d \frac{\hat c(d,b)\,\hat c(d,c)}{\hat c(d,a)+\epsilon}$，其中每个余弦先平移到
# $[0, 1]$，$\hat c = (1 + \cos)/2$，$\epsilon = 10^{-3}$（负的余弦会让乘积变号），这样就不会让某一个很大的相似度独占主导。`analogy(..., method="3cosmul")` 计算的正是这个式子。

# %%
from lmlab.eval.word_vectors import analogy, evaluate_all

for word in ["king", "war", "music", "france", "three"]:
    if word in wv:
        print(f"{word:>8}: " + ", ".join(f"{w} {s:.2f}" for w, s in wv.most_similar(word, topn=6)))
for a, b, c in [("man", "king", "woman"), ("france", "paris", "germany"), ("one", "two", "three")]:
    if all(w in wv for w in (a, b, c)):
        print(f"{a} : {b} :: {c} : {analogy(wv, a, b, c, topn=3)}")

# %% [markdown]
# 标准评测：WordSim353 和 SimLex-999 计算我们的余弦相似度与人工相似度评分之间的相关（Spearman 的 ρ）；Google 类比集有 19,544<!--cite:google_analogies--> 道类比题。每项都附带**覆盖率**：题目中所有词都在我们这个小词表里的比例。得分只在被覆盖的部分上计算。
#
# **预期什么，和什么比。** 单独一个得分说明不了什么，所以两个模型旁边放着最简单而诚实的基线：同一词表的**随机向量**（三个随机种子），它们对上下文一无所知。它们的相关接近 0，类比几乎一题也答不对；训练出的向量应当明显高于它们。而且类比准确率是 $n$ 道被覆盖题目中答对的比例，所以它带有一个 95 % 区间 $a \pm 1.96\sqrt{a(1-a)/n}$：区间重叠的两个模型，在这里分不出高下。

# %%
import math

from lmlab.eval.word_vectors import evaluate_analogies, read_analogies
from lmlab.models.word2vec import WordVectors

print(f"Google 类比集：{cite('google_analogies', len(read_analogies()), '{:,}')} 道题")
scores_sg = evaluate_all(wv)
scores_cbow = evaluate_all(cb.recipe.vectors)
rng = np.random.default_rng(0)
scores_random = [evaluate_all(WordVectors(wv.words, rng.normal(size=(len(wv), wv.dim)))) for _ in range(3)]
print(f"{'':28} {'skip-gram':>10} {'CBOW':>10} {'随机（3 个种子）':>18}")
for k in scores_sg:
    rand = [r[k] for r in scores_random]
    print(f"{k:28} {scores_sg[k]:10.3f} {scores_cbow[k]:10.3f} {np.mean(rand):10.3f} ± {np.std(rand):.3f}")
for name, vectors in (("skip-gram", wv), ("CBOW", cb.recipe.vectors)):
    r = evaluate_analogies(vectors)
    half = 1.96 * math.sqrt(r.accuracy * (1 - r.accuracy) / max(r.covered, 1))
    print(f"{name}：类比（3CosAdd）{r.accuracy:.3f}，95 % 区间 {max(r.accuracy - half, 0):.3f} .. "
          f"{r.accuracy + half:.3f}，共 {r.covered:,} 道被覆盖的题")

# %% [markdown]
# 对照随机那一列来读这张表：只有明显高出随机向量的相关或准确率才是学到的（在 `smoke` 预设下只在 100,000 个词上训练几秒，有些得分可能做不到）。五十万词的语料很小：论文中公布的成绩用的是一亿词甚至更多（Mikolov 等人，2013，报告的结果来自约 60 亿 token 的 Google News 语料）。在这里数字和国家已经能找到彼此，而
# *man : king :: woman : ?* 需要多得多关于国王和王后的文本。真正有意义的比较，是在同一份文本上和 gensim 比（第 8 节）。

# %% [markdown]
# ## 7 · 投影器
#
# 100 维的空间要压平才能看见。**PCA** 保留方差最大的方向（一个线性映射：平行的箭头仍然平行）；**t-SNE**
# 保留每个词的邻域（簇是可信的，簇与簇之间的距离则不可信）。在 Jupyter 中，下面的小部件可以切换投影方法和
# 2 维/3 维，还可以输入一个词，或者 `king - man + woman`。

# %%
from lmlab.viz.embeddings import Projector, evolution_slider, plot_analogies, plot_words, project

groups = {"王室": ["king", "queen", "prince", "emperor"], "人": ["man", "woman", "father", "mother"],
          "数字": ["one", "two", "three", "four"],
          "国家": ["france", "germany", "england", "italy"], "战争": ["war", "army", "battle"]}
groups = {g: [w for w in ws if w in wv] for g, ws in groups.items()}
projector = Projector(wv, n=SIZES["tsne_words"], groups=groups)
projector.widget()

# %% [markdown]
# 对于查询 `king - man + woman`，小部件会显示：右边是 $b - a + c$ 的近邻，还有两个箭头，man → king 和
# woman → 答案。类比成立时，两个箭头是平行的。

# %%
projector.figure("pca", 2, query="king - man + woman")

# %% [markdown]
# 同样的视图也可以画成静态图，用于打印和幻灯片（`save_figure(fig, "words.png")`）：高频词的 t-SNE 图，以及
# PCA 中的类比箭头。

# %%
coords = project(wv, projector.words, method="tsne", dim=2)
plot_words(coords, projector.words, groups=groups, title="高频词的 t-SNE 图", max_labels=80)

# %%
pairs = [t for t in [("man", "king", "woman"), ("france", "paris", "germany"), ("one", "two", "three")]
         if all(w in wv for w in t)]
plot_analogies(wv, pairs) if pairs else "the analogy words are not in this vocabulary"

# %% [markdown]
# 要把投影器作为一个离线网页交给全班（可旋转、缩放、输入词，类比会列出并画成箭头）：
# `projector.save_html("projector.html", analogies=pairs)`，或者在终端中运行
# `lmlab viz embeddings VECTORS --analogies "man:king::woman" -o projector.html`。

# %% [markdown]
# **这张图是怎样形成的。** 训练过程中我们保存了几个词的快照。所有帧都用最终向量的 PCA 坐标轴，所以在动的是学习本身，而不是镜头。（`evolution_gif(...)` 会把同样的帧写成 GIF；文件名以 `.mp4` 结尾时则写成 MP4，便于放进幻灯片。）

# %%
watched = [w for w in WATCH if w in wv]
evolution_slider(sg.recipe.snapshots, watched, groups=groups)

# %% [markdown]
# ## 8 · 与 gensim 并排比较
#
# gensim 的 word2vec 是优化过的 C 代码（Cython + BLAS）。同样的语料、同样的超参数、同样的线程数；两边的
# "每秒词数"都按 原始语料词数 × 轮数 ÷ 训练秒数 计算（gensim 自己的日志报告的是*有效*每秒词数，即经过 min_count
# 和下采样之后剩下的词：数字更小）。`benchmarks/word2vec_vs_gensim.py` 可以在命令行里做同样的比较，并给出两种速率。

# %%
import time

from gensim.models import Word2Vec

from lmlab.models.word2vec import WordVectors

raw_words = sum(map(len, sentences))
gensim_model = Word2Vec(vector_size=config.dim, window=5, negative=5, hs=0, min_count=5, sample=1e-3, sg=1,
                        workers=sg.recipe.tcfg.threads or 2, epochs=config.epochs, seed=1)
gensim_model.build_vocab(sentences)
t0 = time.perf_counter()
gensim_model.train(sentences, total_examples=gensim_model.corpus_count, epochs=config.epochs)
gensim_s = time.perf_counter() - t0
gensim_wv = WordVectors(list(gensim_model.wv.index_to_key), np.asarray(gensim_model.wv.vectors))
scores_gensim = evaluate_all(gensim_wv)
rows = [("每秒词数", sg.metrics["words_per_sec"], raw_words * config.epochs / gensim_s)] + [
    (k, scores_sg[k], scores_gensim[k]) for k in scores_sg]
print(f"{'':28} {'lmlab':>10} {'gensim':>10}")
for name, ours, theirs in rows:
    fmt = "10.3f" if ours < 100 else "10,.0f"
    print(f"{name:28} {ours:{fmt}} {theirs:{fmt}}")

# %% [markdown]
# ## 9 · GloVe：计数而非预测
#
# GloVe（Pennington 等，2014）先统计词与词共现的次数，相距 $d$ 的一对词记权重 $1/d$，然后用加权最小二乘让向量去拟合这些计数的对数：
#
# $$J = \sum_{i,j:\,X_{ij}>0} f(X_{ij})\left(w_i\cdot\tilde w_j + b_i + \tilde b_j - \log X_{ij}\right)^2,
# \qquad f(x) = \min\left(1, (x/x_\text{max})^{0.75}\right).$$
#
# 可以证明，带负采样的 skip-gram 实际上是在分解一个平移过的逐点互信息（PMI）矩阵（Levy 和 Goldberg，2014）：这两类方法学习的是同样的统计量。
#
# 首先要看的是权重 $f$：罕见的词对（$X_{ij}$ 小，大多是噪声）分量很轻，而且任何词对的权重都不超过 1，所以 *the of* 这样的组合无法独占主导。下面画出 $f$ 在本语料计数上的取值。

# %%
from lmlab.models.word2vec.glove import cooccurrence

ids, bounds = vocab.encode(sentences)
_, _, X_counts = cooccurrence(ids, bounds, len(vocab), window=5)
fig = Figure(figsize=(8, 2.8), layout="constrained")
ax1, ax2 = fig.subplots(1, 2)
grid_x = np.logspace(-1, 3, 200)
ax1.semilogx(grid_x, np.minimum(1, (grid_x / 10.0) ** 0.75))
ax1.axvline(10.0, color="#999999", ls="--", label=r"$x_\max = 10$")
ax1.set(xlabel=r"共现次数 $X_{ij}$", ylabel=r"权重 $f(X_{ij})$", title="GloVe 的加权函数")
ax1.legend(fontsize="small")
ax2.hist(np.log10(X_counts), bins=60, color="#0072B2")
ax2.set(xlabel=r"$\log_{10} X_{ij}$", ylabel="词对数", title=f"{len(X_counts):,} 个非零词对")
print(f"非零词对中有 {(X_counts < 10).mean():.0%} 的 X_ij < x_max，权重小于 1")
fig

# %% [markdown]
# **练习 4.** 为一组计数写出 GloVe 的权重函数 `glove_weight(X, x_max, alpha)`。

# %%
def glove_weight(X, x_max, alpha):
    # X：(N,) 的共现计数数组。返回 f(X)，形状为 (N,)。
    return ...


check("word2vec.glove_weight", glove_weight)

# %%
from lmlab.models.word2vec.glove import GloVeConfig, train_glove

glove = train_glove(sentences, GloVeConfig(dim=SIZES["dim"], window=5, epochs=SIZES["glove_epochs"]),
                    vocab=vocab, live=LiveView("GloVe"))
scores_glove = evaluate_all(glove.vectors)
print(f"{glove.nonzeros:,} 个非零共现，用时 {glove.wall_s:.1f} 秒")
print(f"{'':28} {'skip-gram':>10} {'GloVe':>10}")
for k in scores_sg:
    print(f"{k:28} {scores_sg[k]:10.3f} {scores_glove[k]:10.3f}")
for word in ["war", "music"]:
    if word in wv:
        print(f"{word}：skip-gram {[w for w, _ in wv.most_similar(word, topn=5)]}，"
              f"GloVe {[w for w, _ in glove.vectors.most_similar(word, topn=5)]}")

# %% [markdown]
# 表中要检验的论断：在五十万词上 skip-gram 应当领先，因为在这个规模下 GloVe 的计数稀疏而嘈杂（它的论文是在数十亿词上训练的）。读的时候把第 6 节随机向量那一列放在旁边：得分接近随机向量的 GloVe 还什么都没学到；两个模型之间的差距如果小于第 6 节类比的区间，就不算差距。试试 `full` 预设或者更大的语料，再比较一次。
#
# ## 10 · 中文部分：唐诗里的字
#
# 古典诗词是一个字一个字写成的，而且每个字本身就有意义，所以我们为**字**训练向量。季节、颜色和数字应当各自聚在一起。
# （中文词没有屈折变化，所以无所谓*词干提取*（stemming）：词干提取是去掉词尾，比如英语的 *loving → love*；而"爱"和"喜欢"是意思相近的两个不同的词，不是同一个词的不同形式。如果向量把它们拉到一起，那是从它们的上下文中学到的，而不是预处理的结果。）中文版使用唐诗的简体字视图（`tang_poems_simplified`，由 OpenCC 从原始繁体转换而来）；英文版使用原始的繁体字。

# %%
FALLBACK_POEMS = """床前明月光 疑是地上霜 举头望明月 低头思故乡
春眠不觉晓 处处闻啼鸟 夜来风雨声 花落知多少
白日依山尽 黄河入海流 欲穷千里目 更上一层楼
千山鸟飞绝 万径人踪灭 孤舟蓑笠翁 独钓寒江雪
两个黄鹂鸣翠柳 一行白鹭上青天 窗含西岭千秋雪 门泊东吴万里船
红豆生南国 春来发几枝 愿君多采撷 此物最相思
离离原上草 一岁一枯荣 野火烧不尽 春风吹又生
好雨知时节 当春乃发生 随风潜入夜 润物细无声
停车坐爱枫林晚 霜叶红于二月花
一去二三里 烟村四五家 亭台六七座 八九十枝花"""

from lmlab.models.word2vec import tokenize_chars

poems, poems_name = load_text_or_fallback("tang_poems_simplified")
if poems_name != "tang_poems_simplified":
    print("提示：这里无法离线使用唐诗语料，所以这一部分改用笔记本内置的十首名诗："
          "得到的向量会比较粗糙。要完整运行，请把 LMLAB_DATA_DIR 指向一个含有 "
          "tang_poems.jsonl.gz 的镜像。")
    poems = FALLBACK_POEMS
if SIZES["poem_chars"]:
    poems = poems[: SIZES["poem_chars"]]
lines = tokenize_chars(poems)
poem_vocab = Vocab.build(lines, min_count=5 if poems_name == "tang_poems_simplified" else 1)
zh_config = Word2VecConfig(dim=64, window=4, epochs=SIZES["poem_epochs"], min_count=poem_vocab.counts[-1],
                           sample=1e-4)
zh = train(Word2VecRecipe(zh_config, lines, vocab=poem_vocab), live=LiveView("唐诗，字向量")).recipe
zh_groups = {"季节 春夏秋冬": list("春夏秋冬"), "颜色 红绿白青黄黑": list("红绿白青黄黑"),
             "数字 一…十": list("一二三四五六七八九十")}
zh_groups = {g: [c for c in cs if c in zh.vectors] for g, cs in zh_groups.items()}
for c in ["春", "红", "三", "月"]:
    if c in zh.vectors:
        print(c, "→", " ".join(w for w, _ in zh.vectors.most_similar(c, topn=8)))

# %% [markdown]
# 这些组真的聚在一起了吗？测量的是：同一组中两个字之间的平均余弦，旁边是基线——从词表中随机抽取的两个字（2,000<!--cite:random_pairs--> 个随机字对）。只有当组内余弦明显高于随机字对的分布范围时，这个组才算聚在了一起。

# %%
rng = np.random.default_rng(0)
unit = zh.vectors.vectors / np.linalg.norm(zh.vectors.vectors, axis=1, keepdims=True)  # (V, D) 单位长度的行
pairs = rng.integers(len(zh.vectors), size=(2000, 2))
random_cos = (unit[pairs[:, 0]] * unit[pairs[:, 1]]).sum(1)
print(f"{cite('random_pairs', len(pairs), '{:,}')} 个随机字对：平均余弦 {random_cos.mean():.2f}，"
      f"中间 95% 为 {np.quantile(random_cos, 0.025):.2f} .. {np.quantile(random_cos, 0.975):.2f}")
for group, chars in zh_groups.items():
    ids = [zh.vectors.index[c] for c in chars]
    within = [unit[a] @ unit[b] for i, a in enumerate(ids) for b in ids[i + 1:]]
    if within:
        print(f"{group}：组内平均余弦 {np.mean(within):.2f}（{len(within)} 对）")

# %%
zh_words = list(dict.fromkeys([c for cs in zh_groups.values() for c in cs] + zh.vectors.words[:120]))
plot_words(project(zh.vectors, zh_words, method="pca", dim=2), zh_words, groups=zh_groups,
           title=f"{poems_name} 的字，PCA", max_labels=60)

# %% [markdown]
# ## 接下来可以试试
#
# - 在唐诗上用 CBOW：对字来说，把上下文取平均是否和对词一样有帮助？
# - 关掉下采样（`sample=0`），观察高频词的近邻有什么变化。
# - 在命令行中：`lmlab train word2vec --corpus wiki_sample --out runs/w2v`，然后运行
#   `lmlab viz embeddings runs/w2v/vectors.txt --top 500 -o projector.html` 得到一个离线投影器。
