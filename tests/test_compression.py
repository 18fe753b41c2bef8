"""int8 quantization and magnitude pruning: what they change, what they keep; the benchmark's smoke run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from lmlab.compress import int8_bytes, magnitude_prune, model_bytes, prunable, quantize_int8, sparsity
from lmlab.compress.measure import train_lm
from lmlab.models.lstm.model import LSTMConfig, LSTMLanguageModel
from lmlab.models.transformer import GPT, GPTConfig
from lmlab.models.transformer.trainer import TokenData
from lmlab.tokenizers import CharTokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _lstm():
    torch.manual_seed(0)
    return LSTMLanguageModel(LSTMConfig(vocab_size=20, hidden=64, n_layer=2, dropout=0.0)).eval()


def test_int8_lstm_is_smaller_and_predicts_nearly_the_same():
    model = _lstm()
    q = quantize_int8(model)
    for part in (q.lstm, q.head):  # replaced by int8 modules running fbgemm's kernels
        assert type(part).__module__.startswith("torch.ao.nn.quantized.dynamic")
    assert type(model.lstm) is torch.nn.LSTM  # the original is left alone
    x = torch.randint(0, 20, (2, 12))
    with torch.no_grad():
        ref, out = model(x)[0], q(x)[0]
    assert (out - ref).abs().max() < 0.05 * ref.abs().max()  # int8 rounding, nothing more
    assert not torch.equal(out, ref)
    assert model_bytes(q) < 0.5 * model_bytes(model)


def test_int8_weight_is_one_byte_per_entry():
    q = quantize_int8(torch.nn.Sequential(torch.nn.Linear(64, 32)))
    w = q[0].weight()  # a quantized tensor: int8 values, one scale and zero point
    assert w.int_repr().dtype == torch.int8 and w.int_repr().element_size() == 1
    assert int8_bytes(64 * 32) == 64 * 32 + 16
    torch.testing.assert_close(w.dequantize(), w.dequantize().clamp(-1, 1))


def test_magnitude_pruning_removes_the_smallest_weights_globally():
    model = _lstm()
    before = torch.cat([getattr(m, n).detach().abs().flatten() for m, n in prunable(model)])
    magnitude_prune(model, 0.6)
    after = torch.cat([getattr(m, n).detach().flatten() for m, n in prunable(model)])
    assert sparsity(model) == pytest.approx(0.6, abs=1e-3)
    kept, removed = before[after != 0], before[after == 0]
    assert kept.min() >= removed.max()  # a single threshold across every matrix
    assert not any(k.endswith("_orig") for k, _ in model.named_parameters())  # made permanent


def test_a_masked_fine_tune_keeps_the_zeros():
    text = "the quick brown fox jumps over the lazy dog\n" * 40
    tok = CharTokenizer.fit(text)
    data = TokenData.from_text(text, tok)
    torch.manual_seed(0)
    model = LSTMLanguageModel(LSTMConfig(vocab_size=tok.vocab_size, hidden=32, n_layer=1, dropout=0.0))
    magnitude_prune(model, 0.5, permanent=False)
    train_lm(model, data, 5, batch_size=4, block_size=16)
    assert sparsity(model) == pytest.approx(0.5, abs=1e-3)


def test_the_gpt_keeps_its_tied_embedding_whole():
    model = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=16))
    assert all(getattr(m, n) is not model.embed.wte.weight for m, n in prunable(model))
    magnitude_prune(model, 0.5)
    assert (model.embed.wte.weight != 0).all()
    with pytest.raises(ValueError, match=r"amount is the fraction.*\[0, 1\); got 1.0"):
        magnitude_prune(model, 1.0)


@pytest.mark.slow
def test_compression_benchmark_smoke(capsys):
    path = Path(__file__).parents[1] / "benchmarks" / "compression.py"
    spec = importlib.util.spec_from_file_location("compression_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(["--smoke", "--corpus", "wiki_sample"])
    for name in ("lstm", "gpt"):
        r = result[name]
        assert r["int8"]["bytes"] < r["fp32"]["bytes"] and r["speedup"] > 0
        assert abs(r["val_loss_increase"]) < 0.1
    sweep = [r for r in result["lstm_prune"] if "amount" in r]
    assert [r["amount"] for r in sweep] == [0.0, 0.5] and sweep[1]["sparsity_after_finetune"] == 0.5
    assert '"target_met"' in capsys.readouterr().out


def test_nonzero_bytes_count_the_masked_weights_not_the_originals():
    from lmlab.compress import nonzero_bytes

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 20, bias=False), torch.nn.Linear(20, 20, bias=False))
    dense = nonzero_bytes(model)
    assert dense == 2 * 20 * 20 * 4
    magnitude_prune(model, 0.5, permanent=False)  # weight_orig keeps every value; weight has the zeros
    assert nonzero_bytes(model) == pytest.approx(dense / 2, abs=8)
    magnitude_prune(model, 0.0)
    from lmlab.compress.prune import make_permanent

    assert nonzero_bytes(make_permanent(model)) == pytest.approx(dense / 2, abs=8)
