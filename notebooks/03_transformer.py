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
# # 03 · The Transformer: from softmax(QKᵀ/√d_k)V to a GPT you train
#
# An LSTM (notebook 02) reads a text one character at a time and squeezes everything it has seen into
# one state vector. A Transformer lets **every position look at every earlier position directly**, and
# decides *how much* to look with one formula:
#
# > $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V$$
# >
# > — Vaswani et al., *Attention Is All You Need* (2017), eq. 1
#
# We compute it by hand on four tokens, add the causal mask, split it into heads, give the tokens
# positions, stack the pieces into a GPT, train it on Shakespeare and on Tang poems, sample from it,
# look at its attention, and race it against the LSTM. The model code is short and one click away:
# `lmlab/models/transformer/attention.py` and `model.py`.

# %%
from lmlab.notebook import setup

lab = setup()

# %%
import math
import time
from dataclasses import replace

import matplotlib.pyplot as plt
import torch

from lmlab.exercises import check
from lmlab.viz.style import use_lab_style

use_lab_style()
torch.set_printoptions(precision=3, sci_mode=False)


def show_matrices(mats, titles, rows=None, cols=None):
    """Small heatmaps with the numbers written in, side by side."""
    fig, axes = plt.subplots(1, len(mats), figsize=(2.3 * len(mats), 2.4), dpi=80, layout="constrained")
    for ax, m, title in zip(axes, mats, titles, strict=True):
        m = m.detach().float()
        finite = m[torch.isfinite(m)]
        top = finite.abs().max().item()
        signed = finite.min().item() < 0
        ax.imshow(m.masked_fill(~torch.isfinite(m), float("nan")), cmap="RdBu_r" if signed else "Blues",
                  vmin=-top if signed else 0, vmax=top)
        for (i, j), value in zip(torch.cartesian_prod(torch.arange(m.shape[0]), torch.arange(m.shape[1])),
                                 m.flatten(), strict=True):
            if math.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7)
            else:
                ax.text(j, i, "-∞", ha="center", va="center", fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_yticks(range(m.shape[0]), rows if rows and len(rows) == m.shape[0] else None)
        ax.set_xticks(range(m.shape[1]), cols if cols and len(cols) == m.shape[1] else None)
    plt.show()


# %% [markdown]
# ## 1 · Attention by hand, on four tokens
#
# Four tokens, each already turned into a vector of $d_{model}=6$ numbers (rows of $X$). Three learned
# matrices turn each token into a **query** (what am I looking for?), a **key** (what do I offer?) and
# a **value** (what do I pass on if chosen):
#
# $$Q = XW_q,\quad K = XW_k,\quad V = XW_v \qquad (4 \times d_k,\ d_k = 4)$$

# %%
tokens = ["the", "cat", "sat", "down"]
g = torch.Generator().manual_seed(0)
d_model, d_k = 6, 4
X = torch.randn(4, d_model, generator=g)  # one row per token
W_q, W_k, W_v = (torch.randn(d_model, d_k, generator=g) / math.sqrt(d_model) for _ in range(3))
Q, K, V = X @ W_q, X @ W_k, X @ W_v  # (4, d_k) each
show_matrices([X, Q, K, V], ["X (tokens)", "Q = X W_q", "K = X W_k", "V = X W_v"], rows=tokens)

# %% [markdown]
# Query $i$ scores key $j$ with a dot product, scaled by $\sqrt{d_k}$; a softmax along each row turns
# scores into weights that are positive and sum to 1; the output of token $i$ is the weighted mix of
# the values:
#
# $$S = \frac{QK^\top}{\sqrt{d_k}},\qquad A_{ij} = \frac{e^{S_{ij}}}{\sum_{j'} e^{S_{ij'}}},\qquad
# \text{out} = AV$$

# %%
S = Q @ K.T / math.sqrt(d_k)  # (4, 4): row = query, column = key
A = torch.softmax(S, dim=-1)  # each row sums to 1
out = A @ V  # (4, d_k)
show_matrices([S, A, out], ["scores S = QKᵀ/√d_k", "weights A = softmax(S)", "output A V"],
              rows=tokens, cols=tokens)
print("row sums of A:", A.sum(-1))

# %% [markdown]
# **Why divide by $\sqrt{d_k}$?** If the entries of $q$ and $k$ have variance 1, their dot product
# has variance $d_k$. Large scores push the softmax into a corner (one weight ≈ 1, the rest ≈ 0) where
# its gradient vanishes. Dividing by $\sqrt{d_k}$ keeps the scores at unit scale whatever the width:

# %%
for width in (4, 64, 512):
    q, k = torch.randn(10_000, width, generator=g), torch.randn(10_000, width, generator=g)
    dots = (q * k).sum(-1)
    scaled = dots / math.sqrt(width)
    print(f"d_k={width:4d}: std of q·k = {dots.std():6.2f}, after /√d_k = {scaled.std():.2f}")

# %% [markdown]
# ## 2 · The causal mask
#
# A language model predicts token $t+1$ from tokens $\le t$, so while training on a whole sequence at
# once, position $i$ must not peek at $j > i$. Setting those scores to $-\infty$ before the softmax
# gives them weight $e^{-\infty}=0$:
#
# $$A = \mathrm{softmax}(S + M),\qquad M_{ij} = \begin{cases}0 & j \le i\\ -\infty & j > i\end{cases}$$

# %%
from lmlab.models.transformer import attention, causal_mask

mask = causal_mask(4)  # True where attending is allowed: the lower triangle
S_masked = S.masked_fill(~mask, float("-inf"))
A_causal = torch.softmax(S_masked, dim=-1)
show_matrices([mask.float(), S_masked, A_causal], ["mask (1 = may look)", "masked scores", "causal weights"],
              rows=tokens, cols=tokens)
# lmlab's readable attention does exactly this:
lib_out, lib_weights = attention(Q, K, V, mask)
print("same as lmlab.models.transformer.attention:", torch.allclose(lib_weights, A_causal))

# %% [markdown]
# ### Exercise 1 — attention in four lines
# Write `my_attention(q, k, v, mask=None)` for tensors of shape `(..., T, d_k)`; `mask` is boolean with
# `True` where attending is allowed. Then `my_causal_mask(T)`.

# %%
def my_attention(q, k, v, mask=None):
    # scores, then -inf where mask is False, then softmax over the keys, then mix the values
    ...


check("transformer.attention", my_attention)


# %%
def my_causal_mask(T):
    ...


check("transformer.causal_mask", my_causal_mask)

# %% [markdown]
# ## 3 · Multi-head attention is a reshape
#
# One attention mixes values with one set of weights. **Multi-head** attention runs $h$ of them side
# by side, each on $d_k = C/h$ channels, and concatenates the results:
#
# $$\mathrm{MultiHead}(X) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h)\,W_o,\qquad
# \mathrm{head}_i = \mathrm{Attention}(XW_q^{(i)}, XW_k^{(i)}, XW_v^{(i)})$$
#
# No loop is needed: compute $Q = XW_q$ for all heads at once (one $C \times C$ matrix), then *view*
# the $C$ channels as $h \times d_k$ and move the head axis forward: `(B, T, C) → (B, T, h, d_k) →
# (B, h, T, d_k)`. The attention formula then runs on every head in one batched matmul.

# %%
from lmlab.models.transformer import GPTConfig, MultiHeadAttention, split_heads

cfg = GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8)
mha = MultiHeadAttention(cfg).eval()
x = torch.randn(1, 4, 8, generator=g)  # (B, T, C)
q, k, v = mha.W_qkv(x).split(8, dim=2)  # (B, T, C) each
qh = split_heads(q, mha.n_head)
print("x", tuple(x.shape), "-> q", tuple(q.shape), "-> heads", tuple(qh.shape), "= (B, n_head, T, d_k)")
# the batched heads equal a Python loop over heads, each on its own slice of channels
kh, vh = split_heads(k, mha.n_head), split_heads(v, mha.n_head)
batched, _ = attention(qh, kh, vh, causal_mask(4))
cols = [slice(h * 4, (h + 1) * 4) for h in range(2)]  # head h owns channels 4h .. 4h+3
looped = torch.stack([attention(q[..., c], k[..., c], v[..., c], causal_mask(4))[0] for c in cols], dim=1)
print("batched heads == loop over heads:", torch.allclose(batched, looped, atol=1e-6))


# %% [markdown]
# ### Exercise 2 — split the heads
# `my_split_heads(x, n_head)`: `(B, T, C)` → `(B, n_head, T, C // n_head)`.

# %%
def my_split_heads(x, n_head):
    ...


check("transformer.split_heads", my_split_heads)

# %% [markdown]
# ## 4 · Positions: the sinusoidal encoding
#
# Attention by itself is blind to order: shuffle the tokens and each output is shuffled the same way.
# The original Transformer adds to each token embedding a vector that encodes its position $pos$:
#
# $$PE_{(pos,\,2i)} = \sin\!\left(\frac{pos}{10000^{2i/d_{model}}}\right),\qquad
# PE_{(pos,\,2i+1)} = \cos\!\left(\frac{pos}{10000^{2i/d_{model}}}\right)$$
#
# Read it carefully (many tutorials garble it as $PE(pos, 2d_{model})$): $i$ counts channel **pairs**,
# $i = 0, \dots, d_{model}/2 - 1$. Pair $i$ holds a sine and a cosine of the **same** frequency
# $\omega_i = 10000^{-2i/d_{model}}$; the wavelengths $2\pi/\omega_i$ grow geometrically from $2\pi$
# (channel 0) to $2\pi\cdot 10000^{(d_{model}-2)/d_{model}}$ for the last pair. That approaches
# $10000\cdot2\pi$ only for wide models: for the $d_{model} = 32$ plot below the last pair ($i = 15$) has
# $2\pi\cdot10000^{30/32} \approx 2\pi\,\cdot$ 5,623<!--cite:pe_last_factor--> $\approx$
# 35,300<!--cite:pe_last_wavelength--> positions.

# %%
from lmlab.cite import cite
from lmlab.models.transformer import sinusoidal_encoding

pe = sinusoidal_encoding(100, 32)  # (positions, d_model)
slowest = 10000 ** (30 / 32)  # 1 / ω of the last pair, i = 15
print(f"last pair: 2π · {cite('pe_last_factor', slowest, '{:,.0f}')} ≈ "
      f"{cite('pe_last_wavelength', round(2 * math.pi * slowest, -2), '{:,.0f}')} positions per turn")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3), dpi=80, layout="constrained")
ax1.imshow(pe.T, aspect="auto", cmap="RdBu_r")
ax1.set(xlabel="position pos", ylabel="channel", title="PE(pos, channel), d_model = 32")
for ch in (0, 1, 6, 7, 20):
    ax2.plot(pe[:, ch], label=f"channel {ch} ({'sin' if ch % 2 == 0 else 'cos'}, i={ch // 2})")
ax2.set(xlabel="position pos", title="a few channels: fast clocks, slow clocks")
ax2.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside the curves, not on them
plt.show()

# %% [markdown]
# **Why sines and cosines in pairs?** Because then a shift by $k$ positions is the same **rotation** for
# every position: with $\theta = \omega_i k$,
#
# $$\begin{pmatrix}\sin(\omega_i(pos+k))\\ \cos(\omega_i(pos+k))\end{pmatrix} =
# \begin{pmatrix}\cos\theta & \sin\theta\\ -\sin\theta & \cos\theta\end{pmatrix}
# \begin{pmatrix}\sin(\omega_i\, pos)\\ \cos(\omega_i\, pos)\end{pmatrix}$$
#
# so "three tokens back" is a fixed linear map a layer can learn, and the dot product $PE_{pos} \cdot
# PE_{pos+k} = \sum_i \cos(\omega_i k)$ depends only on the offset $k$, not on where you are:

# %%
pos, shift, pair = 10, 3, 2
omega = 10000 ** (-2 * pair / 32)
theta = omega * shift
R = torch.tensor([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
print("R · PE(10)[pair 2] =", R @ pe[pos, 2 * pair:2 * pair + 2], "  PE(13)[pair 2] =", pe[pos + shift, 4:6])
sims = pe @ pe.T  # (100, 100)
plt.figure(figsize=(5, 2.5), dpi=80)
for p0 in (10, 40, 70):
    plt.plot(range(-10, 21), [sims[p0, p0 + d].item() for d in range(-10, 21)], label=f"from pos {p0}")
plt.xlabel("offset k")
plt.ylabel("PE(pos)·PE(pos+k)")
plt.legend(fontsize=7)
plt.title("similarity depends on the offset only", fontsize=9)
plt.show()


# %% [markdown]
# GPT-2 (and nanoGPT) instead **learns** a table of position vectors, `wpe`, added like the sinusoids
# (`GPTConfig(pos_encoding="learned")`; `"sinusoidal"` adds the fixed table above).
#
# ### Rotary embeddings: rotate q and k instead of adding to x
#
# The rotation above suggests a better use of the same clocks (RoPE: Su et al., 2021; GPT-NeoX, Llama).
# Add nothing to the tokens; inside attention, turn channel pair $i$ of every **query and key** at
# position $pos$ by the angle $pos\cdot\theta_i$, $\theta_i = 10000^{-2i/d_{head}}$:
#
# $$\begin{pmatrix}x'_{2i}\\ x'_{2i+1}\end{pmatrix} =
# \begin{pmatrix}\cos pos\,\theta_i & -\sin pos\,\theta_i\\
# \sin pos\,\theta_i & \cos pos\,\theta_i\end{pmatrix}
# \begin{pmatrix}x_{2i}\\ x_{2i+1}\end{pmatrix}$$
#
# A dot product of two turned vectors only sees the **difference** of their angles, so the score of
# query $m$ and key $n$ depends on the offset $m - n$ alone: every layer gets relative positions for free,
# and no table has to be learned. lmlab's GPT uses RoPE by default (`pos_encoding="rope"`). On nanoGPT's
# baby-GPT settings, RoPE together with lmlab's other default (a ReLU MLP) lowers the validation loss
# from about 1.89 (nanoGPT's model: learned table, GELU) to about 1.68 for the same 2,000 steps
# (`benchmarks/gpt_vs_nanogpt.py`, which measures the two changes together, not RoPE alone).

# %%
from lmlab.models.transformer import rotary_angles, rotate_pairs

angles = rotary_angles(64, 8)  # (positions, head_size / 2): pos · θ_i
q_vec, k_vec = torch.randn(8), torch.randn(8)


def rope_score(m, n):  # query at position m, key at position n
    q_m = rotate_pairs(q_vec, angles[m].cos(), angles[m].sin())
    k_n = rotate_pairs(k_vec, angles[n].cos(), angles[n].sin())
    return q_m @ k_n


print("offset 3 at positions 3, 10, 40:", [round(rope_score(m, m - 3).item(), 4) for m in (3, 10, 40)])
print("offsets 0..4 from position 10:  ", [round(rope_score(10, 10 - d).item(), 4) for d in range(5)])

# %% [markdown]
# ### Exercise 3 — the encoding
# `my_positional_encoding(n_pos, d_model)` → tensor `(n_pos, d_model)`.

# %%
def my_positional_encoding(n_pos, d_model):
    ...


check("transformer.positional_encoding", my_positional_encoding)

# %% [markdown]
# A number to check the idea: the longest wavelength (in positions) of the sinusoidal encoding for
# $d_{model} = 64$, to the nearest whole position.

# %%
longest_wavelength_64 = ...  # your answer
check("transformer.longest_wavelength", longest_wavelength_64)

# %% [markdown]
# ## 5 · A GPT, block by block
#
# A **block** adds attention's output to its input, then a small per-token MLP's output. Normalising
# *before* each sub-layer (pre-LayerNorm, as GPT-2) keeps the residual path $x$ clean:
#
# $$x \leftarrow x + \mathrm{MultiHead}(\mathrm{LN}(x)),\qquad
# x \leftarrow x + W_2\,\sigma(W_1\,\mathrm{LN}(x))$$
#
# GPT-2 uses $\sigma = \mathrm{GELU}$; lmlab's default is the original Transformer's
# $\sigma(z) = \max(0, z)$: cheaper to compute, and with RoPE these small character models learn
# clearly faster with it (validation loss about 1.69 against 1.78 with GELU after nanoGPT's 2,000 baby-GPT
# steps, in one development run of lmlab, not re-measured in this notebook).
# `GPTConfig(activation="gelu")` gives GPT-2's; `"relu2"` is Primer's $\max(0, z)^2$.
#
# The GPT is: token embedding (+ a position table, unless RoPE turns q and k inside attention) → $L$
# blocks (causal) → LayerNorm → a linear layer to vocabulary scores, whose matrix is **the token
# embedding itself** (weight tying). With `pos_encoding="learned", activation="gelu"` it is GPT-2's (and
# nanoGPT's) model exactly. An encoder like BERT uses the same attention without the causal mask, but it is
# not simply this stack unmasked: BERT normalises *after* each residual addition (post-LN, as the original
# Transformer), adds segment (sentence A/B) embeddings to the token and learned position embeddings, and
# is trained with a masked-LM head (`TransformerEncoder`).

# %%
from lmlab.models.transformer import GPT
from lmlab.models.transformer.trainer import PRESETS

size = {k: PRESETS[lab.preset][k] for k in ("n_layer", "n_head", "n_embd", "block_size")}
demo = GPT(GPTConfig(vocab_size=65, **size))
print(demo.blocks[0])
wpe = getattr(demo.embed, "wpe", None)  # RoPE has no position table: it turns q and k instead
counts = {"token embedding (tied with the output layer)": demo.embed.wte.weight.numel(),
          f"position embedding ({demo.config.pos_encoding})": 0 if wpe is None else wpe.weight.numel(),
          f"{len(demo.blocks)} blocks": sum(p.numel() for p in demo.blocks.parameters()),
          "final LayerNorm": sum(p.numel() for p in demo.ln_f.parameters())}
for name, n in counts.items():
    print(f"{n:>10,}  {name}")
print(f"{sum(p.numel() for p in demo.parameters()):>10,}  total")

# %% [markdown]
# Two attention paths live in the same model: the fused `F.scaled_dot_product_attention` (flash
# attention on a GPU) for training, and the readable one from section 1 that also hands back every
# layer's weights. They compute the same numbers:

# %%
demo.eval()
idx = torch.randint(65, (2, size["block_size"]), generator=g)
fast_logits, _ = demo(idx)
slow_logits, _, attn = demo.forward_with_attention(idx)
print(f"max |fast - readable| = {(fast_logits - slow_logits).abs().max():.2e}; "
      f"{len(attn)} attention tensors of shape {tuple(attn[0].shape)} = (B, n_head, T, T)")

# %% [markdown]
# ## 6 · Tokens: characters or byte-pair encoding
#
# We train on characters (65<!--cite:shakespeare_chars@class--> symbols for Shakespeare). Real GPTs use
# **byte-level BPE**: start from the
# 256 byte values, then repeatedly merge the most frequent adjacent pair into a new token. It is not a
# fixed-length code: a token may stand for one byte or for a whole word, and what is fixed is the size of
# the vocabulary. Here is a from-scratch version that shows its merges (`BytePairEncoding` in
# `lmlab/tokenizers/bpe.py`):

# %%
from lmlab.data import load_text_or_fallback, train_val_split
from lmlab.tokenizers.bpe import BytePairEncoding, FastBPETokenizer

text, corpus = load_text_or_fallback("tiny_shakespeare")
print(f"{corpus}: {cite('shakespeare_chars', len(set(text)), '{}')} distinct characters")
if lab.preset == "smoke":
    text = text[:400_000]  # CI: a slice is plenty for a few dozen steps
bpe = BytePairEncoding.train(text[:20_000], n_merges=12, verbose=True)
for chunk in bpe.encode_and_show_work(" thee there")[:2]:
    print(repr(chunk["chunk"]), "bytes", chunk["bytes"])
    for step in chunk["steps"]:
        print("   merge", step["merge"], "->", step["new_id"], repr(step["new_token"]), step["tokens"])

# %% [markdown]
# The library tokenizer (Hugging Face `tokenizers`, in Rust) learns a 512<!--cite:bpe_vocab-->-token
# vocabulary from the whole corpus in about a second; fewer, longer tokens per text
# (`lmlab train gpt --tokenizer bpe`):

# %%
fast_bpe = FastBPETokenizer.train(text[:1_200_000], vocab_size=512)
print(f"a {cite('bpe_vocab', fast_bpe.vocab_size, '{}')}-token vocabulary")
print(fast_bpe.tokens(text[:60]))
some = text[:200_000]
print(f"{len(some) / len(fast_bpe.encode(some)):.2f} characters per BPE token (1.00 for characters)")

# %% [markdown]
# ### Exercise 4 — one BPE merge
# `bpe_merge(ids, pair, new_id)`: replace every adjacent occurrence of `pair` in the list `ids` by
# `new_id`, left to right (so `[5, 5, 5]` with the pair `(5, 5)` becomes `[new_id, 5]`).

# %%
def bpe_merge(ids, pair, new_id):
    ...


check("transformer.bpe_merge", bpe_merge)

# %% [markdown]
# ## 7 · Training on tiny Shakespeare
#
# AdamW (weight decay on matrices only), gradient clipping, and a learning rate that warms up linearly
# then follows a cosine down to `min_lr`. The run reports its **MFU** (model FLOPs utilisation): the
# arithmetic the model really needs per second (about 6 FLOPs per parameter per token, forward and backward:
# Kaplan et al., 2020) as a share of the device's peak; 30–50 % is good on a GPU (PaLM reports 46 %, Chowdhery
# et al., 2022), and a few % is usual on a laptop CPU.
# The `class` preset gives the run a **time budget**: the cosine runs on the clock, so the learning rate
# reaches its minimum exactly when time is up, on a fast machine or a slow one.
#
# $$\eta(t) = \eta_{min} + \tfrac12(\eta_{max} - \eta_{min})\bigl(1 + \cos(\pi t / T)\bigr)$$

# %%
from lmlab.models.transformer.schedule import cosine_lr

values = dict(PRESETS[lab.preset])
steps = range(0, 2000)
plt.figure(figsize=(5, 2.2), dpi=80)
plt.plot(steps, [cosine_lr(s, 1e-3, 1e-4, 100, 2000) for s in steps])
plt.xlabel("iteration (or fraction of the time budget)")
plt.ylabel("learning rate")
plt.title("warm-up, then cosine", fontsize=9)
plt.show()
c, f = PRESETS["class"], PRESETS["full"]
print(f"class: batches of {cite('class_batch', c['batch_size'], '{}')} blocks of "
      f"{cite('class_block', c['block_size'], '{}')} characters for "
      f"{cite('class_minutes', c['time_budget_s'] / 60, '{:.0f}')} minutes; full: "
      f"{cite('full_layers', f['n_layer'], '{}')} layers × {cite('full_embd', f['n_embd'], '{}')}, block "
      f"{cite('full_block', f['block_size'], '{}')}")
values

# %% [markdown]
# ### Exercise 5 — the cosine
# Write the decay part of the schedule, `cosine_part(t, T, lr_max, lr_min)`, from the formula above
# ($0 \le t \le T$; warm-up is not part of it).

# %%
def cosine_part(t, T, lr_max, lr_min):
    ...


check("transformer.cosine_part", cosine_part)

# %% [markdown]
# **What to expect, and against what.** A validation loss means little alone. Two baselines stand beside
# the GPT: a uniform guess over the characters ($\ln V$ nats, where training starts), and the simplest model
# that could work, **counts** of which character follows the previous one or two (a bigram and a trigram,
# Kneser–Ney smoothed, `lmlab.models.ngram`), counted on the same training text. The claim: the trained GPT
# ends clearly below the trigram, because attention reads far more than two characters back. All three are
# scored on the same validation windows, each with a 95 % bootstrap interval over the windows.

# %%
from lmlab.checkpoint import load_checkpoint, load_model_state
from lmlab.models.transformer.trainer import GPTRecipe, TokenData, TrainConfig
from lmlab.prepared import cached
from lmlab.tokenizers import CharTokenizer
from lmlab.train.engine import train
from lmlab.viz.curves import LiveView

train_text, val_text = train_val_split(text, 0.9)
tok = CharTokenizer.fit(text)
data = TokenData.from_text(train_text, tok, val_text=val_text)
model = GPT(GPTConfig(vocab_size=tok.vocab_size, dropout=values["dropout"],
                      **{k: values[k] for k in ("n_layer", "n_head", "n_embd", "block_size")}))
train_keys = ("batch_size", "max_iters", "lr", "min_lr", "warmup_iters", "lr_decay_iters", "eval_interval",
              "eval_iters", "time_budget_s")
tcfg = TrainConfig(**{k: values[k] for k in train_keys})
print(f"{corpus}: {len(data.train):,} training / {len(data.val):,} validation characters; "
      f"model {model.num_params():,} parameters")


def load_gpt(prep, into):
    """A prepared run's weights into the model ``into``; its metrics."""
    load_model_state(into, load_checkpoint(prep.path))
    return prep.metrics


def fit_gpt(out):
    return train(GPTRecipe(tcfg, data, tokenizer=tok), model=model, out=out, device=lab.device,
                 precision=lab.precision, live=LiveView(title="GPT on " + corpus), progress=False).metrics


# a run `lmlab prepare` trained ahead of the lesson is loaded instead (it says so)
m = cached("03_gpt_shakespeare", {"tokenizer": "char", **values}, preset=lab.preset, corpus=corpus,
           fit=fit_gpt, load=lambda prep: load_gpt(prep, model))
model.to(lab.device)
print(f"{m['iters']} iterations, {m['train_s']:.1f} s of training, {m['tokens_per_sec']:,.0f} tokens/s, "
      f"MFU {m['mfu'] or 0:.1%}")
print(f"train {m['eval_train_loss']:.3f}, validation {m['val_loss']:.3f} nats/char "
      f"(uniform guess: ln {tok.vocab_size} = {math.log(tok.vocab_size):.2f})")

# %%
from lmlab.eval.language_model import score_against_counts
from lmlab.models.ngram import KneserNey

WINDOWS = 300  # validation windows scored (enough for a tight interval, seconds on a CPU)
block = model.config.block_size
# the bigram and the trigram: counts of the training text
counts = {f"{n}-gram": KneserNey.fit(data.train.tolist(), tok.vocab_size, n=n) for n in (2, 3)}
scores = score_against_counts(model, counts, data.val, block, WINDOWS, name="GPT", device=lab.device)
print(scores.report(below="3-gram", vocab_size=tok.vocab_size, unit="nats/char"))

# %% [markdown]
# Read the gap's interval: above 0, the GPT has learned more than the counts; around 0 (the `smoke`
# preset's few dozen steps), not yet. The `class` preset aims at a validation loss ≤ 1.75 nats/char in
# 5<!--cite:class_minutes--> minutes on a 2-core laptop (a target, not a promise: the numbers above are
# this run's). Its choices are about *updates*: with only minutes, many small steps
# (8<!--cite:class_batch--> blocks of 64<!--cite:class_block--> characters, a high learning rate) learn far
# more than fewer big ones, although both read the same number of characters per second. The `full` preset
# (6<!--cite:full_layers--> layers × 384<!--cite:full_embd-->, block 256<!--cite:full_block-->, on a GPU)
# is nanoGPT's Shakespeare model, which its README reports at ≈ 1.47. The same run from a terminal:
# `lmlab train gpt --preset class --out runs/gpt`, then `lmlab sample runs/gpt`.
#
# ## 8 · Sampling, and the key-value cache
#
# Generation appends one token at a time. Temperature, top-k and top-p reshape the next-token
# distribution exactly as for the LSTM.

# %%
from lmlab.models.transformer import generate, sample_text

prompt = "ROMEO:" if corpus == "tiny_shakespeare" else val_text[:20]
for temperature in (0.5, 1.0):
    print(f"--- temperature {temperature}")
    print(sample_text(model, tok, prompt, 200, temperature=temperature, seed=0))
print("--- temperature 0.8, top-k 10")
print(sample_text(model, tok, prompt, 200, temperature=0.8, top_k=10, seed=0))

# %% [markdown]
# Without a cache, each new token re-runs the whole context through every layer. But the keys and
# values of earlier positions never change (the mask keeps them from seeing later tokens), so we can
# **cache** them and compute only the newest token's $q, k, v$: per token $O(T)$ work instead of
# $O(T^2)$.

# %%
model.eval()
start = torch.tensor([tok.encode(prompt)], device=lab.device)
n_new = model.config.block_size - start.size(1)
timings = {}
for use_cache in (False, True):
    t0 = time.perf_counter()
    out_ids = generate(model, start, n_new, top_k=1, use_cache=use_cache)
    timings[use_cache] = time.perf_counter() - t0
    print(f"use_cache={use_cache!s:5}: {n_new} tokens in {timings[use_cache] * 1000:.0f} ms")
same = torch.equal(generate(model, start, n_new, top_k=1, use_cache=True),
                   generate(model, start, n_new, top_k=1, use_cache=False))
print("greedy text identical with and without the cache:", same)

# %% [markdown]
# ## 9 · What did it learn to look at?
#
# The readable path hands every layer's and head's weights to the attention views (notebook 04 has
# many more). Each row is a query character; bright cells are the earlier characters it reads.

# %%
from lmlab.viz.attention import attention_of, grid_view

maps = attention_of(model, val_text[:48], tok)
grid_view(maps, layer=model.config.n_layer - 1, head=None, average_heads=True)

# %% [markdown]
# ## 10 · A Tang poet
#
# The same GPT on regular Tang poems (五言/七言 quatrains and regulated verse, one couplet per line,
# characters limited to the 3,000 most common). Characters are tokens here, so the model learns line
# lengths, the `，` and `。` rhythm, and which characters go together. The claim, checked after the
# samples: it predicts the next character better than the bigram counts of the same poems.

# %%
from lmlab.models.lstm.poems import poem_corpus

TANG = {"smoke": dict(max_poems=300, time_budget_s=None, max_iters=40),
        "class": dict(max_poems=None, time_budget_s=120.0, max_iters=100_000),
        "full": dict(max_poems=None, time_budget_s=None, max_iters=5000)}[lab.preset]
poems, poems_name = poem_corpus(max_vocab=3000, max_poems=TANG["max_poems"])
poem_tok = CharTokenizer.fit(poems)
poem_data = TokenData.from_text(poems, poem_tok, train_fraction=0.9)
poem_block = min(values["block_size"], len(poem_data.val) - 2)
poem_model = GPT(GPTConfig(vocab_size=poem_tok.vocab_size, block_size=poem_block, dropout=values["dropout"],
                           **{k: values[k] for k in ("n_layer", "n_head", "n_embd")}))
poem_cfg = replace(tcfg, max_iters=TANG["max_iters"], lr_decay_iters=TANG["max_iters"],
                   time_budget_s=TANG["time_budget_s"])
print(f"{poems_name}: {len(poems):,} characters, {poem_tok.vocab_size:,} distinct")
poem_metrics = cached(
    "03_gpt_poems", {"tokenizer": "char", **values, **TANG, "lr_decay_iters": TANG["max_iters"],
                     "max_vocab": 3000}, preset=lab.preset, corpus=poems_name, script=True,
    fit=lambda out: train(GPTRecipe(poem_cfg, poem_data, tokenizer=poem_tok), model=poem_model, out=out,
                          device=lab.device, precision=lab.precision, progress=False,
                          live=LiveView(title="GPT on Tang poems")).metrics,
    load=lambda prep: load_gpt(prep, poem_model))
poem_model.to(lab.device)
print(f"validation {poem_metrics['val_loss']:.3f} nats/char after {poem_metrics['iters']} iterations")
first = poems[0]
for seed in range(3):
    print(sample_text(poem_model, poem_tok, first, 60, temperature=0.8, top_k=20, seed=seed).split("\n\n")[0])
    print()

# %%
poem_counts = {"2-gram": KneserNey.fit(poem_data.train.tolist(), poem_tok.vocab_size, n=2)}
poem_scores = score_against_counts(poem_model, poem_counts, poem_data.val, poem_block, WINDOWS, name="GPT",
                                   device=lab.device)
print(poem_scores.report(below="2-gram", unit="nats/char"))

# %% [markdown]
# ## 11 · GPT or LSTM? Same parameters, same time
#
# A fair race: an LSTM from notebook 02 sized to about the same number of parameters as our GPT,
# both trained on the same characters for the same number of seconds, compared on validation loss.
# (Each trainer measures its own validation loss: the GPT on random windows of `block_size`, the LSTM
# over the validation text as one stream. The numbers are close in meaning, not identical.)

# %% [markdown]
# **Predict, then run.** The GPT and an LSTM of the same size train for the same seconds on this CPU. Which
# reaches the lower validation loss? Commit to an answer before you run the next cells; a check after the
# measurement says what happened and why.
#
# - `"a"`: the GPT, by more than 0.05 nats
# - `"b"`: the LSTM, by more than 0.05 nats
# - `"c"`: neither: within 0.05 nats of each other

# %%
prediction = ...  # one of "a", "b", "c"

# %%
from lmlab.models.lstm import LSTMConfig, LSTMLanguageModel, LSTMRecipe, LSTMTrainConfig

RACE_S = {"smoke": 4.0, "class": 90.0, "full": 120.0}[lab.preset]
gpt_params = GPT(GPTConfig(vocab_size=tok.vocab_size, **size)).num_params()


def lstm_params(hidden, n_layer=2):
    return LSTMLanguageModel(LSTMConfig(vocab_size=tok.vocab_size, n_embd=hidden, hidden=hidden,
                                        n_layer=n_layer)).num_params()


low, high = 8, 1024  # bisection: the LSTM's size grows with its width
while high - low > 4:
    mid = (low + high) // 2
    low, high = (mid, high) if lstm_params(mid) < gpt_params else (low, mid)
hidden = min((low, high), key=lambda h: abs(lstm_params(h) - gpt_params))
print(f"GPT {gpt_params:,} parameters; LSTM 2 x {hidden} has {lstm_params(hidden):,}")



def run_race(out):
    race_gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, **size))
    race_cfg = replace(tcfg, max_iters=10**9, lr_decay_iters=10**9, eval_interval=10**9, time_budget_s=RACE_S)
    race_gpt_run = train(GPTRecipe(race_cfg, data), model=race_gpt, device=lab.device,
                         precision=lab.precision, progress=False)
    lstm_cfg = LSTMTrainConfig(corpus=corpus, n_layer=2, hidden=hidden, time_budget_s=RACE_S, max_iters=10**9,
                               eval_interval=0, device=lab.device.type, max_eval_tokens=20_000,
                               warmup_iters=PRESETS[lab.preset]["warmup_iters"])
    race_lstm = LSTMRecipe(lstm_cfg, train_text, val_text=val_text, tokenizer=tok)
    race_lstm_run = train(race_lstm, device=lab.device, progress=False)
    return {"race": {"GPT": race_gpt_run.metrics, "LSTM": race_lstm_run.metrics}, "hidden": hidden}


race = cached("03_race", {"tokenizer": "char", **values, "race_s": RACE_S}, preset=lab.preset, corpus=corpus,
              fit=run_race).metrics["race"]
for name, r in race.items():
    print(f"{name:5} {r['params']:>9,} params, {r['iters']:>5} iterations in {RACE_S:.0f} s, "
          f"{r['tokens_per_sec']:>8,.0f} tokens/s, validation {r['val_loss']:.3f}")
fig, ax = plt.subplots(figsize=(4, 2.2), dpi=80)
ax.bar(list(race), [r["val_loss"] for r in race.values()], color=["tab:blue", "tab:orange"])
ax.set(ylabel="validation loss (nats/char)", title=f"same parameters, {RACE_S:.0f} s each")
plt.show()

# %%
check("transformer.predict_race", prediction, measured=race)

# %% [markdown]
# Read the numbers above rather than trusting a rule: at a few seconds or minutes on a CPU the race is
# close and depends on the budget. What favours the Transformer grows with scale: all positions of a
# sequence train in parallel (an LSTM must wait for step $t-1$ before step $t$), so GPUs keep it busy,
# and attention reaches back across the whole block in one step instead of through a chain of state
# updates. That is why today's large language models are Transformers. Try `RACE_S` at 30, 90 and 300
# seconds and see whether the order changes.
#
# ## Where to go next
#
# - `04_attention`: the heads of this model and of a pretrained one, in bertviz and lmlab views.
# - Train bigger from a terminal: `lmlab train gpt --preset full --out runs/gpt_full` on a GPU.
# - Try `GPTConfig(pos_encoding="learned")` (GPT-2's table) or `"sinusoidal"`, `--tokenizer bpe`, or a
#   larger `block_size`, and watch the validation loss.
