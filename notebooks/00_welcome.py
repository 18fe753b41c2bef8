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
# # 00 · Welcome to lmlab
#
# lmlab is a lab for learning how language models work by building and training them: word vectors,
# an LSTM, a Transformer, and a look inside attention. Every notebook starts with the same line, which
# picks the device, the numerics and the **preset** (how big everything is), and sets up the figures.

# %%
from lmlab.notebook import setup

lab = setup()
lab

# %% [markdown]
# ## What the lab holds
#
# | notebook | you learn | you train |
# |---|---|---|
# | `00_welcome` | the lab: presets, offline data, live training views, exercises | a bigram model |
# | `01_word2vec` | skip-gram and CBOW, negative sampling, analogies, an embedding projector | word vectors |
# | `02_lstm` | the RNN recurrence, vanishing gradients, LSTM gates from their equations | a poet |
# | `03_transformer` | attention from its formula, causal mask, multi-head, positions, BPE | a small GPT |
# | `04_attention` | what heads do, with bertviz views (offline) and lmlab's own | — |
# | `05_scaling` | data parallelism, mixed precision, distillation, fine-tuning | a distilled student |
#
# Below the notebooks sits a small Python package, `lmlab`, that does the plumbing (data, the training
# loop, checkpoints, figures) so the notebooks can show the ideas. Each model is a short module one
# click away: `lmlab/models/...`.
#
# ## Your machine: `lmlab doctor`
#
# The same report you get from `lmlab doctor` in a terminal: versions, device, preset, which corpora
# are available offline, the CJK font used for Chinese labels.

# %%
from lmlab.cli import main as lmlab_cli

exit_code = lmlab_cli(["doctor"])

# %% [markdown]
# ## Presets: one notebook, three sizes
#
# | preset | for | size |
# |---|---|---|
# | `smoke` | a first look, CI | seconds per notebook |
# | `class` | a 2-core laptop CPU | each training ≤ 5 minutes, still meaningful |
# | `full` | a GPU | results like the papers' small models |
#
# The default comes from the device (`full` on CUDA, `class` elsewhere). To switch, either start the lab
# with the variable set — `LMLAB_PRESET=smoke lmlab lab` — or pass it here: `lab = setup(preset="smoke")`.
# Every notebook sizes its models from `lab.preset` through a small table like this one:

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
# ## Data, also without a network
#
# Corpora are looked up in an offline mirror (`$LMLAB_DATA_DIR`), then in a local cache, and only then
# downloaded (https, checked against a sha256). To prepare a classroom with no internet, run once on a
# connected machine
#
#     lmlab data fetch --all
#
# and copy the cache folder (or point `LMLAB_DATA_DIR` at a USB stick). `lmlab prepare --dest DIR` trains
# ahead, into the same folder, every model the notebooks train, so a lesson loads them instead of waiting
# (each training cell says when it loaded a prepared run). When a corpus is not there, the
# notebooks fall back to a built-in English corpus and **say so** — you never get a traceback for it.

# %%
from lmlab.data import load_text_or_fallback

text, corpus = load_text_or_fallback("tiny_shakespeare")
text = text[: cfg["max_chars"]]
print(f"corpus: {corpus}, using {len(text):,} characters")
print(text[:300])

# %% [markdown]
# ## A training session you can interrupt
#
# Every model in the lab trains through one engine: a model brings a **recipe** (its batches, its loss,
# its learning rate, its optimizer) and `train` / `start` do the rest (the loop, the clocks, the live
# view, checkpoints, resuming). To see it, here is the smallest language model there is: a **bigram**
# model, one table $W \in \mathbb{R}^{V \times V}$ whose row $W_{a}$ holds the
# scores (logits) of every character that may follow character $a$:
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
        self.W = torch.nn.Parameter(torch.zeros(V, V))  # logits of next char given this char: (V, V)


class BigramRecipe(Recipe):
    kind = "bigram"

    def build(self):
        return Bigram()

    def optimizer(self, model, device_type):
        return torch.optim.Adam(model.parameters())

    def lr(self, it, train_s):
        return 0.3  # the same at every step

    def batch(self, it, generator, micro, device):  # batch t drawn with the seed (1337, t)
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
# Run the next cell. The figure below it is **one** small PNG redrawn in place (loss, learning rate,
# tokens per second), with a line of numbers and a text sample. Press **■ / Interrupt the kernel** while it
# trains: the step in progress finishes, the model, optimizer and history are kept. Running
# `run.fit()` again continues from that iteration, and the loss curve is the same one an
# uninterrupted run would have drawn, because batch $t$ is always drawn with the seed $(1337, t)$.

# %%
settings = SimpleNamespace(max_iters=cfg["max_iters"], seed=1337, eval_interval=max(1, cfg["max_iters"] // 4))
run = start(BigramRecipe(settings), live=LiveView(title="bigram", every_s=0.5))
run.fit()
W = run.model.W  # the trained table
print(f"stopped at iteration {run.next_iter}; {run.metrics['tokens_per_sec']:,.0f} tokens/s")

# %% [markdown]
# The history is plain data — a list of dicts, one per logged step — so it goes straight into a table
# or a checkpoint:

# %%
run.history.records[-3:]

# %% [markdown]
# ## Exercises: `check(...)`
#
# Exercises leave a `...` for you to fill in; `check("name", answer)` runs hidden tests and tells you
# what was expected and where your answer differs (never a bare "wrong"). `hint("name")` gives a nudge.
#
# **Exercise 1.** Before training, a model that knows nothing gives every one of the $V$ characters
# probability $1/V$. What is its loss $\mathcal{L}$? Write `uniform_loss(V)`.

# %%
import math

from lmlab.exercises import check, hint


def uniform_loss(V):
    return ...  # your code: the cross-entropy of a uniform guess over V symbols


check("welcome.uniform_loss", uniform_loss)

# %% [markdown]
# Compare your number with the first logged loss above: training starts from $\ln V$ nats.

# %%
first_loss = run.history.records[0]["train_loss"]
print(f"ln V = {math.log(V):.3f} nats; first logged train loss: {first_loss:.3f}")

# %% [markdown]
# That is the start. Where can this model end? A bigram table has an exact answer that needs no training at
# all: **count** how often each character follows each other one and turn the counts into probabilities
# (adding 1 to every count, so no pair gets probability 0). Gradient descent on $W$ should creep towards that
# counted table; the gap left is what more steps could still gain. Both are scored on the batch `evaluate()`
# uses, with a 95 % bootstrap interval over its 64 rows.

# %%
from lmlab.eval.bootstrap import bootstrap_mean

counts = torch.ones(V, V)  # add-one: every pair counted once more than seen
counts.index_put_((data[:-1], data[1:]), torch.ones(len(data) - 1), accumulate=True)
log_p = (counts / counts.sum(1, keepdim=True)).log()  # (V, V) log p(b | a)
x, y = iteration_batch(data, 10**9, seed=7, batch_size=64, block_size=cfg["block_size"])  # evaluate()'s batch
with torch.no_grad():
    learned = F.cross_entropy(W[x].view(-1, V), y.view(-1), reduction="none").view(64, -1).mean(1)
counted = -log_p[x, y].mean(1)  # (64,) loss per row
for name, rows in (("trained W", learned), ("counted table", counted)):
    lo, hi = bootstrap_mean(rows.tolist())
    print(f"{name:14} {rows.mean():.3f} nats, 95% interval {lo:.3f} .. {hi:.3f}")
print(f"{'uniform guess':14} {math.log(V):.3f} nats")

# %% [markdown]
# **Exercise 2.** Papers report character models in *bits per character*: the same loss with $\log_2$
# in place of $\ln$. Write `bits_per_char(loss_nats)`.

# %%
def bits_per_char(loss_nats):
    ...  # your code


check("welcome.bits_per_char", bits_per_char)
hint("welcome.bits_per_char")

# %% [markdown]
# ## A worked example, checked: one forward pass and its cross-entropy
#
# A tutorial this lab's students may have read works one example through a network with 2 inputs, 2
# ReLU hidden units and 2 output classes, and finds a cross-entropy of about $-0.415$. That cannot be
# right, and the steps show why. The numbers: $W_1 = \begin{pmatrix}0.1 & 0.2\\ 0.3 & 0.4\end{pmatrix}$,
# $b_1 = (0.5, 0.6)$, $W_2 = \begin{pmatrix}0.7 & 0.8\\ 0.9 & 1.0\end{pmatrix}$, $b_2 = (0.1, 0.2)$,
# $x = (0.5, 0.6)$, and the target class $t = 1$ (PyTorch numbers the classes 0 and 1, so the second):
#
# $$h = \operatorname{ReLU}(W_1 x + b_1),\qquad z = W_2 h + b_2,\qquad
#   \mathcal{L} = -\log \frac{e^{z_t}}{e^{z_0} + e^{z_1}}.$$
#
# By hand: $W_1 x = (0.1\cdot0.5 + 0.2\cdot0.6,\ 0.3\cdot0.5 + 0.4\cdot0.6) = (0.17, 0.39)$, so
# $h = (0.67, 0.99)$ (both positive: ReLU keeps them), not $(0.8, 1.0)$. Then
# $z = (0.7\cdot0.67 + 0.8\cdot0.99 + 0.1,\ 0.9\cdot0.67 + 1.0\cdot0.99 + 0.2) = (1.361, 1.793)$,
# not $(1.3, 1.5)$. The tutorial's loss then adds $b_2$ a second time inside the exponentials, and puts
# $e^{1.4}$ on top, which is not one of the two terms below it: a softmax's numerator is always one term
# of its own denominator. Here is the same computation in torch, and the right loss:

# %%
W1 = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
b1 = torch.tensor([0.5, 0.6])
W2 = torch.tensor([[0.7, 0.8], [0.9, 1.0]])
b2 = torch.tensor([0.1, 0.2])
x = torch.tensor([0.5, 0.6])
t = 1
h = torch.relu(W1 @ x + b1)  # hidden layer: (2,)
z = W2 @ h + b2  # logits: (2,), no ReLU on the output, the softmax comes next
p = torch.softmax(z, dim=-1)
print(f"h = {[round(v, 3) for v in h.tolist()]}, z = {[round(v, 3) for v in z.tolist()]}")
print(f"the tutorial's own expression, -log(e^1.4 / (e^1.5 + e^1.7)) = "
      f"{-math.log(math.exp(1.4) / (math.exp(1.5) + math.exp(1.7))):.3f}: positive as well")

# %% [markdown]
# **Why a cross-entropy is never negative.** Every term $e^{z_j}$ is positive, so the softmax's
# $p_t = e^{z_t} / \sum_j e^{z_j}$ is a positive number with its own term in the sum below it:
# $0 < p_t \le 1$. The logarithm of a number in $(0, 1]$ is $\le 0$, so $\mathcal{L} = -\log p_t \ge 0$,
# with $0$ only when the model puts all its probability on the right class. A negative loss always means
# a slip in the arithmetic.
# (With $t = 0$, the first class, the loss is $-\log p_0 = -\log$ 0.3936<!--cite:worked_p0--> =
# 0.932<!--cite:worked_loss_t0-->; also positive.)
#
# **Exercise 3.** What is the loss for $t = 1$ to three decimals? Work it out from $z$ on paper (or with
# `math.exp` and `math.log`), then check it; the cell after the check computes it.

# %%
worked_loss = ...  # your answer: a number
check("welcome.worked_loss", worked_loss)

# %%
from lmlab.cite import cite

p = torch.softmax(z, dim=-1)
print(f"p = {[round(v, 4) for v in p.tolist()]}; cross-entropy -log p[t] = {-torch.log(p[t]).item():.4f}; "
      f"F.cross_entropy agrees: {F.cross_entropy(z[None], torch.tensor([t])).item():.4f}")
print(f"for t = 0: -log {cite('worked_p0', p[0].item(), '{:.4f}')} = "
      f"{cite('worked_loss_t0', -torch.log(p[0]).item(), '{:.3f}')}")

# %% [markdown]
# **Teachers:** the reference solutions are not in the notebooks; they live beside the hidden tests in
# `lmlab/exercises/<topic>.py`. Start the lab with `LMLAB_TEACHER=1` and this cell prints one (for a
# student it only says where solutions are). `lmlab site --teacher` renders every notebook, executed, with
# the solutions shown, as offline HTML pages; `lmlab site` makes the student version.

# %%
from lmlab.exercises import solution

_ = solution("welcome.uniform_loss")  # prints the source for teachers

# %% [markdown]
# ## Try it: temperature
#
# Sampling divides the logits by a temperature $\tau$ before the softmax,
# $p_b \propto \exp(W_{a,b}/\tau)$: small $\tau$ sharpens the distribution, large $\tau$ flattens it.

# %% [markdown]
# **Predict, then run.** When τ goes from 0.5 to 2, does the most likely character after `e` change? Commit
# to an answer before you run the next cells; a check after the measurement says what happened and why.
#
# - `"a"`: yes: a low temperature picks a different, better character
# - `"b"`: no: every temperature keeps the same order, only the spread changes

# %%
prediction = ...  # one of "a", "b"

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt

after = "e" if "e" in text else text[0]
row = W[tok.encode(after)[0]].detach()  # logits of the character after `after`: (V,)
top = torch.topk(row, 12).indices
labels = [repr(tok.decode([int(i)]))[1:-1] for i in top]

fig, axes = plt.subplots(1, 3, figsize=(10, 2.4), sharey=True)
for ax, tau in zip(axes, (0.5, 1.0, 2.0), strict=True):
    ax.bar(labels, torch.softmax(row / tau, dim=-1)[top])
    ax.set(title=f"τ = {tau}", ylim=(0, 1))
axes[0].set_ylabel(f"p(next | {after!r})")
plt.show()

# %%
def order(tau):
    return torch.argsort(row / tau, descending=True, stable=True)  # characters, most likely first


same_order = all(torch.equal(order(tau), order(1.0)) for tau in (0.5, 2.0))
print(f"most likely after {after!r}: τ = 0.5 → {tok.decode([int(order(0.5)[0])])!r}, "
      f"τ = 2 → {tok.decode([int(order(2.0)[0])])!r}; the same order at every τ: {same_order}")
check("welcome.predict_temperature", prediction, measured=same_order)

# %% [markdown]
# Now move the slider yourself (it needs a running kernel):

# %%
def show_temperature(tau=1.0):
    probs = torch.softmax(row / tau, dim=-1)[top]
    fig, ax = plt.subplots(figsize=(6, 2.4))
    ax.bar(labels, probs)
    ax.set(title=f"p(next char | {after!r}), τ = {tau:.2f}", ylabel="probability", ylim=(0, 1))
    plt.show()


slider = widgets.FloatSlider(value=1.0, min=0.1, max=3.0, step=0.1, description="τ")
_ = widgets.interact(show_temperature, tau=slider)

# %% [markdown]
# ## Figures speak Chinese too
#
# Tang poems appear in notebooks 01–03. Chinese labels render without any font setup (an installed CJK
# font, or the Noto Sans CJK file the `mplfonts` package ships).
#
# **Figures for slides.** Everything a notebook draws saves in one call, the file name choosing the format:
#
#     from lmlab.viz import save
#     save(fig, "poem.png")              # any figure: .png, .svg or .pdf
#     save(view, "heads.html")           # attention views (04) and the projector (01): also .html
#     save(frames, "training.gif")       # a list of figures or an animation: .gif, or .mp4 for slides
#
# Two animations are ready-made: how one attention head forms while a GPT trains
# (`lmlab.viz.attention.AttentionRecorder`, passed as the trainer's `live=`, then `recorder.save("head.mp4")`)
# and how the word map forms while word2vec trains (`evolution_gif(snapshots, words, "words.mp4")` in 01).
# MP4 uses the ffmpeg that the `imageio-ffmpeg` package ships, so no system ffmpeg is needed.

# %%
poem = "床前明月光疑是地上霜举头望明月低头思故乡"
counts = {ch: poem.count(ch) for ch in dict.fromkeys(poem)}
fig, ax = plt.subplots(figsize=(7, 2.2))
ax.bar(list(counts), list(counts.values()))
ax.set(title="《静夜思》 character counts", ylabel="count")
plt.show()

# %% [markdown]
# ## Where next
#
# Open `01_word2vec` to learn word vectors from co-occurrence, or jump to `03_transformer` to build a GPT.
# In a terminal, `lmlab --help` lists the same tools as commands (train, sample, viz, data, doctor).
