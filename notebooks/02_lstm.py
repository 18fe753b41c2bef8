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
# # 02 · Recurrent language models: from the gate equations to a character-level poet
#
# A language model reads text one token at a time and, after each one, guesses the next. A **recurrent**
# network does this with a fixed-size memory, the hidden state $h_t$, that it rewrites at every step.
# In this notebook you will
#
# 1. write the plain RNN recurrence and see **why its gradients vanish**,
# 2. build the **LSTM** from its six equations and prove it computes what `torch.nn.LSTM` computes,
# 3. train a character-level LSTM on **tiny Shakespeare** (truncated back-propagation through time),
#    and one on **Tang poems** that writes well-formed five- and seven-character lines,
# 4. **look inside**: gates, cell states, a single neuron that tracks something, the path of $h_t$.
#
# Everything is sized by the preset (`smoke` runs in seconds, `class` trains each model for ≤ 5 minutes
# on a laptop CPU, `full` is for a GPU).

# %%
from lmlab.notebook import setup

lab = setup()

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
# ## 1 · The RNN recurrence
#
# A recurrent cell combines the current input $x_t$ with its previous state $h_{t-1}$:
#
# $$h_t = \tanh(W x_t + U h_{t-1} + b)$$
#
# The same $W$, $U$, $b$ are used at every step: that is what lets one small network read text of any
# length. lmlab's `RNNCell` is exactly this line (`lmlab/models/lstm/cells.py`):

# %%
print(inspect.getsource(L.RNNCell.forward))

# %% [markdown]
# Run it over a sequence by hand, and check it against PyTorch's own `nn.RNN` holding the same weights:

# %%
torch.manual_seed(0)
rnn = nn.RNN(input_size=3, hidden_size=4, batch_first=True)
cell = L.RNNCell(3, 4).copy_from_torch(rnn)

x = torch.randn(2, 6, 3)                # (B, T, C): 2 sequences of 6 steps
h = torch.zeros(2, 4)                   # h_0
for t in range(x.shape[1]):
    h = cell(x[:, t], h)                # h_t = tanh(W x_t + U h_{t-1} + b)

torch_out, _ = rnn(x)
print("largest difference from nn.RNN:", (h - torch_out[:, -1]).abs().max().item())

# %% [markdown]
# ## 2 · Why gradients vanish
#
# To learn that a word 50 characters ago matters now, the loss at step $T$ must send a gradient back to
# $x_{T-k}$. By the chain rule it passes through every step in between:
#
# $$\frac{\partial h_T}{\partial h_{T-k}} = \prod_{s=T-k+1}^{T} \operatorname{diag}(1 - h_s^2)\, U$$
#
# A product of $k$ matrices: when their typical size is below 1 it shrinks geometrically (vanishing
# gradients), above 1 it blows up (exploding gradients, which training tames by **clipping** the
# gradient norm). We measure $\lVert \partial h_T / \partial x_{T-k} \rVert$ for freshly initialised
# networks, $k$ steps back:

# %%
curves = analysis.rnn_vs_lstm(steps=100, hidden=64, forget_biases=(0.0, 1.0, 3.0))
fig = viz.plot_gradient_decay(curves, title="gradient reaching k steps back (log scale)")
fig

# %% [markdown]
# The RNN's gradient falls by many orders of magnitude within 20 steps. An LSTM whose forget gate starts
# half-open (bias 0, $f \approx 0.5$) forgets about as fast; biasing the forget gate open — the usual
# initialisation, and lmlab's (bias 1) — lets gradients reach much further back, and a larger bias
# further still. Why the forget gate decides this is the next section.

# %% [markdown]
# ## 3 · The LSTM, from its equations
#
# The LSTM adds a second state, the **cell state** $c_t$, which is changed only by element-wise
# gating: no matrix multiplication and no squashing on the path from $c_{t-1}$ to $c_t$.
# With $\sigma$ the logistic sigmoid and $\odot$ the element-wise product:
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
# Read the indices: every gate looks at the **current input $x_t$** and the **previous hidden state
# $h_{t-1}$**. No gate reads itself (a formula like $i_t = \sigma(W_x\, i_t + \dots)$, printed in more
# than one tutorial, is circular and wrong), and none reads $h_t$, which does not exist yet.
#
# Along the direct cell path, $c_{t-1} \to c_t$, $\partial c_t / \partial c_{t-1} = \operatorname{diag}(f_t)$:
# on that path the gradient is multiplied by the forget gate and nothing else. (The full derivative has
# further terms, because the gates themselves read $h_{t-1} = o_{t-1} \odot \tanh(c_{t-1})$; those go
# through matrices and squashing like the RNN's, and it is the direct path that carries gradients far.)
# With $f_t$ near 1 it survives many steps — the figure above. Here are the six equations as lmlab writes
# them:

# %%
print(inspect.getsource(L.LSTMCell.forward))

# %% [markdown]
# **Exercise 1 — the forget gate's memory.** Suppose the input gate is closed ($i_t = 0$) and the forget gate
# holds a constant value $f$. After how many steps is half of the cell's content left? Write
# `half_life(f)` (a real number of steps).

# %%
def half_life(f):
    ...  # your code


check("lstm.half_life", half_life)

# %% [markdown]
# A quick check of the same idea: on the direct path, with $f_t = 0.9$ at every step, what share of the
# gradient on $c_t$ reaches $c_{t-10}$? (A number.)

# %%
direct_path_share = ...  # your answer
check("lstm.direct_path_share", direct_path_share)

# %% [markdown]
# ### The proof: the same numbers as `torch.nn.LSTM`
#
# `torch.nn.LSTM` stacks the four gates' weights in one matrix, rows in the order $i, f, g, o$, and keeps
# two bias vectors ($b_{ih} + b_{hh}$). `ScratchLSTM.from_torch` copies them into our per-gate
# $W$, $U$, $b$. If we have the equations right, both give the same outputs and final states — to
# floating-point rounding — for a 2-layer network over a whole sequence:

# %%
torch.manual_seed(1)
reference = nn.LSTM(input_size=8, hidden_size=16, num_layers=2, batch_first=True)
scratch = L.ScratchLSTM.from_torch(reference)

x = torch.randn(4, 30, 8)                                       # (B, T, C)
state = (torch.randn(2, 4, 16), torch.randn(2, 4, 16))          # (h_0, c_0), each (layers, B, H)
out_ref, (h_ref, c_ref) = reference(x, state)
out, (h_s, c_s) = scratch(x, state)
diff = max((out - out_ref).abs().max(), (h_s - h_ref).abs().max(), (c_s - c_ref).abs().max()).item()
print(f"largest difference from torch.nn.LSTM: {diff:.2e}")
assert diff <= 1e-5

# %% [markdown]
# The fast `nn.LSTM` (cuDNN on a GPU, fused kernels on a CPU) is what we train with; the from-scratch
# version, holding the trained weights, is what we use to look inside.

# %% [markdown]
# **Exercise 2 — one LSTM step.** Write `lstm_step(x, h_prev, c_prev, W, U, b)` with the four gates' weights
# stacked as PyTorch stores them: `W` is $(4H, C)$, `U` is $(4H, H)$, `b` is $(4H)$, rows in the order
# $i, f, g, o$. Return `(h_t, c_t)`. The check compares with `torch.nn.LSTMCell` and recognises the
# common slips.

# %%
def lstm_step(x, h_prev, c_prev, W, U, b):
    ...  # your code: z = ..., then i, f, g, o, then c_t and h_t


check("lstm.step", lstm_step)

# %% [markdown]
# **Exercise 3 — counting parameters.** How many parameters does `torch.nn.LSTM(C, H)` (one layer) have?
# Write `param_count(C, H)`.

# %%
def param_count(C, H):
    ...  # your code


check("lstm.param_count", param_count)

# %% [markdown]
# ## 4 · A character-level language model
#
# The model: embed each character, run a 2-layer `nn.LSTM`, apply dropout, and map $h_t$ to a score for
# every character. When the embedding and hidden sizes are equal, the output layer **shares its matrix
# with the embedding** (weight tying), which saves parameters and usually helps.
#
# **Truncated back-propagation through time.** The corpus is cut into $B$ long streams laid side by side.
# Each step reads the next $T$ characters of every stream, starting from the $(h, c)$ the previous step
# ended with, so the model carries context across the whole text; the state is *detached* first, so
# gradients flow back only $T$ steps:
#
# ```
# stream 0: [ chunk 0 | chunk 1 | chunk 2 | ... ]
# stream 1: [ chunk 0 | chunk 1 | chunk 2 | ... ]     step c reads column c, shape (B, T)
# ```
#
# The loss is the mean cross-entropy in nats per character. Two friendlier readings of it:
#
# $$\text{perplexity} = e^{\text{loss}}, \qquad \text{bits per character} = \text{loss} / \ln 2$$

# %%
from lmlab.data import load_text_or_fallback, train_val_split

text, corpus = load_text_or_fallback("tiny_shakespeare")
train_text, val_text = train_val_split(text, 0.9)
print(f"{corpus}: {len(train_text):,} training / {len(val_text):,} validation characters")
print(val_text[:200])

# %% [markdown]
# The preset decides the size and the training time. The `class` preset trains a 2-layer, 256-unit LSTM
# against a **time budget**: the learning rate warms up, then follows a cosine curve over the budget,
# so the run ends annealed whenever the clock runs out.

# %%
config = L.preset_config(lab.preset, device=lab.device.type, corpus=corpus)
{k: getattr(config, k) for k in ("n_layer", "hidden", "block_size", "batch_size", "max_iters", "lr",
                                 "dropout", "time_budget_s")}

# %% [markdown]
# A teacher may have trained this model ahead of the lesson (`lmlab prepare`): then the next cell loads it
# (a run of exactly this configuration), shows the figure recorded when it was trained, and says so. The
# environment variable `LMLAB_RETRAIN=1` (or `=02_lstm_shakespeare`) trains it here instead.

# %%
from lmlab.prepared import cached
from lmlab.train.engine import train

run = cached("02_lstm_shakespeare", config, preset=lab.preset, corpus=corpus,
             fit=lambda out: train(L.LSTMRecipe(config, train_text, val_text=val_text), out=out,
                                   device=lab.device, live=True, progress=False),
             load=lambda prep: L.load_run(prep.path, metrics=prep.metrics))
m = run.metrics
print(f"{m['iters']} iterations in {m['train_s']:.1f} s of training, {m['tokens_per_sec']:,.0f} characters/s")
print(f"validation: {m['val_loss']:.3f} nats/char = {m['val_bpc']:.3f} bits/char, "
      f"perplexity {m['val_perplexity']:.2f}  ({m['params']:,} parameters)")
from lmlab.cite import cite  # noqa: E402

V = run.tokenizer.vocab_size
print(f"a uniform guess over {cite('vocab', V, '{}')} characters: ln {V} = "
      f"{cite('uniform_nats', math.log(V))} nats; the model has {cite('lstm_params_m', m['params'] / 1e6)} M "
      "parameters")

# %% [markdown]
# For reference: a uniform guess over 65<!--cite:vocab@class--> characters scores $\ln 65 \approx$
# 4.17<!--cite:uniform_nats@class--> nats. The `class` preset's 2-layer, 256-unit LSTM
# (1.07<!--cite:lstm_params_m@class--> M parameters) aims at ≤ 1.55 nats/char on tiny Shakespeare within 5
# minutes of training; how many steps fit in that time depends on your CPU. In one measurement the same
# configuration reached 1.84 after 300 steps, 1.54 after 1,200 and 1.50 after 1,800 steps (3.7 M
# characters). The checkpoint in `runs/02_lstm_shakespeare/ckpt.pt` also works from a terminal:
# `lmlab sample runs/02_lstm_shakespeare --prompt "ROMEO:" --temperature 0.8`.

# %% [markdown]
# **Against the counts.** A uniform guess is the floor of knowing nothing; the simplest model that knows
# something is a table of counts: which character follows the previous one (bigram) or two (trigram),
# Kneser–Ney smoothed (`lmlab.models.ngram`), counted on the same training text. The claim: the trained
# LSTM ends below the trigram, because its cell state carries more than two characters of context. All
# three are scored on the same validation windows, with 95 % bootstrap intervals over the windows.

# %%
from lmlab.eval.language_model import score_against_counts  # noqa: E402
from lmlab.models.ngram import KneserNey  # noqa: E402

val_ids = torch.tensor(run.tokenizer.encode(val_text), dtype=torch.long)
train_ids = run.tokenizer.encode(train_text)
block, n_windows = 64, 300  # windows of 64 characters, each read from a fresh state
device = next(run.model.parameters()).device
counts = {f"{n}-gram": KneserNey.fit(train_ids, V, n=n) for n in (2, 3)}  # the bigram and the trigram
scores = score_against_counts(run.model, counts, val_ids, block, n_windows, name="LSTM", device=device)
print(scores.report(below="3-gram", vocab_size=V, unit="nats/char"))

# %% [markdown]
# ## 5 · Sampling
#
# Generation feeds each sampled character back in, carrying $(h, c)$. The **temperature** $\tau$ divides
# the scores before the softmax, $p_i \propto e^{z_i / \tau}$: below 1 the model plays safe, above 1
# it takes risks. **top-k** keeps only the $k$ most likely characters; **top-p** the smallest set whose
# probability adds up to $p$.

# %%
prime = "ROMEO:\n" if corpus == "tiny_shakespeare" else val_text[:20]
for temperature in (0.5, 1.0):
    print(f"--- temperature {temperature}")
    print(L.generate(run.model, run.tokenizer, prime, 200, temperature=temperature, seed=0))
print("--- temperature 0.8, top-p 0.9")
print(L.generate(run.model, run.tokenizer, prime, 200, temperature=0.8, top_p=0.9, seed=0))

# %% [markdown]
# ## 6 · A Tang poet
#
# The same model, trained on regular Tang poems: 五言 and 七言 quatrains and regulated verse, each couplet
# on one line (`床前明月光，疑是地上霜。`). We keep only poems written in the 3,000 most common characters,
# so the output layer stays small. (Without the corpus — the `smoke` preset in CI — 18 famous quatrains
# stand in, far too few to learn from.)

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
print(f"{poems_name}: {poems.count(chr(10) * 2) + 1:,} poems, {len(poems):,} characters, "
      f"{len(set(poems)):,} distinct")
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
print(f"validation: {poet.metrics['val_loss']:.3f} nats/char after {poet.metrics['train_s']:.1f} s")
poem_val_ids = torch.tensor(poet.tokenizer.encode(poem_val), dtype=torch.long)
poem_block = min(block, len(poem_val_ids) - 1)
poem_counts = {"2-gram": KneserNey.fit(poet.tokenizer.encode(poem_train), poet.tokenizer.vocab_size, n=2)}
poem_scores = score_against_counts(poet.model, poem_counts, poem_val_ids, poem_block, n_windows, name="LSTM",
                                   device=next(poet.model.parameters()).device)
print(poem_scores.report(below="2-gram", unit="nats/char"))  # the claim: the poet beats the bigram counts

# %% [markdown]
# Free sampling would let the model decide where lines end, and an undertrained model miscounts. The
# poem mode fixes the **form** and lets the model choose only the **words**: inside a line the sampler
# may pick only Chinese characters, and the `，` and `。` that close the lines are placed, not sampled.
# Every line has exactly five (or seven) characters; `heads` writes an acrostic (藏頭詩).

# %%
print(L.generate_poem(poet.model, poet.tokenizer, chars_per_line=5, n_lines=4, seed=1), "\n")
print(L.generate_poem(poet.model, poet.tokenizer, chars_per_line=7, n_lines=4, seed=2), "\n")
print(L.generate_poem(poet.model, poet.tokenizer, chars_per_line=5, n_lines=4, heads="春江花月", seed=3))

# %% [markdown]
# ## 7 · Looking inside
#
# We give the trained Shakespeare model's weights to the from-scratch LSTM and let it read a passage,
# keeping every gate of every step. Each heatmap row is one unit, each column one character.

# %% [markdown]
# **Predict, then run.** Exercise 1 gave the half-life of the cell's content for a constant forget gate. For
# a typical unit of the trained model's last layer (the median unit), reading this passage: after how many
# characters is half of what its cell held forgotten? Commit to an answer before you run the next cells; a
# check after the measurement says what happened and why.
#
# - `"a"`: more than 100 characters: the cell state remembers the whole passage
# - `"b"`: between 10 and 100 characters
# - `"c"`: fewer than 10 characters

# %%
prediction = ...  # one of "a", "b", "c"

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

mean_forget = layer["forget_gate"].mean(axis=0)  # f̄ of every unit over the passage: (H,)
half_lives = np.log(0.5) / np.log(np.clip(mean_forget, 1e-6, 1 - 1e-9))
print(f"half-life of the cell's content, over the {len(half_lives)} units: "
      f"median {np.median(half_lives):.1f} characters, longest {half_lives.max():.1f}")
check("lstm.predict_memory", prediction, measured=mean_forget)

# %% [markdown]
# Every figure here can be saved for slides or print with `viz.save(fig, "name.png")` (or `.svg`), as
# above. Some units keep their forget gate near 1 for long stretches (they remember); others reset at spaces
# or line breaks. Can one unit track something we can name? We correlate every cell-state unit with
# **the position in the line** (characters since the last newline) and show the best one colouring the
# text it reads:

# %%
position = analysis.line_position(passage)
unit, r = analysis.find_neuron(layer["cell_state"], position)
print(f"cell unit {unit} of layer {last}: correlation with line position r = {r:+.2f}")
display(HTML(viz.text_heat_html(passage[:300], layer["cell_state"][:300, unit])))

# %%
viz.plot_text_heat(passage[:300], layer["cell_state"][:300, unit], width=48,
                    title=f"cell unit {unit}: red = positive, blue = negative")

# %% [markdown]
# (With the `smoke` preset the model has barely trained: a unit that merely counts characters can
# correlate with line position too, so look at the colours. A `class` model has units that reset at
# each newline — we found one with $r = 0.86$ over 2,000 characters — and others that mark capitals.)
# Last, the hidden state's path through its two main directions
# (PCA) while the model reads the opening of the passage:

# %%
viz.plot_pca_trajectory(layer["hidden_state"][:120], passage[:120])

# %% [markdown]
# And what the model expects after each character: its five best guesses, darker = more probable.

# %%
viz.plot_next_char_probs(passage, inside["probs"][0], run.tokenizer.itos, top=5, max_chars=40)

# %% [markdown]
# The same view works for the poet. Chinese labels render with the CJK font that `lmlab.viz.style` sets up:

# %%
poem = poem_val.strip().split("\n\n")[-1][:40]  # the last poem of the split is whole
poet_inside = analysis.internals(poet.model, poet.tokenizer, poem)
poet_layer = {k: v[-1] for k, v in poet_inside.items() if k != "probs"}
viz.plot_gates(poem, poet_layer, units=range(8), names=("forget_gate", "cell_state"))

# %% [markdown]
# **Going further.** Train on the word level: `lmlab train lstm --corpus tiny_shakespeare --tokenizer word
# --out runs/lstm_words` and compare **bits per character** (not perplexity: the vocabularies differ).
# Try `block_size=8` in the preset config: how does a short truncation window change the final loss?
