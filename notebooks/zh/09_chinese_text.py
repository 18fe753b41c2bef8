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
# # 09 · 中文文本：按字、按词，还是按字节对？
#
# 英文的词与词之间有空格，中文没有。语言模型读中文之前，必须有人先决定什么是一个 token：一个**字**（汉字）、一个由 jieba 这类分词器切出来的**词**，还是一个从字节学出来的 **BPE** 片段。不同的选择会改变词表大小、一行文字要花多少个 token、留出文本中有多少 token 在训练时从没见过（**未登录词**，out of vocabulary，OOV），以及一个小模型在同样时间内能学到什么。我们在两份文本上把这四样都量一遍，然后看看停用词（以及语言模型为什么保留它们），再看繁体字与简体字。

# %%
from lmlab.notebook import setup

lab = setup(lang="zh")

# %%
import math

import matplotlib.pyplot as plt

from lmlab.cite import cite
from lmlab.exercises import check

SIZES = {"smoke": dict(poems=300, lm_poems=300, steps=30),
         "class": dict(poems=5000, lm_poems=3000, steps=400),
         "full": dict(poems=None, lm_poems=20000, steps=3000)}[lab.preset]

# %% [markdown]
# ## 1 · 两份中文文本
#
# - **现代文**：本实验室自己的中文版里的句子（翻译过的笔记本和提示信息），是现代技术中文，时不时在括号里附上英文术语。
# - **唐诗**：格律工整的五言、七言诗，每联一行。英文版读取原始合集中的繁体字；中文版读取简体字（由 OpenCC 转换）。

# %%
from lmlab.data.chinese import modern_prose
from lmlab.models.lstm.poems import poem_corpus

prose = modern_prose()
poems_text, poems_name = poem_corpus(max_vocab=None, max_poems=SIZES["poems"])
poem_lines = [line for line in poems_text.split("\n") if line]
print(f"现代文：{len(prose)} 个句子，{sum(map(len, prose)):,} 个字符")
print(f"{poems_name}：{len(poem_lines):,} 联，{len(poems_text):,} 个字符")
print(prose[0], "\n" + "\n".join(poem_lines[:2]))

# %% [markdown]
# ## 2 · 切分一个句子的三种方法
#
# 按字切分不需要词典：每个汉字就是一个 token。**jieba** 在它的现代汉语词典（约 349,000<!--cite:jieba_entries--> 个词条）里查词，并用隐马尔可夫模型
# （HMM）猜测词典里没有的词。字节级 **BPE** 从 256 个字节值出发（在 UTF-8 中一个汉字占 3 个字节），反复合并最常见的相邻字节对，于是常用的字和词变成单个 token，而且永远不会有未知的东西。

# %%
from lmlab.tokenizers.bpe import FastBPETokenizer
from lmlab.tokenizers.chinese import jieba_cut

cut = int(0.9 * len(prose))
prose_train, prose_test = prose[:cut], prose[cut:]
prose_bpe = FastBPETokenizer.train("\n".join(prose_train), vocab_size=600)
sentence = "语言模型一次读一个词，每读完一个就猜下一个。"
bpe_pieces = lambda s: [prose_bpe.decode([i]) for i in prose_bpe.encode(s)]  # � = 一个字的一部分
for name, split in (("按字", list), ("jieba", jieba_cut), ("BPE", bpe_pieces)):
    pieces = split(sentence)
    print(f"{name:10} {len(pieces):2} 个 token：{' | '.join(pieces)}")
import jieba  # noqa: E402

entries = sum(1 for count in jieba.dt.FREQ.values() if count > 0)  # 它的词典（词的前缀计数为 0）
print(f"jieba 的词典：{cite('jieba_entries', round(entries, -3), '{:,.0f}')} 个词条")

# %% [markdown]
# 一个 BPE 片段可能只是一个字的一部分（显示为 `�`）：罕见的字会一直被拆成它的几个字节。分词器在留出文本上的 **OOV 率**，是留出文本的 token 中（重复的也算）不在其词表里的比例（对按字和 jieba 来说，就是训练文本中从没出现过的）：
#
# $$\text{OOV} = \frac{|\{\,i : t_i \notin V_\text{train}\,\}|}{N_\text{test}}.$$
#
# **练习 1.** 写出 `oov_rate(train_tokens, test_tokens)`。

# %%
def oov_rate(train_tokens, test_tokens):
    ...  # 你的代码


check("chinese.oov_rate", oov_rate)

# %% [markdown]
# ## 3 · 实测：词表、每行 token 数、OOV
#
# 每个分词器在文本的前 90% 上学习词表，在最后 10% 上测量。

# %%
from lmlab.data.chinese import bpe_vocabulary, tokenizer_report

split_at = int(0.9 * len(poem_lines))
poem_train, poem_test = poem_lines[:split_at], poem_lines[split_at:]
poem_bpe = FastBPETokenizer.train("\n".join(poem_train), vocab_size=2000)
reports = {
    text: [tokenizer_report("char", list, train, test), tokenizer_report("jieba", jieba_cut, train, test),
           tokenizer_report("BPE", bpe.tokens, train, test, vocabulary=bpe_vocabulary(bpe))]
    for text, train, test, bpe in (("散文", prose_train, prose_test, prose_bpe),
                                   ("诗", poem_train, poem_test, poem_bpe))
}
for text, rows in reports.items():
    for r in rows:
        print(f"{text:6} {r['tokenizer']:6} 词表 {r['vocab']:>7,}  "
              f"每行 token {r['tokens_per_line']:5.1f}  每 token 字符数 {r['chars_per_token']:.2f}  "
              f"OOV {r['oov']:6.1%}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for ax, key in zip(axes, ("vocab", "tokens_per_line", "oov"), strict=True):
    for k, (text, rows) in enumerate(reports.items()):
        ax.bar([i + 0.4 * k for i in range(3)], [r[key] for r in rows], width=0.4, label=text)
    ax.set_xticks([0.2, 1.2, 2.2], ["char", "jieba", "BPE"])
axes[0].set_title("词表大小")
axes[1].set_title("每个留出行的 token 数")
axes[2].set_title("留出行上的 OOV 率")
axes[0].set_yscale("log")
axes[2].yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
axes[0].legend()
plt.show()

# %% [markdown]
# 仔细看唐诗那几行。jieba 是为现代汉语做的：在古诗上，它会把几个字粘成只出现一次的"词"（词表巨大，OOV 率很高），而在古汉语里，字本身就已经是意义的单位了。在现代文上，jieba 切出的是真正的词，每行更短，但 OOV 率仍远高于按字切分——词表永远不会停止增长。按字切分的 OOV 很少（只有罕见的汉字）；字节级 BPE 从构造上就没有 OOV（任何没见过的字都会退回到它的字节），代价是每行的 token 更多。
#
# ## 4 · 小语言模型用每种切分能达到什么水平
#
# 同一个小 GPT（2 层、64 个通道；只有嵌入表取决于词表），同样的步数、每步同样多的 token，在唐诗上训练。不同分词器的
# *每 token* 损失不能直接比较（一个 jieba token 覆盖的文字更多），所以我们把验证损失换算成**每字符比特数**：
#
# $$\text{bpc} = \frac{\mathcal{L}_\text{token}\cdot N_\text{tokens}}{N_\text{characters}\cdot\ln 2}.$$
#
# jieba 的词表上限是 4,000<!--cite:jieba_cap--> 个词；更罕见的词变成 `<unk>`，模型很便宜地就学会了预测它：这个数字偏向 jieba，因为真正的模型仍然得把那个词写出来。所以每个 `<unk>` 还要额外计入用均匀猜测逐字拼写它的代价：一个 $\ell$ 字的词记 $\ell \cdot \ln V_\text{char}$
# 奈特；图中画的是计入这一代价之后的数字。
#
# **基线。** 每个 GPT 旁边都站着一个最简单、可能行得通的模型：一个**二元模型**（bigram），它在同一份训练文本上数出哪个 token 跟在哪个 token 后面（`lmlab.models.ngram`，用 Kneser–Ney 平滑，让没见过的 token 对也能分到一点概率），并在同样的留出 token 上打分。赢不了自己二元模型的 GPT，学到的东西还没有超过"哪个 token 常跟在哪个后面"。

# %%
from dataclasses import replace

import torch
import torch.nn.functional as F

from lmlab.models.ngram import KneserNey
from lmlab.models.transformer import GPT, GPTConfig
from lmlab.models.transformer.trainer import GPTRecipe, TokenData, TrainConfig
from lmlab.tokenizers import CharTokenizer, JiebaTokenizer
from lmlab.train.engine import train

lm_text = "\n".join(poem_lines[: SIZES["lm_poems"] * 2])
lm_cut = int(0.9 * len(lm_text))
lm_train, lm_val = lm_text[:lm_cut], lm_text[lm_cut:]
BUDGET = TrainConfig(batch_size=16, max_iters=SIZES["steps"], lr=3e-3, min_lr=3e-4, warmup_iters=10,
                     lr_decay_iters=SIZES["steps"], eval_interval=SIZES["steps"], eval_iters=10)


def trained_model(tokenizer, label):
    """The small GPT trained on lm_train with this tokenizer, for the same budget as the others."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=BLOCK, n_layer=2, n_head=2, n_embd=64,
                          dropout=0.0))
    data = TokenData.from_text(lm_train, tokenizer, val_text=lm_val)
    train(GPTRecipe(replace(BUDGET), data, tokenizer=tokenizer), model=model, device=lab.device,
          precision=lab.precision, progress=False, desc=label)
    return model.eval()


def token_losses(model, ids):
    """Loss (nats) of the tokens of ids read in windows of BLOCK + 1 (the first of each is context only):
    the losses, the target ids and their positions in ids, each (N,)."""
    n = len(ids) // (BLOCK + 1) * (BLOCK + 1)
    windows = ids[:n].view(-1, BLOCK + 1)
    with torch.no_grad():
        logits = model(windows[:, :BLOCK].to(lab.device))[0]  # (窗口数, BLOCK, V)
    targets = windows[:, 1:].flatten()
    positions = torch.arange(n).view(-1, BLOCK + 1)[:, 1:].flatten()
    return F.cross_entropy(logits.flatten(0, 1).float().cpu(), targets, reduction="none"), targets, positions


def bigram_losses(bigram, ids):
    """The bigram's loss (nats) on the same tokens token_losses scores: the losses, targets, positions."""
    n = len(ids) // (BLOCK + 1) * (BLOCK + 1)
    positions = torch.arange(n).view(-1, BLOCK + 1)[:, 1:].flatten()
    every = torch.tensor(bigram.token_nll(ids.tolist()))  # ids 中每个 token 一个损失
    return every[positions], ids[positions], positions


def bits_per_character(name, tokenizer, losses):
    """Validation bits per character of losses(ids) -> (nats, targets, positions); a jieba <unk> is also
    charged the cost of spelling its characters."""
    ids = torch.tensor(tokenizer.encode(lm_val), dtype=torch.long)
    nll, targets, positions = losses(ids)
    chars = len(lm_val) * len(targets) / len(ids)  # 被打分的 token 覆盖的字符数（平均而言）
    raw = charged = nll.sum().item()
    if name == "jieba":
        words = tokenizer.split(lm_val)  # 与 ids 对齐：每个词一个 id
        spell = math.log(lm_tokenizers["char"].vocab_size)  # 每个字符做一次均匀猜测
        unknown = [p for p, t in zip(positions.tolist(), targets.tolist(), strict=True)
                   if t == tokenizer.unk_id]
        charged += sum(len(words[p]) * spell for p in unknown)
    return raw / chars / math.log(2), charged / chars / math.log(2)


JIEBA_WORDS = 4000  # 词模型的词表；更罕见的词变成 <unk>
print(f"jieba 的词表：最多 {cite('jieba_cap', JIEBA_WORDS, '{:,}')} 个词")
lm_tokenizers = {"char": CharTokenizer.fit(lm_text),
                 "jieba": JiebaTokenizer.fit(lm_train, max_size=JIEBA_WORDS),
                 "BPE": FastBPETokenizer.train(lm_train, vocab_size=2000)}
# 上下文为 32 个 token；只有文本很小时才更少（在没有语料的机器上使用内置诗歌时）
BLOCK = min(32, min(len(t.encode(lm_val)) for t in lm_tokenizers.values()) - 2)
lm_models = {name: trained_model(tok, name) for name, tok in lm_tokenizers.items()}
lm_bigrams = {name: KneserNey.fit(tok.encode(lm_train), tok.vocab_size, n=2)
              for name, tok in lm_tokenizers.items()}
lm_results = {name: bits_per_character(name, lm_tokenizers[name], lambda ids, m=m: token_losses(m, ids))
              for name, m in lm_models.items()}
bigram_results = {name: bits_per_character(name, lm_tokenizers[name], lambda ids, b=b: bigram_losses(b, ids))
                  for name, b in lm_bigrams.items()}
for name, (bpc, charged) in lm_results.items():
    print(f"{name:6} 词表 {lm_tokenizers[name].vocab_size:>6,}  "
          f"参数 {lm_models[name].num_params():>9,}  验证集 {bpc:.3f} 比特/字符 "
          f"（它的二元模型：{bigram_results[name][0]:.3f}）")
    if charged != bpc:
        print(f"       把每个 <unk> 都拼写出来：GPT {charged:.3f}，二元模型 {bigram_results[name][1]:.3f}")

# %%
fig, ax = plt.subplots(figsize=(5.5, 2.8))
xs = range(len(lm_results))
ax.bar([x - 0.2 for x in xs], [charged for _, charged in lm_results.values()], 0.4, label="GPT",
       color="#0072B2")
ax.bar([x + 0.2 for x in xs], [charged for _, charged in bigram_results.values()], 0.4,
       label="二元模型（计数）", color="#BBBBBB")
ax.set_xticks(list(xs), list(lm_results))
ax.set(ylabel="每字符比特数", title=f"同一个 GPT，各训练 {SIZES['steps']} 步，旁边是它的二元模型")
ax.legend(fontsize=8)
plt.show()
best = min(lm_results, key=lambda k: lm_results[k][1])
print(f"本次运行中每字符比特数最低的：{best} GPT（{lm_results[best][1]:.3f}）")
for name in lm_results:
    gap = bigram_results[name][1] - lm_results[name][1]
    if gap > 0:
        print(f"{name:6} GPT 胜过它的二元模型 {gap:.3f} 比特/字符")
    else:
        print(f"{name:6} GPT 没有胜过它的二元模型：多了 {-gap:.3f} 比特/字符")

# %% [markdown]
# 每个差距有多可靠？验证文本按 `BLOCK` 个 token 一个窗口来读；对窗口重新抽样（自助法，bootstrap）就得到每个 GPT 领先其二元模型的 95 % 区间（在把 `<unk>` 拼写出来之前）。包含 0 的区间就不算领先。

# %%
from lmlab.eval.bootstrap import bootstrap_mean  # noqa: E402

for name, tokenizer in lm_tokenizers.items():
    ids = torch.tensor(tokenizer.encode(lm_val), dtype=torch.long)
    per_char = len(ids) / len(lm_val) / math.log(2)  # 每 token 奈特数 -> 每字符比特数
    lead = ((bigram_losses(lm_bigrams[name], ids)[0] - token_losses(lm_models[name], ids)[0])
            .view(-1, BLOCK).mean(1) * per_char).tolist()
    lo, hi = bootstrap_mean(lead)
    print(f"{name:6} GPT 比它的二元模型低 {sum(lead) / len(lead):+.3f} 比特/字符，"
          f"95% 区间 {lo:+.3f} .. {hi:+.3f}（{len(lead)} 个窗口）")

# %% [markdown]
# 下任何结论之前，先读这几行。赢不了自己二元模型的 GPT，学到的不比计数更多（在 `smoke` 预设下只训练几十步，预料之中）；只有当 GPT 胜过它的二元模型时，分词器之间的比较才说明了模型的一些事情，而不仅仅是计数的事情。jieba 的 `<unk>` 对两种模型都很便宜，直到把它拼写出来为止，所以比较的是计入拼写代价之后的数字。这只是一次运行、只在古诗上、只用一个小模型：它说明的是这里哪种单位表现最好，而不是对中文来说哪种最好。大型中文模型在多得多的（主要是现代的）文本上训练，使用的是 BPE 或 SentencePiece 词表，既保留完整的常用汉字，又加入高频词。
#
# ## 5 · 停用词，以及语言模型为什么保留它们
#
# 任何文本中最常见的词都是**虚词**（function words）：现代汉语里的"的、是、在、了、和"；古诗里的"之、不、无、而、以"。搜索和关键词提取会把它们作为**停用词**（stop words）去掉，因为它们几乎说明不了主题：

# %%
from lmlab.data.chinese import most_common

prose_words = [w for line in prose for w in jieba_cut(line)]
print("现代文中最常见的 jieba 词：", " ".join(w for w, _ in most_common(prose_words, 15)))
import jieba.analyse

paragraph = "".join(prose[:40])
print("按 TF-IDF 提取的关键词（已去掉停用词）：", " ".join(jieba.analyse.extract_tags(paragraph, topK=10)))

# %% [markdown]
# **练习 2.** 一段文本的 token 中停用词占多大比例？写出 `stop_word_share(tokens, stop_words)`。

# %%
def stop_word_share(tokens, stop_words):
    ...  # 你的代码


check("chinese.stop_word_share", stop_word_share)

# %% [markdown]
# 语言模型不能丢掉它们：它得把它们*写*出来，而且它们承载着语法（"的"标明谁修饰谁，"了"表示事情已经完成，"不"表示否定）。它们是不是也比其他字更容易预测？我们用第 4 节的字符模型来测量：比较它在古汉语虚字上的损失和在验证文本其余所有字上的损失。（像 `smoke` 预设那样只训练几十步的模型，学到的主要是每个字出现得有多频繁。）

# %% [markdown]
# **先预测，再运行。** 字符模型预测虚词字符，会比预测其他字符更容易还是更难？先写下答案，再运行下面的单元格；测量之后的检查会说明发生了什么、为什么。
#
# - `"a"`：更容易：虚词字符上的损失更低
# - `"b"`：更难：虚词字符上的损失更高

# %%
prediction = ...  # "a"、"b" 中的一个

# %%
STOP = set("之不无而以其于于所与为为者也乎则")  # 与诗所用的字形一致
char_tok = lm_tokenizers["char"]
nll, targets, _ = token_losses(lm_models["char"], torch.tensor(char_tok.encode(lm_val), dtype=torch.long))
is_stop = torch.tensor([char_tok.decode([int(t)]) in STOP for t in targets])
share = is_stop.float().mean().item()
print(f"虚字占验证文本的 {share:.1%}；模型在它们上的损失为 "
      f"{nll[is_stop].mean():.2f} 奈特，在其余所有字上为 {nll[~is_stop].mean():.2f} 奈特")
if nll[is_stop].mean() < nll[~is_stop].mean():
    print("本次运行中，虚字是更容易预测的那些字")
else:
    print("本次运行中，虚字并不比其他字更容易预测")

# %%
check("chinese.predict_function_loss", prediction,
      measured=(float(nll[is_stop].mean()), float(nll[~is_stop].mean())))

# %% [markdown]
# ## 6 · 繁体字与简体字
#
# 汉字简化（1956 年、1964 年）把许多繁体字映射到同一个简化字上：發（发送）和髮（头发）都变成了"发"，後（之后）和"后"（王后）合并了。因此用 OpenCC 的 `t2s` 转换语料会**缩小词表**，并把一些意义合并；反过来转换（`s2t`）时，并不总能猜出原来是哪个字。

# %%
import opencc

t2s, s2t = opencc.OpenCC("t2s").convert, opencc.OpenCC("s2t").convert
traditional, _ = poem_corpus(max_vocab=None, max_poems=SIZES["poems"], script="traditional")
simplified = t2s(traditional)
trad_chars, simp_chars = set(traditional) - set("\n，。"), set(simplified) - set("\n，。")
back = s2t(simplified)
changed = sum(a != b for a, b in zip(traditional, back, strict=True))
print(f"不同的字：繁体 {len(trad_chars):,} 个，简体 {len(simp_chars):,} 个"
      f"（少了 {1 - len(simp_chars) / len(trad_chars):.1%}）")
print(f"简体再转回繁体：{len(traditional):,} 个字符中有 {changed:,} 个"
      f"（{changed / len(traditional):.2%}）变成了另一个字")

# %% [markdown]
# **练习 3.** 在这些诗里，哪些简体字对应两个或更多的繁体字？写出 `merged(characters, convert)`：返回一个字典，键是每个这样的简体字，值是 `convert` 映射到它的那些不同字符组成的有序列表。

# %%
def merged(characters, convert):
    ...  # 你的代码


check("chinese.merged", merged)

# %%
from lmlab.data.chinese import merged_by_simplification

groups = merged_by_simplification(trad_chars, t2s)
counts = {c: traditional.count(c) for cs in groups.values() for c in cs}
top = sorted(groups.items(), key=lambda kv: -sum(counts[c] for c in kv[1]))[:12]
print(f"有 {len(groups)} 个简体字各自合并了多个繁体字，例如")
print("  ".join(f"{s}←{'/'.join(ts)}" for s, ts in top))
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.bar([s for s, _ in top], [sum(counts[c] for c in ts) for _, ts in top], color="#CC79A7")
ax.set(title="合并了繁体字的简体字（在诗中出现的次数）", ylabel="次数")
plt.show()

# %% [markdown]
# 对语言模型来说，简体语料稍微容易一点（字更少、每个字更常见），也稍微贫乏一点（發和髮成了同一个 token）。本实验室的中文版在简体字上训练，英文版在原始合集的繁体字上训练。
#
# ## 更进一步
#
# - 用 `lmlab train gpt --corpus tang_poems --tokenizer bpe` 训练，并与 `--tokenizer char` 比较。
# - 给 jieba 一个古汉语词的用户词典（`jieba.load_userdict`），再测一次 OOV。
# - 给 BPE 试试 `vocab_size=8000`：它从什么时候开始保留整个词？
