"""The Transformer: both attention paths agree, masks, positions, generation, encoder, trainer, CLI."""

from __future__ import annotations

import json
import math
import shlex

import pytest
import torch

from lmlab.models.bert.masking import mlm_mask
from lmlab.models.transformer import (
    GPT,
    GPTConfig,
    TransformerEncoder,
    attention,
    causal_mask,
    generate,
    load_for_sampling,
    rotary_angles,
    rotate_pairs,
    sample_text,
    sinusoidal_encoding,
)
from lmlab.models.transformer.schedule import cosine_lr, time_cosine_lr
from lmlab.models.transformer.trainer import GPTRecipe, TokenData, TrainConfig
from lmlab.tokenizers import CharTokenizer
from lmlab.train.engine import train


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and on a shared CPU it makes them much slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16)


def tiny_gpt(**kw) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**TINY, **kw}))


@pytest.mark.parametrize("pos_encoding", ["rope", "learned", "sinusoidal"])
def test_fast_and_inspectable_attention_paths_agree(pos_encoding):
    model = tiny_gpt(pos_encoding=pos_encoding).eval()
    idx = torch.randint(11, (3, 16), generator=torch.Generator().manual_seed(1))
    fast, loss_fast = model(idx, idx)
    slow, loss_slow, attn = model.forward_with_attention(idx, idx)
    assert (fast - slow).abs().max().item() <= 1e-5
    assert abs(loss_fast.item() - loss_slow.item()) <= 1e-5
    assert len(attn) == 2 and attn[0].shape == (3, 2, 16, 16)
    for a in attn:
        torch.testing.assert_close(a.sum(-1), torch.ones(3, 2, 16))
        assert a.triu(diagonal=1).abs().max().item() == 0.0  # causal: nothing from the future


def test_gpt_is_causal_changing_a_later_token_leaves_earlier_logits():
    model = tiny_gpt().eval()
    idx = torch.randint(11, (1, 10), generator=torch.Generator().manual_seed(2))
    changed = idx.clone()
    changed[0, 7] = (idx[0, 7] + 1) % 11
    a, _ = model(idx)
    b, _ = model(changed)
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert (a[:, 7:] - b[:, 7:]).abs().max() > 1e-4


def test_attention_by_hand_matches_torch_sdpa():
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 4, 5, 8, generator=g) for _ in range(3))
    out, weights = attention(q, k, v, causal_mask(5))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert weights[0, 0, 0, 1:].abs().max() == 0.0


def test_causal_mask_is_bottom_right_aligned_for_a_cache():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert causal_mask(1, 4).tolist() == [[True, True, True, True]]  # the newest token sees everything


def test_sinusoidal_encoding_follows_the_formula():
    pe = sinusoidal_encoding(50, 16)
    pos, i = 7, 3
    assert pe[pos, 2 * i].item() == pytest.approx(math.sin(pos / 10000 ** (2 * i / 16)), abs=1e-6)
    assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(pos / 10000 ** (2 * i / 16)), abs=1e-6)
    assert pe[0, 0::2].abs().max() == 0 and torch.all(pe[0, 1::2] == 1)


def test_rotary_scores_depend_on_the_offset_only():
    angles = rotary_angles(40, 8)
    g = torch.Generator().manual_seed(5)
    q, k = torch.randn(8, generator=g), torch.randn(8, generator=g)

    def score(m: int, n: int) -> float:  # q at position m against k at position n
        return (rotate_pairs(q, angles[m].cos(), angles[m].sin())
                @ rotate_pairs(k, angles[n].cos(), angles[n].sin())).item()

    assert score(5, 2) == pytest.approx(score(30, 27), abs=1e-5) == pytest.approx(score(3, 0), abs=1e-5)
    assert abs(score(5, 2) - score(5, 4)) > 1e-3  # another offset, another score
    assert rotate_pairs(q, angles[0].cos(), angles[0].sin()).equal(q)  # position 0 is not turned
    # pair i turns by pos * 10000^(-2i/d): pair 1 of a unit vector at position 3
    e = torch.zeros(8)
    e[2] = 1.0
    turned = rotate_pairs(e, angles[3].cos(), angles[3].sin())
    phi = 3 * 10000 ** (-2 / 8)
    torch.testing.assert_close(turned[2:4], torch.tensor([math.cos(phi), math.sin(phi)]))


def test_complex_rotary_equals_the_written_out_formula_with_gradients(monkeypatch):
    import importlib

    attn_mod = importlib.import_module("lmlab.models.transformer.attention")
    angles = attn_mod.rotary_angles(5, 8).double()[:, None, None, :].expand(-1, 3, 2, -1).clone()
    angles[:, 2] = 0.0  # (T, q/k/v, n_head, hs/2): v is not turned
    cos, sin = angles.cos(), angles.sin()
    qkv = torch.randn(2, 5, 3 * 2 * 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: attn_mod.rotary_qkv(t, cos, sin, 2), (qkv,))
    fused = attn_mod.rotary_qkv(qkv, cos, sin, 2)
    monkeypatch.setattr(attn_mod.torch.compiler, "is_compiling", lambda: True)  # the GPU / compile path
    plain = attn_mod.rotary_qkv(qkv, cos, sin, 2)
    for a, b in zip(fused, plain, strict=True):
        torch.testing.assert_close(a, b)


def test_activation_choices_and_checkpoints_from_before_the_field():
    from lmlab.models.transformer.model import relu2

    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0])
    assert relu2(x).tolist() == [0.0, 0.0, 0.0, 0.25, 9.0]
    x64 = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(relu2, (x64,))  # the hand-written derivative
    assert tiny_gpt().blocks[0].mlp.act is torch.nn.functional.relu  # the default
    assert tiny_gpt(activation="relu2").blocks[0].mlp.act is relu2
    gelu = tiny_gpt(activation="gelu")
    assert gelu.blocks[0].mlp.act(x).tolist() == torch.nn.functional.gelu(x).tolist()
    with pytest.raises(ValueError, match="unknown activation 'swish'; use one of relu, gelu"):
        GPTConfig(activation="swish")
    import argparse

    from lmlab.cli.train import add_arguments
    from lmlab.models.transformer.config import ACTIVATIONS, POS_ENCODINGS

    parser = argparse.ArgumentParser()
    add_arguments(parser, "gpt")
    choices = {a.dest: tuple(a.choices) for a in parser._actions if a.choices}
    assert choices["activation"] == ACTIVATIONS and choices["pos_encoding"] == POS_ENCODINGS  # CLI in step
    saved = {k: v for k, v in vars(GPTConfig(pos_encoding="learned")).items() if k != "activation"}
    assert GPTConfig.from_dict(saved).activation == "gelu"  # checkpoints written before it existed used GELU


def test_rotary_needs_an_even_head_size():
    with pytest.raises(ValueError, match="n_embd/n_head must be even"):
        GPTConfig(n_embd=12, n_head=4)
    assert GPTConfig(n_embd=12, n_head=4, pos_encoding="learned").head_size == 3


def test_weight_tying_and_gpt2_init():
    model = tiny_gpt(n_layer=4)
    assert model.lm_head.weight is model.embed.wte.weight
    std_o = model.blocks[0].attn.W_o.weight.std().item()
    std_qkv = model.blocks[0].attn.W_qkv.weight.std().item()
    assert std_o < std_qkv * 0.6  # residual projections scaled by 1/sqrt(2 n_layer)


def test_n_embd_must_divide_by_n_head():
    with pytest.raises(ValueError, match="n_embd=66 is not divisible by n_head=4"):
        GPTConfig(n_embd=66, n_head=4)
    with pytest.raises(ValueError, match="pos_encoding"):
        GPTConfig(pos_encoding="rotary")


@pytest.mark.parametrize("pos_encoding", ["rope", "learned"])
def test_kv_cache_generation_equals_full_recompute(pos_encoding):
    model = tiny_gpt(pos_encoding=pos_encoding).eval()
    prompt = torch.randint(11, (2, 4), generator=torch.Generator().manual_seed(4))
    # within the block: cached and uncached greedy decoding must agree token for token
    a = generate(model, prompt, 12, top_k=1, use_cache=True)
    b = generate(model, prompt, 12, top_k=1, use_cache=False)
    assert a.shape == (2, 16) and torch.equal(a, b)
    # the cache's logits equal a full forward pass
    cache = model.new_cache()
    model(prompt, cache=cache)
    step_logits, _ = model(a[:, 4:5], cache=cache)
    full_logits, _ = model(a[:, :5])
    torch.testing.assert_close(step_logits[:, -1], full_logits[:, -1], atol=1e-5, rtol=1e-5)


def test_generation_past_block_size_and_long_prompt_warns_not_crashes():
    model = tiny_gpt().eval()
    out = generate(model, torch.zeros(1, 3, dtype=torch.long), 40)
    assert out.shape == (1, 43)
    long_prompt = torch.zeros(1, 30, dtype=torch.long)
    with pytest.warns(UserWarning, match="block_size=16"):
        out = generate(model, long_prompt, 5)
    assert out.shape == (1, 35) and torch.equal(out[:, :30], long_prompt)
    with pytest.raises(ValueError, match="longer than block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_top_k_one_is_greedy_and_seeded_sampling_repeats():
    model = tiny_gpt().eval()
    prompt = torch.tensor([[1, 2, 3]])
    greedy = generate(model, prompt, 5, top_k=1)
    logits, _ = model(prompt)
    assert greedy[0, 3].item() == logits[0, -1].argmax().item()
    s1 = generate(model, prompt, 8, generator=torch.Generator().manual_seed(5))
    s2 = generate(model, prompt, 8, generator=torch.Generator().manual_seed(5))
    assert torch.equal(s1, s2)


def test_encoder_is_bidirectional_and_mlm_loss_only_on_masked():
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=12, block_size=16, n_layer=2, n_head=2, n_embd=16)
    enc = TransformerEncoder(cfg).eval()
    idx = torch.randint(11, (2, 10), generator=torch.Generator().manual_seed(6))
    changed = idx.clone()
    changed[0, 9] = (idx[0, 9] + 1) % 11
    a, _ = enc(idx)
    b, _ = enc(changed)
    assert (a[0, 0] - b[0, 0]).abs().max() > 1e-5  # the first position sees the last one
    fast, _ = enc(idx)
    slow, _, attn = enc.forward_with_attention(idx)
    assert (fast - slow).abs().max().item() <= 1e-5 and attn[0].shape == (2, 2, 10, 10)
    g = torch.Generator().manual_seed(7)
    inputs, targets = mlm_mask(idx, mask_id=11, n_tokens=12, p=0.5, generator=g)
    chosen = targets != -100
    assert chosen.any() and torch.equal(targets[chosen], idx[chosen])
    assert torch.equal(inputs[~chosen], idx[~chosen]) and (inputs[chosen] == 11).any()
    _, loss = enc(inputs, targets)
    assert loss.item() > 0 and math.isfinite(loss.item())
    pad = torch.ones(2, 10, dtype=torch.bool)
    pad[1, 6:] = False
    padded, _ = enc(idx, attention_mask=pad)
    shorter, _ = enc(idx[1:, :6])
    torch.testing.assert_close(padded[1, :6], shorter[0], atol=1e-5, rtol=1e-5)


def test_optimizer_groups_decay_matrices_only():
    model = tiny_gpt()
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    n = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n == sum(p.numel() for p in model.parameters())


def test_schedules():
    assert cosine_lr(0, 1.0, 0.1, 10, 100) == pytest.approx(1 / 11)
    assert cosine_lr(10, 1.0, 0.1, 10, 100) == pytest.approx(1.0)
    assert cosine_lr(55, 1.0, 0.1, 10, 100) == pytest.approx(0.55)
    assert cosine_lr(500, 1.0, 0.1, 10, 100) == 0.1
    assert time_cosine_lr(50, 150.0, 300.0, 1.0, 0.1, 10) == pytest.approx(0.55)
    assert time_cosine_lr(50, 400.0, 300.0, 1.0, 0.1, 10) == pytest.approx(0.1)


TEXT = ("to be or not to be, that is the question. " * 60)


def test_trainer_learns_and_checkpoints(tmp_path):
    tok = CharTokenizer.fit(TEXT)
    data = TokenData.from_text(TEXT, tok)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=32))
    tcfg = TrainConfig(batch_size=8, max_iters=80, lr=3e-3, min_lr=3e-4, warmup_iters=5, lr_decay_iters=80,
                       eval_interval=40, eval_iters=3, log_interval=5)
    result = train(GPTRecipe(tcfg, data, tokenizer=tok), model=model, out=tmp_path, progress=False)
    m = result.metrics
    assert m["iters"] == 80 and m["val_loss"] < 1.5 < math.log(tok.vocab_size)  # far below uniform
    assert m["tokens_per_sec"] > 0 and m["params"] == model.num_params() and 0 < m["mfu"] < 1
    assert (tmp_path / "ckpt.pt").exists() and (tmp_path / "best.pt").exists()
    from lmlab.checkpoint import load_checkpoint

    payload = load_checkpoint(tmp_path)
    restored, tok2 = load_for_sampling(payload)
    x = torch.tensor([tok.encode("to be or")])
    torch.testing.assert_close(restored(x)[0], model.eval()(x)[0])
    text = sample_text(restored, tok2, "to be", 20, seed=0)
    assert text.startswith("to be") and len(text) == 25


def test_block_size_larger_than_split_is_a_clear_error():
    tok = CharTokenizer.fit(TEXT)
    data = TokenData.from_text(TEXT[:200], tok)
    with pytest.raises(ValueError, match="block_size=64 is too large for the validation split"):
        train(GPTRecipe(TrainConfig(max_iters=1), data), progress=False,
              model=GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=1, n_embd=8)))


def test_batches_depend_on_iteration_only():
    from lmlab.train.loop import step_generator

    data = TokenData(torch.arange(1000), torch.arange(100))
    a = data.batch("train", 4, 8, step_generator(1, 5))
    b = data.batch("train", 4, 8, step_generator(1, 5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], a[0] + 1)


def _cli(args):
    from lmlab.cli import main

    return main(args)


def test_cli_train_resume_and_errors(tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TEXT * 3, encoding="utf-8")
    out = tmp_path / "run"
    common = shlex.split("train gpt --tokenizer char --n-layer 1 --n-head 2 --n-embd 16 --block-size 16 "
                         "--batch-size 4 --eval-interval 10 --eval-iters 2 --device cpu --no-progress "
                         "--preset smoke")
    common += ["--corpus", str(corpus), "--out", str(out)]
    assert _cli([*common, "--max-iters", "20"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("train_loss", "val_loss", "tokens_per_sec", "wall_s", "iters", "params", "mfu"):
        assert metrics[key] is not None, key
    assert metrics["iters"] == 20 and metrics["config"]["n_embd"] == 16
    before = (out / "ckpt.pt").read_bytes()
    # a second run into the same folder without --resume: refused, checkpoint untouched
    assert _cli([*common, "--max-iters", "30"]) == 2
    assert "--resume" in capsys.readouterr().err and (out / "ckpt.pt").read_bytes() == before
    # resuming with another architecture: refused, checkpoint untouched
    changed = [a if a != "16" else "32" for a in common]
    assert _cli([*changed, "--max-iters", "30", "--resume"]) == 2
    assert "n_embd: checkpoint 16 vs requested 32" in capsys.readouterr().err
    assert (out / "ckpt.pt").read_bytes() == before
    assert _cli([*common, "--max-iters", "30", "--resume"]) == 0
    assert json.loads((out / "metrics.json").read_text())["iters"] == 30
    bad = [a if a != "16" else "15" for a in common]
    assert _cli([*bad, "--max-iters", "5", "--out", str(tmp_path / "other")]) == 2
    assert "not divisible by n_head=2" in capsys.readouterr().err


def test_cli_bpe_tokenizer(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TEXT * 3, encoding="utf-8")
    out = tmp_path / "bpe"
    args = shlex.split("train gpt --tokenizer bpe --vocab-size 300 --n-layer 1 --n-head 2 --n-embd 16 "
                       "--block-size 8 --batch-size 4 --max-iters 6 --eval-interval 3 --eval-iters 1 "
                       "--device cpu --no-progress --preset smoke")
    assert _cli([*args, "--corpus", str(corpus), "--out", str(out)]) == 0
    from lmlab.checkpoint import load_checkpoint

    model, tok = load_for_sampling(load_checkpoint(out))
    assert tok.kind == "bpe" and model.config.vocab_size == tok.vocab_size
