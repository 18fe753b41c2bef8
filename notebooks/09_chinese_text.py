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
# # 09 · Chinese text: characters, words or byte pairs?
#
# English puts spaces between words; Chinese does not. Before a language model reads Chinese, someone
# must decide what a token is: a **character** (汉字), a **word** found by a segmenter such as jieba, or a
# **BPE** piece learned from bytes. Each choice changes the vocabulary size, how many tokens a line
# costs, how often a held-out text contains tokens never seen in training (**out of vocabulary**, OOV),
# and what a small model learns in the same time. We measure all four on two texts, then look at stop
# words (and why a language model keeps them) and at traditional versus simplified characters.

# %%
from lmlab.notebook import setup

lab = setup()

# %%
import math

import matplotlib.pyplot as plt

from lmlab.cite import cite
from lmlab.exercises import check

SIZES = {"smoke": dict(poems=300, lm_poems=300, steps=30),
         "class": dict(poems=5000, lm_poems=3000, steps=400),
         "full": dict(poems=None, lm_poems=20000, steps=3000)}[lab.preset]

# %% [markdown]
# ## 1 · Two Chinese texts
#
# - **Modern prose**: the sentences of this lab's own Chinese edition (the translated notebooks and
#   messages), modern technical Chinese with the English term in parentheses now and then.
# - **Tang poems**: regular five- and seven-character verse, one couplet per line. The English edition
#   reads them in the collection's traditional characters; the Chinese edition in simplified ones
#   (converted with OpenCC).

# %%
from lmlab.data.chinese import modern_prose
from lmlab.models.lstm.poems import poem_corpus

prose = modern_prose()
poems_text, poems_name = poem_corpus(max_vocab=None, max_poems=SIZES["poems"])
poem_lines = [line for line in poems_text.split("\n") if line]
print(f"modern prose: {len(prose)} sentences, {sum(map(len, prose)):,} characters")
print(f"{poems_name}: {len(poem_lines):,} couplets, {len(poems_text):,} characters")
print(prose[0], "\n" + "\n".join(poem_lines[:2]))

# %% [markdown]
# ## 2 · Three ways to cut a sentence
#
# Characters need no dictionary: every 汉字 is a token. **jieba** looks words up in its dictionary of
# modern Chinese (about 349,000<!--cite:jieba_entries--> entries) and guesses unknown ones with a hidden
# Markov model. Byte-level
# **BPE** starts from the 256 byte values (a 汉字 is 3 bytes in UTF-8) and merges the most frequent
# neighbouring pairs, so frequent characters and words become single tokens and nothing is ever unknown.

# %%
from lmlab.tokenizers.bpe import FastBPETokenizer
from lmlab.tokenizers.chinese import jieba_cut

cut = int(0.9 * len(prose))
prose_train, prose_test = prose[:cut], prose[cut:]
prose_bpe = FastBPETokenizer.train("\n".join(prose_train), vocab_size=600)
sentence = "语言模型一次读一个词，每读完一个就猜下一个。"
bpe_pieces = lambda s: [prose_bpe.decode([i]) for i in prose_bpe.encode(s)]  # � = part of a character
for name, split in (("characters", list), ("jieba", jieba_cut), ("BPE", bpe_pieces)):
    pieces = split(sentence)
    print(f"{name:10} {len(pieces):2} tokens: {' | '.join(pieces)}")
import jieba  # noqa: E402

entries = sum(1 for count in jieba.dt.FREQ.values() if count > 0)  # its dictionary (word prefixes have 0)
print(f"jieba's dictionary: {cite('jieba_entries', round(entries, -3), '{:,.0f}')} entries")

# %% [markdown]
# A BPE piece can be part of a character (shown as `�`): rare characters stay split into their bytes.
# The **OOV rate** of a tokenizer on held-out text is the share of held-out tokens, counted with
# repeats, that are not in its vocabulary (for characters and jieba: never seen in the training text):
#
# $$\text{OOV} = \frac{|\{\,i : t_i \notin V_\text{train}\,\}|}{N_\text{test}}.$$
#
# **Exercise 1.** Write `oov_rate(train_tokens, test_tokens)`.

# %%
def oov_rate(train_tokens, test_tokens):
    ...  # your code


check("chinese.oov_rate", oov_rate)

# %% [markdown]
# ## 3 · Measured: vocabulary, tokens per line, OOV
#
# Each tokenizer learns its vocabulary on the first 90% of a text and is measured on the last 10%.

# %%
from lmlab.data.chinese import bpe_vocabulary, tokenizer_report

split_at = int(0.9 * len(poem_lines))
poem_train, poem_test = poem_lines[:split_at], poem_lines[split_at:]
poem_bpe = FastBPETokenizer.train("\n".join(poem_train), vocab_size=2000)
reports = {
    text: [tokenizer_report("char", list, train, test), tokenizer_report("jieba", jieba_cut, train, test),
           tokenizer_report("BPE", bpe.tokens, train, test, vocabulary=bpe_vocabulary(bpe))]
    for text, train, test, bpe in (("prose", prose_train, prose_test, prose_bpe),
                                   ("poems", poem_train, poem_test, poem_bpe))
}
for text, rows in reports.items():
    for r in rows:
        print(f"{text:6} {r['tokenizer']:6} vocabulary {r['vocab']:>7,}  "
              f"tokens/line {r['tokens_per_line']:5.1f}  characters/token {r['chars_per_token']:.2f}  "
              f"OOV {r['oov']:6.1%}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for ax, key in zip(axes, ("vocab", "tokens_per_line", "oov"), strict=True):
    for k, (text, rows) in enumerate(reports.items()):
        ax.bar([i + 0.4 * k for i in range(3)], [r[key] for r in rows], width=0.4, label=text)
    ax.set_xticks([0.2, 1.2, 2.2], ["char", "jieba", "BPE"])
axes[0].set_title("vocabulary size")
axes[1].set_title("tokens per held-out line")
axes[2].set_title("OOV rate on held-out lines")
axes[0].set_yscale("log")
axes[2].yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
axes[0].legend()
plt.show()

# %% [markdown]
# Read the poems' row carefully. jieba was built for modern Chinese: on classical verse it glues
# characters into "words" that occur once (a huge vocabulary and a high OOV rate), while in classical
# Chinese the character is already the unit of meaning. On modern prose jieba's words are real words,
# lines get shorter, and the OOV rate is still far above the characters' — a word vocabulary never
# stops growing. Characters have few OOV (only rare 汉字); byte-level BPE has none by construction
# (any unseen character falls back to its bytes) at the price of more tokens per line.
#
# ## 4 · What a small language model reaches with each
#
# The same small GPT (2 layers, 64 channels; only the embedding table depends on the vocabulary), the
# same number of steps and the same number of tokens per step, on the Tang poems. Losses per *token*
# cannot be compared across tokenizers (a jieba token covers more text), so we convert the validation
# loss to **bits per character**:
#
# $$\text{bpc} = \frac{\mathcal{L}_\text{token}\cdot N_\text{tokens}}{N_\text{characters}\cdot\ln 2}.$$
#
# jieba's vocabulary is capped at 4,000<!--cite:jieba_cap--> words; rarer words become `<unk>`, which the
# model learns to
# predict cheaply: that number flatters jieba, since a real model would still have to write the word. So
# each `<unk>` is also charged the cost of spelling its characters with a uniform guess,
# $\ell \cdot \ln V_\text{char}$ nats for a word of $\ell$ characters; the plot shows the charged numbers.
#
# **The baseline.** Beside each GPT stands the simplest model that could work: a **bigram** that counts
# which token follows which in the same training text (`lmlab.models.ngram`, smoothed with Kneser–Ney so
# that an unseen pair still gets some probability), scored on the same held-out tokens. A GPT that does
# not beat its bigram has not yet learned more than "which token tends to follow which".

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
        logits = model(windows[:, :BLOCK].to(lab.device))[0]  # (windows, BLOCK, V)
    targets = windows[:, 1:].flatten()
    positions = torch.arange(n).view(-1, BLOCK + 1)[:, 1:].flatten()
    return F.cross_entropy(logits.flatten(0, 1).float().cpu(), targets, reduction="none"), targets, positions


def bigram_losses(bigram, ids):
    """The bigram's loss (nats) on the same tokens token_losses scores: the losses, targets, positions."""
    n = len(ids) // (BLOCK + 1) * (BLOCK + 1)
    positions = torch.arange(n).view(-1, BLOCK + 1)[:, 1:].flatten()
    every = torch.tensor(bigram.token_nll(ids.tolist()))  # one loss per token of ids
    return every[positions], ids[positions], positions


def bits_per_character(name, tokenizer, losses):
    """Validation bits per character of losses(ids) -> (nats, targets, positions); a jieba <unk> is also
    charged the cost of spelling its characters."""
    ids = torch.tensor(tokenizer.encode(lm_val), dtype=torch.long)
    nll, targets, positions = losses(ids)
    chars = len(lm_val) * len(targets) / len(ids)  # the characters the scored tokens cover (on average)
    raw = charged = nll.sum().item()
    if name == "jieba":
        words = tokenizer.split(lm_val)  # aligned with ids: one id per word
        spell = math.log(lm_tokenizers["char"].vocab_size)  # a uniform guess per character
        unknown = [p for p, t in zip(positions.tolist(), targets.tolist(), strict=True)
                   if t == tokenizer.unk_id]
        charged += sum(len(words[p]) * spell for p in unknown)
    return raw / chars / math.log(2), charged / chars / math.log(2)


JIEBA_WORDS = 4000  # the word model's vocabulary; rarer words become <unk>
print(f"jieba's vocabulary: at most {cite('jieba_cap', JIEBA_WORDS, '{:,}')} words")
lm_tokenizers = {"char": CharTokenizer.fit(lm_text),
                 "jieba": JiebaTokenizer.fit(lm_train, max_size=JIEBA_WORDS),
                 "BPE": FastBPETokenizer.train(lm_train, vocab_size=2000)}
# 32 tokens of context; fewer only when the text is tiny (the built-in poems on a machine without the corpus)
BLOCK = min(32, min(len(t.encode(lm_val)) for t in lm_tokenizers.values()) - 2)
lm_models = {name: trained_model(tok, name) for name, tok in lm_tokenizers.items()}
lm_bigrams = {name: KneserNey.fit(tok.encode(lm_train), tok.vocab_size, n=2)
              for name, tok in lm_tokenizers.items()}
lm_results = {name: bits_per_character(name, lm_tokenizers[name], lambda ids, m=m: token_losses(m, ids))
              for name, m in lm_models.items()}
bigram_results = {name: bits_per_character(name, lm_tokenizers[name], lambda ids, b=b: bigram_losses(b, ids))
                  for name, b in lm_bigrams.items()}
for name, (bpc, charged) in lm_results.items():
    print(f"{name:6} vocabulary {lm_tokenizers[name].vocab_size:>6,}  "
          f"parameters {lm_models[name].num_params():>9,}  validation {bpc:.3f} bits per character "
          f"(its bigram: {bigram_results[name][0]:.3f})")
    if charged != bpc:
        print(f"       with every <unk> spelled out: GPT {charged:.3f}, bigram {bigram_results[name][1]:.3f}")

# %%
fig, ax = plt.subplots(figsize=(5.5, 2.8))
xs = range(len(lm_results))
ax.bar([x - 0.2 for x in xs], [charged for _, charged in lm_results.values()], 0.4, label="GPT",
       color="#0072B2")
ax.bar([x + 0.2 for x in xs], [charged for _, charged in bigram_results.values()], 0.4,
       label="bigram (counts)", color="#BBBBBB")
ax.set_xticks(list(xs), list(lm_results))
ax.set(ylabel="bits per character", title=f"same GPT, {SIZES['steps']} steps each, beside its bigram")
ax.legend(fontsize=8)
plt.show()
best = min(lm_results, key=lambda k: lm_results[k][1])
print(f"lowest bits per character in this run: the {best} GPT ({lm_results[best][1]:.3f})")
for name in lm_results:
    gap = bigram_results[name][1] - lm_results[name][1]
    if gap > 0:
        print(f"{name:6} GPT beats its bigram by {gap:.3f} bits per character")
    else:
        print(f"{name:6} GPT does not beat its bigram: {-gap:.3f} bits per character worse")

# %% [markdown]
# How sure is each gap? The validation text is read in windows of `BLOCK` tokens; resampling the windows
# (bootstrap) gives a 95 % interval for each GPT's lead over its bigram (before `<unk>` is spelled out). An
# interval that holds 0 is no lead.

# %%
from lmlab.eval.bootstrap import bootstrap_mean  # noqa: E402

for name, tokenizer in lm_tokenizers.items():
    ids = torch.tensor(tokenizer.encode(lm_val), dtype=torch.long)
    per_char = len(ids) / len(lm_val) / math.log(2)  # nats per token -> bits per character
    lead = ((bigram_losses(lm_bigrams[name], ids)[0] - token_losses(lm_models[name], ids)[0])
            .view(-1, BLOCK).mean(1) * per_char).tolist()
    lo, hi = bootstrap_mean(lead)
    print(f"{name:6} GPT below its bigram by {sum(lead) / len(lead):+.3f} bits per character, "
          f"95% interval {lo:+.3f} .. {hi:+.3f} ({len(lead)} windows)")

# %% [markdown]
# Read these lines before any conclusion. A GPT that does not beat its bigram has learned no
# more than the counts (in the `smoke` preset, a few dozen steps, that is what to expect); only where the
# GPT beats its bigram does the comparison between tokenizers say something about the model and not
# just about the counts. A jieba `<unk>` is cheap for both models until it is spelled out, which is why
# the charged numbers are the ones compared. This is one run, on classical verse only, of one small model:
# it says which unit did best here, not which is best for Chinese. Large Chinese models, trained on far
# more (mostly modern) text, use BPE or SentencePiece vocabularies that keep the common characters whole
# and add frequent words.
#
# ## 5 · Stop words, and why a language model keeps them
#
# The most frequent words of any text are **function words** (虚词): 的、是、在、了、和 in modern
# Chinese; 之、不、無、而、以 in classical verse. Search and keyword extraction drop them as **stop words**
# (停用词) because they say little about the topic:

# %%
from lmlab.data.chinese import most_common

prose_words = [w for line in prose for w in jieba_cut(line)]
print("most frequent jieba words in the prose:", " ".join(w for w, _ in most_common(prose_words, 15)))
import jieba.analyse

paragraph = "".join(prose[:40])
print("keywords by TF-IDF (stop words dropped):", " ".join(jieba.analyse.extract_tags(paragraph, topK=10)))

# %% [markdown]
# **Exercise 2.** What share of a text's tokens are stop words? Write `stop_word_share(tokens, stop_words)`.

# %%
def stop_word_share(tokens, stop_words):
    ...  # your code


check("chinese.stop_word_share", stop_word_share)

# %% [markdown]
# A language model cannot drop them: it has to *write* them, and they carry the grammar (的 marks what
# modifies what, 了 that something is done, 不 negates). Are they also easier to predict than the other
# characters? We measure it with the character model of section 4: its loss on the classical function
# characters against its loss on all other characters of the validation text. (A model trained for a few
# dozen steps, as in the `smoke` preset, has mostly learned how often each character occurs.)

# %% [markdown]
# **Predict, then run.** Will the character model find the function characters easier or harder to predict
# than the others? Commit to an answer before you run the next cells; a check after the measurement says
# what happened and why.
#
# - `"a"`: easier: a lower loss on the function characters
# - `"b"`: harder: a higher loss on the function characters

# %%
prediction = ...  # one of "a", "b"

# %%
STOP = set("之不無而以其於于所與爲為者也乎則")  # the poems' script: 爲 and 為, 於 and 于 both occur
char_tok = lm_tokenizers["char"]
nll, targets, _ = token_losses(lm_models["char"], torch.tensor(char_tok.encode(lm_val), dtype=torch.long))
is_stop = torch.tensor([char_tok.decode([int(t)]) in STOP for t in targets])
share = is_stop.float().mean().item()
print(f"function characters are {share:.1%} of the validation text; loss on them "
      f"{nll[is_stop].mean():.2f} nats, on all others {nll[~is_stop].mean():.2f} nats")
if nll[is_stop].mean() < nll[~is_stop].mean():
    print("in this run the function characters are the easier ones to predict")
else:
    print("in this run the function characters are not easier to predict than the others")

# %%
check("chinese.predict_function_loss", prediction,
      measured=(float(nll[is_stop].mean()), float(nll[~is_stop].mean())))

# %% [markdown]
# ## 6 · Traditional and simplified characters
#
# Simplification (1956, 1964) mapped many traditional characters onto one simplified form: 發 (to send)
# and 髮 (hair) both became 发, 後 (after) merged with 后 (queen). Converting a corpus with OpenCC's `t2s`
# therefore **shrinks the vocabulary** and merges some meanings; converting back (`s2t`) cannot always
# guess which character was meant.

# %%
import opencc

t2s, s2t = opencc.OpenCC("t2s").convert, opencc.OpenCC("s2t").convert
traditional, _ = poem_corpus(max_vocab=None, max_poems=SIZES["poems"], script="traditional")
simplified = t2s(traditional)
trad_chars, simp_chars = set(traditional) - set("\n，。"), set(simplified) - set("\n，。")
back = s2t(simplified)
changed = sum(a != b for a, b in zip(traditional, back, strict=True))
print(f"distinct characters: traditional {len(trad_chars):,}, simplified {len(simp_chars):,} "
      f"({1 - len(simp_chars) / len(trad_chars):.1%} fewer)")
print(f"simplified -> traditional again: {changed:,} of {len(traditional):,} characters "
      f"({changed / len(traditional):.2%}) come back as a different character")

# %% [markdown]
# **Exercise 3.** Which simplified characters stand for two or more traditional ones in the poems? Write
# `merged(characters, convert)`: a dict from each such simplified character to the sorted list of
# distinct characters that `convert` maps onto it.

# %%
def merged(characters, convert):
    ...  # your code


check("chinese.merged", merged)

# %%
from lmlab.data.chinese import merged_by_simplification

groups = merged_by_simplification(trad_chars, t2s)
counts = {c: traditional.count(c) for cs in groups.values() for c in cs}
top = sorted(groups.items(), key=lambda kv: -sum(counts[c] for c in kv[1]))[:12]
print(f"{len(groups)} simplified characters each merge several traditional ones, e.g.")
print("  ".join(f"{s}←{'/'.join(ts)}" for s, ts in top))
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.bar([s for s, _ in top], [sum(counts[c] for c in ts) for _, ts in top], color="#CC79A7")
ax.set(title="simplified characters that merge traditional ones (occurrences in the poems)", ylabel="count")
plt.show()

# %% [markdown]
# For a language model the simplified corpus is a little easier (fewer, more frequent characters) and a
# little poorer (發/髮 are one token). The Chinese edition of this lab trains on simplified characters,
# the English edition on the traditional ones of the collection.
#
# ## Going further
#
# - Train with `lmlab train gpt --corpus tang_poems --tokenizer bpe` and compare with `--tokenizer char`.
# - Give jieba a user dictionary of classical words (`jieba.load_userdict`) and measure the OOV again.
# - Try `vocab_size=8000` for BPE: when does it start to keep whole words?
