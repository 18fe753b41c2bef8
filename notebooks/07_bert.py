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
# # 07 · BERT: pre-train on raw text, then fine-tune on a few labels
#
# Notebook 05 fine-tuned a *downloaded* encoder. Here we build the whole recipe ourselves, with lmlab's
# own BERT:
#
# 1. **Pre-training (self-supervised)**: hide 15% of the characters of the Tang poems and learn to guess
#    them — the masked-language-model (MLM) objective. No labels needed.
# 2. **Fine-tuning (supervised)**: teach the pre-trained encoder a small labelled task and measure, with few
#    and with all the labels, whether pre-training helped, against the same model trained from random
#    weights, a linear probe and a bag of characters (TF-IDF). Two tasks: *which poet wrote this poem?*
#    (白居易, 杜甫 or 李白), the honest hard case, and *which season is this poem about?*, with the season
#    words removed, a task built so that pre-training can show.
#
# Along the way: the fill-in-the-blank game (完形填空), a causal LM and an MLM side by side, attention
# views, what the layers hold, and an export that Hugging Face `transformers` loads as its own
# `BertForMaskedLM`.

# %%
from lmlab.notebook import setup

lab = setup()

# %%
import json
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from lmlab.cli import main as lmlab_main
from lmlab.data import load_text
from lmlab.exercises import check
from lmlab.train import History

SIZE = {  # smoke: CI in seconds; class: pre-training 1 h (prepared), fine-tuning <= 3 min on 2 cores
    "smoke": dict(zh=["--max-iters", "40", "--snapshot-at", "0.2,0.5,1"],
                  en=["--max-iters", "20", "--vocab-size", "500"], gpt=["--max-iters", "40"],
                  per_poet=40, ft_steps=10, en_ft_steps=10, n_probe_lines=60, n_subsets=3,
                  label_counts=(16, 50, None), per_season=80, season_counts=(30, 100, None)),
    "class": dict(zh=["--time-budget", "3600", "--snapshot-at", "180,600,1800"],  # snapshots: section 8
                  en=["--time-budget", "60", "--vocab-size", "2000"],
                  gpt=["--time-budget", "180"],  # = BERT's first snapshot: section 5 compares the two
                  per_poet=300, ft_steps=120, en_ft_steps=60, n_probe_lines=400, n_subsets=5,
                  label_counts=(16, 50, None), per_season=300, season_counts=(30, 100, None)),
    "full": dict(zh=["--snapshot-at", "180,600,1800,3600"],
                 en=["--max-iters", "3000", "--vocab-size", "2000"],
                 gpt=["--max-iters", "3000"],
                 per_poet=None, ft_steps=600, en_ft_steps=600, n_probe_lines=2000, n_subsets=10,
                 label_counts=(16, 50, None), per_season=None, season_counts=(30, 100, None)),
}[lab.preset]
work = Path(tempfile.mkdtemp(prefix="lmlab07_"))

# the Tang poems come from the data mirror; without it, 18 built-in poems keep every cell running
try:
    load_text("tang_poems")
    zh_corpus = "tang_poems"
except FileNotFoundError:
    from lmlab.models.bert.poems import fallback_text

    zh_corpus = str(work / "poems.txt")
    Path(zh_corpus).write_text(fallback_text() * 20, encoding="utf-8")
    print("note: tang_poems is not available offline here; pre-training on 18 built-in poems instead "
          "(set LMLAB_DATA_DIR to a mirror for the real run)")

# %% [markdown]
# ## 1 · The masking rule
#
# BERT (Devlin et al. 2018) picks **15%** of the positions at random. Of the picked ones:
# **80%** become `[MASK]`, **10%** a random token, **10%** stay as they are. The model must predict the
# original token at every picked position — and *only* there:
#
# $$\mathcal{L}_{\text{MLM}} = -\frac{1}{|M|}\sum_{i\in M}\log p_\theta(x_i \mid \tilde{x}),$$
#
# where $M$ is the set of picked positions and $\tilde x$ the corrupted line. Why not 100% `[MASK]`?
# Because `[MASK]` never appears at fine-tuning time: the random and kept 20% force the model to keep a
# good representation of *every* visible token, since any of them might be a corrupted one.

# %%
from lmlab.models.bert.masking import mlm_mask  # noqa: E402
from lmlab.models.bert.vocab import BertVocab  # noqa: E402
from lmlab.tokenizers import CharTokenizer  # noqa: E402

line = "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。"
toy = BertVocab(CharTokenizer.fit(line))
ids = torch.tensor([toy.encode(line)])
inputs, targets = mlm_mask(ids, mask_id=toy.mask_id, n_tokens=toy.base.vocab_size, p=0.3,
                           generator=torch.Generator().manual_seed(4))
kind = np.where(targets[0] == -100, "", np.where(inputs[0] == toy.mask_id, "[MASK]",
                np.where(inputs[0] != ids[0], "random", "kept")))
print("original :", line)
print("model sees:", toy.decode(inputs[0].tolist()))
print("predict  :", [(toy.token(int(t)), str(k)) for t, k in zip(targets[0], kind, strict=True) if t != -100])

# %% [markdown]
# On 20,000 lines the shares come out as the rule says (we used p = 0.3 above so one line shows all three
# cases; BERT's own is 0.15):

# %%
big = torch.randint(toy.base.vocab_size, (1000, 200), generator=torch.Generator().manual_seed(0))
inp, tgt = mlm_mask(big, mask_id=toy.mask_id, n_tokens=toy.base.vocab_size,
                    generator=torch.Generator().manual_seed(1))
chosen = tgt != -100
shares = {"picked": chosen.float().mean().item(),
          "[MASK] | picked": ((inp == toy.mask_id) & chosen).sum().item() / chosen.sum().item(),
          "unchanged | picked": ((inp == big) & chosen).sum().item() / chosen.sum().item()}
print({k: round(v, 3) for k, v in shares.items()})
fig, ax = plt.subplots(figsize=(4, 2.2))
ax.bar(["[MASK]", "random", "kept"], [shares["[MASK] | picked"],
       1 - shares["[MASK] | picked"] - shares["unchanged | picked"], shares["unchanged | picked"]])
ax.set(ylabel="share of picked positions", title="80-10-10 (kept includes random = same token)")
plt.show()

# %% [markdown]
# **Exercise 1.** Given one uniform draw $r\in[0,1)$ per picked position, return 0 (`[MASK]`), 1 (random)
# or 2 (keep), following 80-10-10.

# %%
def mask_decision(r):
    return ...  # your code: a tensor of 0, 1, 2 with r's shape


check("bert.mask_decision", mask_decision)

# %% [markdown]
# **Exercise 2.** The MLM loss: cross-entropy over the picked positions only (`targets == -100` elsewhere).

# %%
import torch.nn.functional as F  # noqa: E402, F401  (for your answer: F.cross_entropy)


def mlm_loss(logits, targets):
    # logits (B, T, V), targets (B, T)
    return ...  # your code


check("bert.mlm_loss", mlm_loss)

# %% [markdown]
# **Whole-word masking.** With characters, 明 in 明月 is easy to guess from 月 next to it. Cui et al.
# (2019) mask whole *words* for Chinese instead: segment with a word segmenter (here jieba), pick 15% of
# the words, hide all their characters (`lmlab train bert --whole-word`).

# %%
from lmlab.models.bert.masking import word_index  # noqa: E402

words = word_index(line)
print("jieba words:", " / ".join("".join(line[i] for i in range(len(line)) if words[i] == w)
                                 for w in torch.unique(words).tolist()))
inputs_ww, targets_ww = mlm_mask(ids, mask_id=toy.mask_id, n_tokens=toy.base.vocab_size, p=0.3,
                                 generator=torch.Generator().manual_seed(2), word_ids=words[None])
print("whole-word masked:", toy.decode(inputs_ww[0].tolist()))

# %% [markdown]
# ## 2 · The model: BERT exactly
#
# lmlab's GPT block is *pre*-LN, $x + \text{Attn}(\text{LN}(x))$. BERT's is **post-LN**, as in the
# original Transformer: $x \leftarrow \text{LN}(x + \text{Attn}(x))$, then $x \leftarrow
# \text{LN}(x + \text{FFN}(x))$, with GELU in the FFN. The input adds a **segment** (token type) embedding
# to token and position: $E = \text{LN}(E_\text{tok} + E_\text{pos} + E_\text{seg})$. The **MLM head** is
# one more layer and a decoder *tied* to the input embedding (its own bias $b$):
#
# $$\text{logits} = \text{LN}(\text{GELU}(W h + c))\,E_\text{tok}^\top + b.$$
#
# `lmlab.models.bert` names every part after Hugging Face's `modeling_bert.py` (`BertEmbeddings`,
# `BertSelfAttention`, `BertLMPredictionHead`, ...), so the two state dicts line up key for key. The
# proof: copy our weights into a `transformers.BertForMaskedLM` and compare the logits.

# %%
import transformers  # noqa: E402

from lmlab.export import to_hf_bert  # noqa: E402
from lmlab.models.bert import BertConfig, BertForMaskedLM  # noqa: E402

torch.manual_seed(0)
tiny = BertForMaskedLM(BertConfig(vocab_size=toy.vocab_size, block_size=32, n_layer=2, n_head=2,
                                  n_embd=32)).eval()
x = torch.tensor([toy.wrap(toy.encode(line))])
with torch.no_grad():
    ours, _ = tiny(x)
    theirs = to_hf_bert(tiny)(input_ids=x).logits
print(f"transformers {transformers.__version__}: max |lmlab - transformers| = "
      f"{(ours - theirs).abs().max().item():.2e} over {ours.numel()} logits")

# %% [markdown]
# ## 3 · Pre-training on the Tang poems
#
# `lmlab train bert` draws random windows of the corpus, wraps each as `[CLS] ... [SEP]`, masks 15% and
# trains with AdamW (warm-up, then cosine). The MLM head runs only on the masked rows (`only_masked=True`):
# the same loss for ~15% of the head's work. The class preset trains for a fixed number of seconds.

# %%
from lmlab.prepared import cached, resuming  # noqa: E402

zh_name = "tang_poems" if zh_corpus == "tang_poems" else "built-in poems"  # the prepared runs' corpus name


def command(name, argv, corpus, script=True):
    """`lmlab ARGV` into its own folder; a run prepared ahead of the lesson (`lmlab prepare`) is loaded
    instead, and said so. Its configuration is the command, with the corpus by name, not by path."""

    def fit(out):  # `lmlab prepare` goes on with an interrupted run of the same command
        again = ["--resume"] if resuming(out) else []
        return lmlab_main([*argv, "--device", lab.device.type, "--no-progress", "--out", str(out), *again])

    config = {"argv": [a if a != zh_corpus else "CORPUS" for a in argv]}
    return cached(name, config, preset=lab.preset, corpus=corpus, script=script, fit=fit, out=work / name)


t0 = time.perf_counter()
zh_run = command("07_bert_zh", ["train", "bert", "--corpus", zh_corpus, "--preset", lab.preset, *SIZE["zh"]],
                 zh_name)
zh_dir = zh_run.path
zh_metrics = json.loads((zh_dir / "metrics.json").read_text())
print(f"{time.perf_counter() - t0:.0f} s; params {zh_metrics['params']:,}")

# %%
from lmlab.checkpoint import load_checkpoint  # noqa: E402
from lmlab.models.bert.trainer import load_bert  # noqa: E402

hist = History(load_checkpoint(zh_dir)["history"])
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(*hist.series("train_loss"), label="train (masked positions)")
ax.plot(*hist.series("val_mlm_loss"), "o-", label="validation")
ax.axhline(np.log(zh_metrics["config"]["vocab_size"]), color="0.6", linestyle=":", label="uniform guess")
ax.set(xlabel="iteration", ylabel="MLM loss (nats)", title="pre-training")
ax.legend()
plt.show()
zh_model, zh_vocab, _ = load_bert(zh_dir)
print(f"masked-token accuracy on validation: {zh_metrics['masked_acc']:.1%}")

# %% [markdown]
# **Character vs whole-word masking, measured.** Score the same model on validation windows masked both
# ways. Whole words are harder to guess: the gap is the part of character-masking accuracy that came
# from a word's other half.

# %%
from lmlab.models.bert.data import MLMData  # noqa: E402
from lmlab.models.bert.trainer import evaluate_mlm  # noqa: E402

_, val_text = (lambda t: (t[:int(len(t) * 0.9)], t[int(len(t) * 0.9):]))(load_text(zh_corpus))
val_text = val_text[:60_000]
for whole_word in (False, True):
    data = MLMData.from_text(val_text, val_text, zh_vocab, whole_word=whole_word)
    m = evaluate_mlm(zh_model, data, zh_vocab, batch_size=32, eval_iters=5)
    print(f"{'whole-word' if whole_word else 'character '} masking: loss {m['val_mlm_loss']:.3f}, "
          f"accuracy {m['val_masked_acc']:.1%}")

# %% [markdown]
# **Predict, then run.** A baseline with no model at all answers every blank with the commonest character of
# the poems. Against that baseline, where does the model's masked-token accuracy printed above stand? Commit
# to an answer before you run the next cells; a check after the measurement says what happened and why.
#
# - `"a"`: far above: more than twice the baseline's accuracy
# - `"b"`: above, but less than twice the baseline
# - `"c"`: no better than always guessing the commonest character

# %%
prediction = ...  # one of "a", "b", "c"

# %%
from collections import Counter  # noqa: E402

chars = [ch for ch in val_text if not ch.isspace()]
commonest, n_commonest = Counter(chars).most_common(1)[0]
print(f"always {commonest!r}: {n_commonest / len(chars):.1%} right; "
      f"the model: {zh_metrics['masked_acc']:.1%}")
check("bert.predict_baseline", prediction, measured=(zh_metrics["masked_acc"], n_commonest / len(chars)))

# %% [markdown]
# ## 4 · Fill in the blank (完形填空)
#
# Type a line with `[MASK]` where a character is missing; the model proposes the top 5 with their
# probabilities. Every blank is guessed in **one** pass, each from both sides. Give it a whole couplet: it
# was pre-trained on full windows of 62 characters, so a lone half-line (`[SEP]` right after it) is
# something it never saw, and its guesses there are worse.

# %%
from lmlab.models.bert.fill import fill_mask  # noqa: E402
from lmlab.viz.bert import fill_mask_widget, plot_fill  # noqa: E402

query = "床前明[MASK]光，疑是地上霜。"
guesses = fill_mask(zh_model, zh_vocab, query, k=5)
display(plot_fill(query, guesses))
fill_mask_widget(zh_model, zh_vocab, value="舉頭望明[MASK]，低頭思故[MASK]。")

# %% [markdown]
# Bad input gets one line that says what to do:

# %%
for bad in ("床前明月光", "[MASK]" * 80):
    try:
        fill_mask(zh_model, zh_vocab, bad)
    except ValueError as err:
        print("error:", err)

# %% [markdown]
# **The same for English**, on the built-in Wikipedia sample, with a byte-level BPE vocabulary: now a
# `[MASK]` hides a word piece.

# %%
en_dir = command("07_bert_en", ["train", "bert", "--corpus", "wiki_sample", "--tokenizer", "bpe",
                                "--preset", lab.preset, *SIZE["en"]], "wiki_sample", script=False).path
en_model, en_vocab, _ = load_bert(en_dir)
for q in ("the capital of france is [MASK]", "he was born in [MASK] and died in 1900"):
    print(q, "->", [(t, round(p, 3)) for t, p in fill_mask(en_model, en_vocab, q, k=5)[0]])
fill_mask_widget(en_model, en_vocab, value="the [MASK] of the united states")

# %% [markdown]
# ## 5 · Causal LM vs MLM, side by side
#
# A GPT learns $p(x_i \mid x_{<i})$: it sees only the left, so it can **generate**, one token after
# another. BERT learns $p(x_i \mid x_{\ne i})$: it sees both sides, so it is better at **understanding**
# a given text, but it cannot write left to right. Train a small GPT (nanoGPT's layout) on the same poems
# and ask both, for every character of one line, how likely the true character was. A fair race gives both
# the same training time: the class preset trains the GPT for 180 s and compares it with the BERT's snapshot
# kept at 180 s of its pre-training (the seconds are printed below), not with the finished hour.

# %%
from lmlab.models.transformer import load_for_sampling  # noqa: E402

gpt_dir = command("07_gpt_zh", ["train", "gpt", "--corpus", zh_corpus, "--preset", lab.preset, *SIZE["gpt"],
                                "--pos-encoding", "learned", "--activation", "gelu", "--block-size", "64"],
                  zh_name).path
gpt, gpt_tok = load_for_sampling(load_checkpoint(gpt_dir))
gpt_metrics = json.loads((gpt_dir / "metrics.json").read_text())
# the BERT at the GPT's training time: the snapshot nearest to it, or the finished run if that is nearer
from lmlab.models.bert.trainer import snapshots  # noqa: E402

race = min([(t, path) for t, path in snapshots(zh_dir)] + [(zh_metrics["train_s"], zh_dir)],
           key=lambda tp: abs(tp[0] - gpt_metrics["train_s"]))
race_bert = load_bert(race[1])[0]
print(f"training time: GPT {gpt_metrics['train_s']:.0f} s ({gpt_metrics['iters']} steps), "
      f"BERT {race[0]:.0f} s (of its {zh_metrics['train_s']:.0f} s)")

probe_line = line
gpt_ids = torch.tensor([gpt_tok.encode(probe_line)])
with torch.no_grad():
    next_logits, _ = gpt(gpt_ids)
p_gpt = [float("nan")] + [torch.softmax(next_logits[0, i - 1], -1)[gpt_ids[0, i]].item()
                          for i in range(1, len(probe_line))]
p_mlm = []
for i, ch in enumerate(probe_line):
    blank = probe_line[:i] + "[MASK]" + probe_line[i + 1:]
    top = fill_mask(race_bert, zh_vocab, blank, k=zh_vocab.base.vocab_size)  # every character's probability
    p_mlm.append(dict(top[0]).get(ch, 0.0))
fig, ax = plt.subplots(figsize=(8, 2.8))
xs = np.arange(len(probe_line))
ax.bar(xs - 0.2, p_gpt, 0.4, label="GPT: p(x_i | left)")
ax.bar(xs + 0.2, p_mlm, 0.4, label="BERT: p(x_i | both sides)")
ax.set(xticks=xs, xticklabels=list(probe_line), ylabel="probability of the true character")
ax.legend(fontsize=8)
plt.show()
print(f"mean probability of the true character: GPT {np.nanmean(p_gpt):.3f}, BERT {np.mean(p_mlm):.3f}")

# %% [markdown]
# What each *sees* is the attention mask: a triangle for the GPT, everything for BERT.

# %%
with torch.no_grad():
    _, _, gpt_attn = gpt.forward_with_attention(gpt_ids)
    bert_x = torch.tensor([zh_vocab.wrap(zh_vocab.encode(probe_line))])
    _, _, bert_attn = zh_model.forward_with_attention(bert_x)
fig, axes = plt.subplots(1, 2, figsize=(7, 3.2), layout="constrained")
for ax, attn, title in ((axes[0], gpt_attn, "GPT (causal)"), (axes[1], bert_attn, "BERT (bidirectional)")):
    ax.imshow(attn[0][0].mean(0), cmap="Blues")
    ax.set(title=f"{title}: layer 1, mean of heads", xlabel="key", ylabel="query")
plt.show()

# %% [markdown]
# ## 6 · Export: the same models inside Hugging Face `transformers`
#
# `lmlab export DIR --to hf OUT` writes `config.json`, `model.safetensors` and a tokenizer; the BERT loads
# as `BertForMaskedLM`, the GPT (learned positions + GELU: nanoGPT's layout) as `GPT2LMHeadModel`.
# Other layouts (rotary positions, ReLU) stop with a message naming the flags that export.
# The character GPT's export has one token more, `[UNK]`, for characters it never saw: the last column of
# its logits; the other columns are lmlab's.

# %%
from lmlab.models.pretrained import quiet_transformers  # noqa: E402

lmlab_main(["export", str(zh_dir), "--to", "hf", str(work / "hf_bert")])
lmlab_main(["export", str(gpt_dir), "--to", "hf", str(work / "hf_gpt")])
with quiet_transformers():  # no "Loading weights" progress bars for these few-MB models
    hf_bert = transformers.AutoModelForMaskedLM.from_pretrained(work / "hf_bert").eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(work / "hf_bert")
    hf_gpt = transformers.AutoModelForCausalLM.from_pretrained(work / "hf_gpt").eval()
enc = hf_tok(query, return_tensors="pt")
with torch.no_grad():
    diff_bert = (hf_bert(**enc).logits - zh_model(enc["input_ids"])[0]).abs().max().item()
    diff_gpt = (hf_gpt(gpt_ids).logits[..., :gpt.config.vocab_size] - gpt(gpt_ids)[0]).abs().max().item()
print(f"{type(hf_bert).__name__}: max |diff| {diff_bert:.1e};  {type(hf_gpt).__name__}: {diff_gpt:.1e}")
print("transformers' tokenizer:", hf_tok.convert_ids_to_tokens(enc["input_ids"][0])[:10])

# %% [markdown]
# ## 7 · Inside: attention views and what the layers hold
#
# bertviz's head view and model view of lmlab's own BERT (offline). No triangle: every character
# attends to the whole line.

# %%
from lmlab.viz.attention import as_attention_maps, head_view, model_view  # noqa: E402

maps = as_attention_maps([a[:1] for a in bert_attn], [zh_vocab.token(int(i)) for i in bert_x[0]],
                         source="lmlab BERT (Tang poems)")
head_view(maps, layer=zh_model.config.n_layer - 1)

# %%
model_view(maps)

# %% [markdown]
# **A layer probe.** Freeze the model, take each layer's vector for every character, and fit a linear
# classifier to answer a question about it. A probe's score means little alone, so it gets two controls:
# the same probe on a **random-init encoder of the same shape** (what the architecture gives for free), and a
# **control task** — every character type gets a random answer — which a probe can only learn by memorising
# characters. A layer *knows* something when the pre-trained model beats the random one on the question, and
# the question beats the control task. Three questions, from easy to hard for a model that only
# learned to fill blanks:
#
# - *position in the window* (given away by the position embedding at layer 0),
# - *position within its half-line* (counting from the last comma: needs attention),
# - *is it the last character before 。* — the rhyme slot (needs to see the right side).
#
# The score is *balanced* accuracy, the mean of the per-answer recalls, so that always answering "not a
# rhyme slot" scores 1/2, not 92%.

# %%
from lmlab.eval.layer_probe import layer_states, probe_layers  # noqa: E402
from lmlab.models.bert.finetune import encode_batch  # noqa: E402
from lmlab.models.bert.prenorm import build_encoder  # noqa: E402
from lmlab.viz.bert import plot_layer_probe  # noqa: E402

poem_lines = [s for s in load_text(zh_corpus).splitlines() if 10 <= len(s) <= 24][:SIZE["n_probe_lines"]]
p_ids, p_mask = encode_batch(zh_vocab, poem_lines, zh_model.config.block_size)
T = p_ids.size(1)
pos = torch.arange(T).expand_as(p_ids)
half = torch.zeros_like(p_ids)
rhyme = torch.zeros_like(p_ids)
for r, s in enumerate(poem_lines):
    k = 0
    for j, ch in enumerate(s, start=1):  # position j: after [CLS]
        half[r, j] = min(k, 7)
        k = 0 if ch in "，。？！；" else k + 1
        rhyme[r, j] = int(j < len(s) and s[j] == "。")
where = p_mask.bool() & (pos > 0) & (p_ids < zh_vocab.base.vocab_size)
states = layer_states(zh_model, p_ids, p_mask)
# the control task (Hewitt & Liang 2019): every character type gets a random answer out of 8; a probe can
# only score above 1/8 on it by memorising characters, not by reading structure
control = torch.as_tensor(np.random.default_rng(0).integers(8, size=zh_vocab.vocab_size))[p_ids]
questions = {"position in window": pos.clamp(max=15), "position in half-line": half,
             "rhyme slot (before 。)": rhyme, "control: random answer per character": control}
chance = {"position in window": 1 / 16, "position in half-line": 1 / 8, "rhyme slot (before 。)": 1 / 2,
          "control: random answer per character": 1 / 8}
# the control model: the same shape, random weights, probed the same way
torch.manual_seed(0)
random_zh = build_encoder("bert", zh_vocab.vocab_size, zh_vocab.pad_id,
                          **{k: getattr(zh_model.config, k) for k in ("n_layer", "n_head", "n_embd",
                                                                       "block_size", "dropout")})
random_states = layer_states(random_zh, p_ids, p_mask)
probe = {q: probe_layers(states, y, where) for q, y in questions.items()}
probe_random = {q: probe_layers(random_states, y, where) for q, y in questions.items()}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained", sharey=True)
plot_layer_probe(probe, chance=chance, ax=axes[0])
plot_layer_probe(probe_random, chance=chance, ax=axes[1])
axes[0].set_title("pre-trained BERT")
axes[1].set_title("random init, same shape (control)")
plt.show()
for q in questions:
    print(f"{q:38} pre-trained {[round(a, 2) for a in probe[q]]}")
    print(f"{'':38} random init {[round(a, 2) for a in probe_random[q]]}")

# %% [markdown]
# Read the two panels side by side. If the random-init encoder answers a question as well as the pre-trained
# one, the score is the architecture's (position embeddings, even random ones, tell positions apart), not
# what pre-training taught. On the Tang poems the three questions share a shortcut: regular verse lines are
# 5 + ， + 5 + 。 (or 7 + 7), so a character's position alone answers all three, and layer 0 holds the
# position. The control task shows how much a probe can memorise about single characters. A probe only tells
# you something when the question cannot be read off a shortcut: try lines of mixed length, or "is this
# character a verb".

# %% [markdown]
# ## 8 · Fine-tuning: who wrote this poem?
#
# The labelled task: poems of the three poets with the most poems in the collection, the same number of
# each (so chance is 1/3), split **by poem** into training and test (a quarter, stratified, never trained
# on). For 1%, 10% and 100% of the training labels we compare:
#
# - **fine-tuned**: the pre-trained encoder + a linear head on the mean-pooled sentence vector, all trained;
# - **random init**: the same architecture from random weights, trained the same way (same steps, rates);
# - **linear probe**: the pre-trained encoder frozen, a logistic regression on its sentence vectors;
# - **TF-IDF (characters)**: no network at all — a logistic regression on bag-of-characters TF-IDF (single
#   characters and pairs), the simplest honest baseline.
#
# **The claim, stated before the run: this is the hard case.** Who wrote a poem shows in *which characters*
# a poet favours, which a bag of characters counts directly; a few minutes of pre-training on two cores does
# not learn more than that. Expect TF-IDF to be the one to beat, and the network methods not to beat it.
#
# Scores: accuracy and **macro-F1** (the mean of the per-poet F1), each with a 95% **bootstrap** interval:
# resample the test poems with replacement 1,000 times and take the middle 95% of the scores.
#
# Note: pre-training saw the *text* of most of these poems (the MLM corpus is the whole collection) but
# never a label.

# %%
from lmlab.eval.few_labels import (  # noqa: E402
    few_label_curve,
    format_curve,
    plot_label_curve,
    tfidf_features,
)
from lmlab.models.bert.finetune import FineTuneConfig, learning_curve, poet_dataset  # noqa: E402
from lmlab.viz.bert import plot_learning_curve  # noqa: E402

texts, labels, poets = poet_dataset(per_poet=SIZE["per_poet"], fallback=True)
print({p: int((labels == k).sum()) for k, p in enumerate(poets)})
cfg = zh_model.config
sizes = {k: getattr(cfg, k) for k in ("n_layer", "n_head", "n_embd", "block_size", "dropout")}


def poet_fine_tuning(out):
    torch.manual_seed(0)
    random_twin = build_encoder("bert", zh_vocab.vocab_size, zh_vocab.pad_id, **sizes)
    t0 = time.perf_counter()
    curve = learning_curve(zh_model, zh_vocab, texts, labels, random_init=random_twin,
                           cfg=FineTuneConfig(steps=SIZE["ft_steps"], block_size=cfg.block_size),
                           device=lab.device)
    print(f"9 runs in {time.perf_counter() - t0:.0f} s")
    return {"curve": curve, "poets": list(poets)}


# keyed by the fine-tuning sizes (this section's and 8b's) and the pre-training command it starts from
pretrained = {"argv": zh_run.record["config"]["argv"]}
ft_sizes = {k: SIZE[k] for k in ("per_poet", "ft_steps", "per_season", "season_counts", "n_subsets")}
ft_run = cached("07_finetune", {**ft_sizes, "seed": 0, "pretrained": pretrained}, preset=lab.preset,
                corpus=zh_name, script=True, fit=poet_fine_tuning, out=work / "07_finetune")
curve = {**ft_run.metrics["curve"], "features": np.asarray(ft_run.metrics["curve"]["features"], np.float32)}
for r in curve["rows"]:
    print(f"{r['method']:12} {r['n_labels']:5d} labels: accuracy {r['accuracy']:.2f} "
          f"[{r['accuracy_lo']:.2f}, {r['accuracy_hi']:.2f}], macro-F1 {r['macro_f1']:.2f} "
          f"[{r['macro_f1_lo']:.2f}, {r['macro_f1_hi']:.2f}]")

# the baselines on the same split and label counts, each averaged over label subsets (the fine-tuning
# above is one subset per count: SIZE["n_subsets"] times the cost would not fit a lesson)
BASELINE_COLORS = {"TF-IDF (characters)": "C1", "probe, mean of subsets": "C2"}
poet_rows = few_label_curve(
    {"TF-IDF (characters)": tfidf_features(texts, curve["train_idx"], analyzer="char", ngram_range=(1, 2)),
     "probe, mean of subsets": curve["features"]},
    labels, curve["train_idx"], curve["test_idx"], sorted({r["n_labels"] for r in curve["rows"]}),
    n_subsets=SIZE["n_subsets"])
print(f"\nover {SIZE['n_subsets']} label subsets (all labels: one subset, a bootstrap interval):")
print(format_curve(poet_rows))

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
plot_learning_curve(curve["rows"], metric="accuracy", chance=1 / 3, title="poet attribution", ax=axes[0])
plot_learning_curve(curve["rows"], metric="macro_f1", chance=1 / 3, ax=axes[1])
plot_label_curve(poet_rows, metric="accuracy", ax=axes[0], colors=BASELINE_COLORS)
plot_label_curve(poet_rows, metric="macro_f1", ax=axes[1], colors=BASELINE_COLORS)
plt.show()

# %% [markdown]
# **Read it honestly**, from the lines printed above. Where the intervals of two methods overlap, this test
# set cannot tell them apart. Compare fine-tuned with random init (did pre-training help at few labels?),
# fine-tuned with the frozen probe (did fine-tuning add anything?), and every network with TF-IDF: on this
# task the bag of characters is the bar. Where an hour of pre-training on two cores does not clear it, that
# is the hard case, stated as such: a poet's habits are *which* characters he uses, and counting characters
# is exactly what TF-IDF does. The next part (8b) picks a task built so that counting is not enough.
#
# Cost on the class preset (1 thread, a loaded 2-core machine): the nine runs above took 111 to 148 s; the
# polarity track below (4 runs of 60 steps: 150 sentences need fewer) adds about half a minute.

# %% [markdown]
# The confusion matrix of the fine-tuned model with all labels (rows: true poet):

# %%
from lmlab.eval.classification import classification_report, plot_confusion  # noqa: E402

best = next(r for r in curve["rows"] if r["method"] == "fine-tuned" and r["fraction"] == 1.0)
y_test = labels[curve["test_idx"]]
report = classification_report(y_test, best["y_pred"], poets)
print(report)
fig, ax = plt.subplots(figsize=(3.6, 3.2))
plot_confusion(report, title="fine-tuned, 100% of labels", ax=ax)
plt.show()

# %% [markdown]
# **Exercise 3.** Mean pooling: the sentence vector is the average of the real tokens' vectors,
# $h = \sum_t m_t H_t / \sum_t m_t$ (padding has $m_t = 0$).

# %%
def mean_pool(h, mask):
    # h (B, T, C), mask (B, T) with 1 for real tokens
    return ...  # your code: (B, C)


check("bert.mean_pool", mean_pool)

# %% [markdown]
# **Exercise 4.** Macro-F1 by hand: $F_1^{(c)} = \frac{2\,tp_c}{2\,tp_c + fp_c + fn_c}$, then the plain mean
# over the classes.

# %%
def macro_f1(y_true, y_pred, n_classes):
    return ...  # your code: one float


check("bert.macro_f1", macro_f1)

# %% [markdown]
# **The sentence vectors on a map**, coloured by poet: the pre-trained encoder's mean-pooled vectors (the
# probe's features) in the embedding projector of notebook 01. A spread-out few carry their label; type a
# poem's label (as on the map) to see its nearest poems.

# %%
from lmlab.models.word2vec.vectors import WordVectors  # noqa: E402
from lmlab.viz.embeddings import Projector, save_projector_html  # noqa: E402

names = [f"{poets[y]}{i}·{t.splitlines()[0][:7]}" for i, (t, y) in enumerate(zip(texts, labels, strict=True))]
sentence_vectors = WordVectors(names, curve["features"])
shown = names[:: max(1, len(names) // 300)]
groups = {p: [n for n in shown if n.startswith(p)] for p in poets}
projector = Projector(sentence_vectors, shown, groups=groups, max_labels=30,
                      placeholder=f"a poem's label, e.g. {shown[0]}")
html = save_projector_html(sentence_vectors, shown, work / "poets.html", groups=groups, dim=2)
print("offline projector:", html)
projector.widget()

# %% [markdown]
# ## 8b · A task where transfer can show: a poem's season
#
# Poet attribution rewards counting characters. A task where pre-training *can* pay needs knowledge that
# the unlabelled poems hold and a few labels do not: a Tang poem's **season** (春, 夏, 秋 or 冬) **taken from
# its title** (《春曉》, 《秋夕》), read from its **body with every cue character removed** — the four season
# names and the words that name a season's time or weather outright (暑, 臘, 凍). What is left is imagery:
# 鶯 and 杏花 for spring, 蟬 and 荷 for summer, 菊, 雁 and 砧 for autumn, 雪 and 爐 for winter. A bag of
# characters must learn each image from the labels, and 30 labelled poems show few of them; the pre-trained
# model has read every image beside the others thousands of times. Poems whose title names two seasons are
# left out; the same number of each season is drawn, so the majority class is 1/4 (in the whole collection
# spring titles are the commonest, 46%).
#
# `lmlab.data.seasons` builds it, in the edition's script:

# %%
from lmlab.data.seasons import SEASONS, majority_share, season_dataset  # noqa: E402
from lmlab.models.classifier import stratified_split  # noqa: E402

s_texts, s_labels, _ = season_dataset(per_season=SIZE["per_season"], fallback=True)
s_train, s_test = stratified_split(s_labels, 0.25, seed=0)
majority = majority_share(s_labels[s_test])
print({SEASONS[k]: int(n) for k, n in enumerate(np.bincount(s_labels, minlength=len(SEASONS)))},
      f"poems; {len(s_train)} for training, {len(s_test)} for testing")
print(f"always the commonest season: {majority:.2f} of the test poems")
print("a summer poem as the model reads it:", s_texts[int(np.flatnonzero(s_labels == 1)[0])]
      if (s_labels == 1).any() else s_texts[0])

# %% [markdown]
# **Dose and response.** The pre-training kept snapshots at fixed training times (`--snapshot-at`, saved as
# `at-<seconds>s.pt` beside the run; the class preset keeps 3, 10 and 30 minutes of its hour). Probe each —
# frozen, mean-pooled, a logistic regression — on 30, 100 and all the training labels, each few-label count
# drawn as several label subsets, with 0 s (the random-init twin) and the finished run at the ends. Then
# fine-tune the finished model and its random twin the same way (every weight trained, same steps, same
# subsets), and set TF-IDF and the majority class beside them.
#
# **The claim, before the run:** if pre-training teaches imagery, the probe rises with pre-training time, and
# at 30 and 100 labels the pre-trained model beats its random twin with intervals apart. Probes take seconds;
# the fine-tuning runs take longest (about 20 runs).

# %%
from lmlab.models.bert.finetune import EncoderClassifier, encode_features, fine_tune_curve  # noqa: E402

s_counts = [n for n in SIZE["season_counts"] if n is None or n < len(s_train)]
s_ids, s_mask = encode_batch(zh_vocab, s_texts, cfg.block_size)
torch.manual_seed(0)
season_twin = build_encoder("bert", zh_vocab.vocab_size, zh_vocab.pad_id, **sizes)
doses = [(0.0, season_twin)] + [(t, load_bert(path)[0]) for t, path in snapshots(zh_dir)]
doses.append((zh_metrics["train_s"], zh_model))
t0 = time.perf_counter()
dose_rows = []
for seconds, encoder in doses:
    feats, _ = encode_features(EncoderClassifier(encoder, len(SEASONS)), s_ids, s_mask, device=lab.device)
    for r in few_label_curve({"probe": feats}, s_labels, s_train, s_test, s_counts,
                             n_subsets=SIZE["n_subsets"]):
        dose_rows.append({**r, "seconds": seconds})
s_tfidf = tfidf_features(s_texts, s_train, analyzer="char", ngram_range=(1, 2))
tfidf_rows = few_label_curve({"TF-IDF": s_tfidf}, s_labels, s_train, s_test, s_counts,
                             n_subsets=SIZE["n_subsets"])
print(f"probes and TF-IDF: {time.perf_counter() - t0:.0f} s")
t0 = time.perf_counter()
ft_names = ("fine-tuned", "random init")


def season_fine_tuning(out):
    ft_cfg = FineTuneConfig(steps=SIZE["ft_steps"], block_size=cfg.block_size)
    rows = fine_tune_curve(dict(zip(ft_names, (zh_model, season_twin), strict=True)), zh_vocab, s_texts,
                           s_labels, s_train, s_test, s_counts, n_subsets=SIZE["n_subsets"],
                           device=lab.device, cfg=ft_cfg)
    print(f"fine-tuning: {time.perf_counter() - t0:.0f} s")
    return {"season_ft_rows": rows}


season_sizes = {k: SIZE[k] for k in ("per_season", "season_counts", "n_subsets", "ft_steps")}
season_run = cached("07_season_finetune", {**season_sizes, "seed": 0, "pretrained": pretrained},
                    preset=lab.preset, corpus=zh_name, script=True, fit=season_fine_tuning,
                    out=work / "07_season_finetune")
order = list(dict.fromkeys(r["method"] for r in season_run.metrics["season_ft_rows"]))  # pre-trained, twin
ft_rows = [{**r, "method": ft_names[order.index(r["method"])]} for r in season_run.metrics["season_ft_rows"]]

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
counts = sorted({r["n_labels"] for r in dose_rows})
for i, n in enumerate(counts):
    own = [r for r in dose_rows if r["n_labels"] == n]
    xs = [r["seconds"] / 60 for r in own]
    ax.plot(xs, [r["accuracy"] for r in own], "o-", color=f"C{i}", label=f"probe, {n} labels")
    ax.fill_between(xs, [r["accuracy_lo"] for r in own], [r["accuracy_hi"] for r in own], color=f"C{i}",
                    alpha=0.2)
    tf = next(r for r in tfidf_rows if r["n_labels"] == n)
    ax.axhline(tf["accuracy"], color=f"C{i}", linestyle=":", linewidth=1.2)
    rnd = next(r for r in ft_rows if r["method"] == ft_names[1] and r["n_labels"] == n)
    ax.axhline(rnd["accuracy"], color=f"C{i}", linestyle="--", linewidth=1)
    ft = next(r for r in ft_rows if r["method"] == ft_names[0] and r["n_labels"] == n)
    ax.errorbar([xs[-1]], [ft["accuracy"]], yerr=[[ft["accuracy"] - ft["accuracy_lo"]],
                [ft["accuracy_hi"] - ft["accuracy"]]], fmt="*", color=f"C{i}", markersize=10, capsize=3)
ax.axhline(majority, color="0.5", linewidth=1, label="majority class")
ax.plot([], [], "k:", label="TF-IDF (same colour: same labels)")
ax.plot([], [], "k--", label="random init, fine-tuned")
ax.plot([], [], "k*", label="pre-trained, fine-tuned")
ax.set(xlabel="minutes of pre-training (0 = random weights)", ylabel="accuracy (test poems)",
       title="season from the body: linear probe vs pre-training time")
ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

from lmlab.cite import cite  # noqa: E402

print(f"majority class: {cite('season_majority', majority)}")
print("linear probe after each pre-training time, by the number of labels n [95% interval]:")
for seconds in dict.fromkeys(r["seconds"] for r in dose_rows):
    cells = [f"n={r['n_labels']}: {r['accuracy']:.2f} [{r['accuracy_lo']:.2f}, {r['accuracy_hi']:.2f}]"
             for r in dose_rows if r["seconds"] == seconds]
    print(f"{seconds / 60:6.1f} min: " + ";  ".join(cells))
for k, n in enumerate(counts):
    own = [r for r in dose_rows if r["n_labels"] == n]
    key = "all" if k == len(counts) - 1 else str(n)  # the names the prose cites: 30, 100, all
    print(f"{n:4d} labels: probe {cite(f'season_probe0_{key}', own[0]['accuracy'])} on random weights, "
          f"{cite(f'season_probe_{key}', own[-1]['accuracy'])} after {own[-1]['seconds'] / 60:.0f} min")
print(f"\nfine-tuning and TF-IDF, over {SIZE['n_subsets']} label subsets (all labels: one run, a bootstrap "
      "interval):")
print(format_curve(ft_rows + tfidf_rows))
for k, n in enumerate(counts):
    ft, rnd = (next(r for r in ft_rows if r["method"] == m and r["n_labels"] == n) for m in ft_names)
    tf = next(r for r in tfidf_rows if r["n_labels"] == n)
    key = "all" if k == len(counts) - 1 else str(n)  # the names the prose cites: 30, 100, all
    apart = ft["accuracy_lo"] > rnd["accuracy_hi"]
    print(f"{n:4d} labels: fine-tuned {cite(f'season_ft_{key}', ft['accuracy'])} "
          f"[{ft['accuracy_lo']:.2f}, {ft['accuracy_hi']:.2f}] vs random init "
          f"{cite(f'season_random_{key}', rnd['accuracy'])} "
          f"[{rnd['accuracy_lo']:.2f}, {rnd['accuracy_hi']:.2f}] "
          f"vs TF-IDF {cite(f'season_tfidf_{key}', tf['accuracy'])}: "
          + ("intervals apart: pre-training helped" if apart else "intervals overlap: not told apart here"))
seen = zh_metrics["tokens_per_sec"] * zh_metrics["train_s"]
print(f"\nthe pre-training behind these numbers: {zh_metrics['train_s'] / 60:.0f} min, "
      f"{zh_metrics['iters']:,} steps, {cite('bert_tokens_m', seen / 1e6, '{:.0f}')} M characters read "
      f"({cite('bert_passes', seen / len(load_text(zh_corpus)), '{:.1f}')} passes over the poems)")

# %% [markdown]
# **Read it against the claim**, from the lines printed above. Always answering the commonest season
# scores 0.25<!--cite:season_majority@class-->: every method must clear that. With 30 labels, fine-tuning
# the pre-trained BERT scores 0.31<!--cite:season_ft_30@class--> against its random twin's
# 0.30<!--cite:season_random_30@class--> and TF-IDF's 0.31<!--cite:season_tfidf_30@class-->; with 100
# labels, 0.35<!--cite:season_ft_100@class--> against 0.35<!--cite:season_random_100@class--> and
# 0.41<!--cite:season_tfidf_100@class-->. So the target — lmlab's own BERT above its random twin at 100
# labels or fewer, with intervals apart — is **not met** by this run: at 30 and at 100 labels the two are
# the same within their intervals, and TF-IDF, which needs no pre-training at all, is as good at 30 labels
# and better at 100. Only with all the labels does the pre-trained model pull ahead of its twin
# (0.45<!--cite:season_ft_all@class--> against 0.36<!--cite:season_random_all@class-->), and even there
# the intervals touch and TF-IDF scores 0.57<!--cite:season_tfidf_all@class-->.
#
# The probe line tells the same story more slowly. With 30 labels it goes from
# 0.29<!--cite:season_probe0_30@class--> on random weights to 0.32<!--cite:season_probe_30@class--> after
# the hour; with 100 labels from 0.31<!--cite:season_probe0_100@class--> to
# 0.34<!--cite:season_probe_100@class-->; with all of them from 0.35<!--cite:season_probe0_all@class--> to
# 0.41<!--cite:season_probe_all@class-->. It rises, a little and mostly after the first 10 minutes, but at
# 100 labels and more it stays below TF-IDF, and at 30 labels every method sits a few points above the
# majority class, within reach of one another.
#
# **What the effect needs.** This pre-training read 29<!--cite:bert_tokens_m@class--> M characters,
# 7.2<!--cite:bert_passes@class--> passes over the poems, with a 4-layer, 128-wide encoder: enough to fill
# 床前明[MASK]光 with 月 (section 4), not enough to turn 鶯 or 砧 into features that 30 labels can use.
# BERT-base read about 3.3 billion words, 40 times over, on TPUs; MiniLM (section 9) was distilled from
# such a model and then trained on about a billion sentence pairs. Section 9's scale point shows what
# that buys: read its table for where MiniLM's intervals sit above TF-IDF's and above its own random
# twin's. On two cores an hour buys the first steps of the curve, and this task is where to watch them:
# a longer prepared pre-training (`--time-budget`) should move the probe line further up.

# %% [markdown]
# ## 9 · English track: the polarity sample
#
# The same comparison on notebook 05's movie-review sentences (100 negative, 100 positive), with the
# English model pre-trained on the Wikipedia sample (lower-cased words, as the sample).

# %%
from lmlab.models.classifier import POLARITY_LABELS, load_polarity  # noqa: E402

pol_texts, pol_labels = load_polarity()
pol_texts = [t.lower() for t in pol_texts]
torch.manual_seed(0)
en_twin = build_encoder("bert", en_vocab.vocab_size, en_vocab.pad_id,
                        **{k: getattr(en_model.config, k) for k in sizes})
en_curve = learning_curve(en_model, en_vocab, pol_texts, pol_labels, random_init=en_twin,
                          fractions=(0.1, 1.0), device=lab.device,
                          cfg=FineTuneConfig(steps=SIZE["en_ft_steps"],
                                             block_size=en_model.config.block_size))
display(plot_learning_curve(en_curve["rows"], metric="accuracy", chance=0.5,
                            title=f"polarity ({' / '.join(POLARITY_LABELS)})"))

# %% [markdown]
# ### The scale point: what pre-training at scale buys
#
# lmlab's BERT read a small Wikipedia sample for a minute. **all-MiniLM-L6-v2** (shipped with lmlab, offline;
# notebook 05) is a 6-layer encoder of the same family, trained on about a billion sentence pairs. Freeze
# each, mean-pool its last layer into one vector per sentence, and fit the same logistic regression on 16, 50
# and all of the training labels, against:
#
# - **TF-IDF**: word and word-pair counts, weighted — no network;
# - **random init**: MiniLM's architecture and tokenizer with fresh random weights, frozen and probed the same
#   way — so any gap to MiniLM is what its pre-training bought, not its size or its tokenizer.
#
# **The claim, before the run:** MiniLM should beat TF-IDF and its random twin; lmlab's own short-trained
# BERT should not. Each few-label score is the mean over several random label
# subsets (the interval: a 95% t-interval over the subsets; with all labels there is one subset, and the
# interval comes from resampling the test sentences).

# %%
from lmlab.models.pretrained import load_minilm, sentence_vectors, untrained_like  # noqa: E402

minilm = load_minilm(lab.device)
t0 = time.perf_counter()
names = ("TF-IDF", "random init (MiniLM's shape)", "lmlab BERT (wiki sample)",
         "MiniLM (pre-trained at scale)")
tfidf_name, random_name, bert_name, minilm_name = names  # the table's and the figure's labels
pol_features = dict(zip(names, (tfidf_features(pol_texts, en_curve["train_idx"]),
                                sentence_vectors(untrained_like(minilm, seed=0), pol_texts),
                                en_curve["features"], sentence_vectors(minilm, pol_texts)), strict=True))
scale_rows = few_label_curve(pol_features, pol_labels, en_curve["train_idx"], en_curve["test_idx"],
                             SIZE["label_counts"], n_subsets=SIZE["n_subsets"])
print(f"{len(en_curve['test_idx'])} test sentences, {SIZE['n_subsets']} label subsets per count, "
      f"{time.perf_counter() - t0:.0f} s")
print(format_curve(scale_rows))
display(plot_label_curve(scale_rows, chance=0.5, title="polarity: frozen encoders + logistic regression"))


def _at(method, n):
    return next(r for r in scale_rows if r["method"] == method and r["n_labels"] == n)


for n in sorted({r["n_labels"] for r in scale_rows}):
    ml = _at(minilm_name, n)
    for other in (tfidf_name, random_name):
        o = _at(other, n)
        verdict = ("intervals apart: MiniLM is better" if ml["accuracy_lo"] > o["accuracy_hi"]
                   else "intervals overlap: not told apart here")
        print(f"{n:4d} labels: MiniLM {ml['accuracy']:.2f} vs {other} {o['accuracy']:.2f}: {verdict}")

# %% [markdown]
# Read the table and the last lines: where MiniLM's interval sits above TF-IDF's and above its own random
# twin, the gain is pre-training's. The random twin is the fair control: same architecture, same tokenizer,
# same probe, no pre-training. Then find lmlab's BERT, a minute on a small sample, in the same table: the
# effect needs text and compute. MiniLM was distilled from a large pre-trained model and then trained on
# about a billion sentence pairs, on accelerators.

# %% [markdown]
# ## Summary
#
# - **MLM pre-training**: pick 15%, then 80% `[MASK]` / 10% random / 10% kept; the loss counts the picked
#   positions only. Whole-word masking hides every character of a word together.
# - **BERT's layout**: post-LN blocks, segment embeddings, GELU, an MLM head tied to the input embedding —
#   lmlab's `BertForMaskedLM` equals `transformers`' to 1e-5, and `lmlab export` hands it over.
# - **Causal vs masked**: a GPT sees the left and can write; BERT sees both sides and guesses blanks better.
# - **Fine-tuning** is measured, not assumed: against random weights and a frozen linear probe, at 1%,
#   10% and 100% of the labels, with intervals. Report what you measure.
# - **Baselines first**: TF-IDF beside every classifier, a random-init twin beside every pre-trained model, a
#   control task beside every probe. Pre-training pays where the model has read far more text than the task
#   has labels (the scale point with MiniLM); an hour on two cores is not that yet (section 8b measures it).
