"""int8 quantization and magnitude pruning of the LSTM and the GPT: bytes, CPU generation tokens/s and
validation loss, each model beside its own float32 self in the same run (alternating rounds).

Both models are trained briefly here on the same characters (tiny_shakespeare when cached, else the
built-in offline corpus). Target: the LSTM's int8 generation >= 1.5x float32 tokens/s with <= 0.03
nats/char more validation loss. Prints one JSON object.

    python benchmarks/compression.py                 # ~5 minutes on 2 cores
    python benchmarks/compression.py --smoke         # seconds (tests)
    python benchmarks/compression.py --torchao       # also torchao's int8 configs, if installed
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time

import torch

from lmlab.compress import magnitude_prune, model_bytes, quantize_int8, sparsity
from lmlab.compress.measure import (
    compare_speed,
    gpt_generate_tokens,
    lstm_generate_tokens,
    train_lm,
    val_batches,
)
from lmlab.data import load_text_or_fallback
from lmlab.eval.language_model import evaluate_lm
from lmlab.models.lstm.model import LSTMConfig, LSTMLanguageModel
from lmlab.models.transformer import GPT, GPTConfig
from lmlab.models.transformer.trainer import TokenData
from lmlab.tokenizers import CharTokenizer


def int8_report(model: torch.nn.Module, gen, batches: list, rounds: int) -> dict:
    """float32 against int8: bytes, validation loss, generation tokens/s (and the ratios)."""
    q = quantize_int8(model)
    speed = compare_speed({"fp32": lambda: gen(model), "int8": lambda: gen(q)}, rounds)
    fp, i8 = evaluate_lm(model, batches), evaluate_lm(q, batches)
    return {"fp32": {"bytes": model_bytes(model), "val_loss": fp, "tokens_per_s": speed["fp32"]},
            "int8": {"bytes": model_bytes(q), "val_loss": i8, "tokens_per_s": speed["int8"]},
            "speedup": speed["int8"] / speed["fp32"], "size_ratio": model_bytes(q) / model_bytes(model),
            "val_loss_increase": i8 - fp}


def prune_sweep(model: torch.nn.Module, data: TokenData, batches: list, amounts: list[float],
                finetune_iters: int, block: int, gen, rounds: int) -> list[dict]:
    """Validation loss at each sparsity, straight after pruning and after a short masked fine-tune."""
    rows = []
    for amount in amounts:
        pruned = magnitude_prune(copy.deepcopy(model), amount, permanent=False)
        row = {"amount": amount, "sparsity": sparsity(pruned), "val_loss": evaluate_lm(pruned, batches)}
        if finetune_iters:
            train_lm(pruned, data, finetune_iters, block_size=block, lr=1e-3, seed=7)
            row["val_loss_finetuned"] = evaluate_lm(pruned, batches)
            row["sparsity_after_finetune"] = sparsity(pruned)
        rows.append(row)
    # what 90 % zeros buy on a CPU: dense kernels multiply the zeros too
    dense, sparse = model, magnitude_prune(copy.deepcopy(model), max(amounts))
    speed = compare_speed({"dense": lambda: gen(dense), "pruned": lambda: gen(sparse)}, rounds)
    rows.append({"speed_at_max_sparsity": speed["pruned"] / speed["dense"],
                 "bytes_dense": model_bytes(dense), "bytes_pruned_dense_storage": model_bytes(sparse)})
    return rows


def torchao_report(model: torch.nn.Module, gen, batches: list, rounds: int) -> dict:
    """torchao's int8 configs on the GPT's Linear layers (torchao has no LSTM), if it is installed."""
    try:
        import torchao
        from torchao.quantization import (
            Int8DynamicActivationInt8WeightConfig,
            Int8WeightOnlyConfig,
            quantize_,
        )
    except Exception as err:  # noqa: BLE001 - not installed, or built for another torch
        return {"available": False, "why": f"{type(err).__name__}: {err}"[:200]}
    out: dict = {"available": True, "version": torchao.__version__}
    for name, cfg in (("int8_weight_only", Int8WeightOnlyConfig()),
                      ("int8_dynamic", Int8DynamicActivationInt8WeightConfig())):
        q = copy.deepcopy(model)
        quantize_(q, cfg)
        speed = compare_speed({"fp32": lambda: gen(model), "q": lambda q=q: gen(q)}, rounds)
        out[name] = {"speedup": speed["q"] / speed["fp32"], "val_loss": evaluate_lm(q, batches)}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="tiny_shakespeare")
    ap.add_argument("--chars", type=int, default=400_000, help="characters of the corpus used")
    ap.add_argument("--lstm-hidden", type=int, default=256)
    ap.add_argument("--lstm-layers", type=int, default=2)
    ap.add_argument("--lstm-iters", type=int, default=400)
    ap.add_argument("--gpt-iters", type=int, default=400)
    ap.add_argument("--gen-tokens", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--prune", default="0,0.1,0.3,0.5,0.7,0.8,0.9")
    ap.add_argument("--finetune-iters", type=int, default=60)
    ap.add_argument("--torchao", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for the test")
    args = ap.parse_args(argv)
    if args.smoke:
        args.chars, args.lstm_hidden, args.lstm_layers, args.lstm_iters, args.gpt_iters = 20_000, 32, 1, 5, 5
        args.gen_tokens, args.rounds, args.prune, args.finetune_iters = 8, 1, "0,0.5", 2
    torch.set_num_threads(1)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    text, used = load_text_or_fallback(args.corpus)
    text = text[:args.chars]
    tok = CharTokenizer.fit(text)
    data = TokenData.from_text(text, tok)
    block = 64 if not args.smoke else 16
    batches = val_batches(data, block_size=block)
    lstm = LSTMLanguageModel(LSTMConfig(vocab_size=tok.vocab_size, hidden=args.lstm_hidden,
                                        n_layer=args.lstm_layers, dropout=0.0))
    train_lm(lstm, data, args.lstm_iters, block_size=block)
    gpt_cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=block, n_layer=4 if not args.smoke else 1,
                        n_head=4, n_embd=128 if not args.smoke else 32)
    gpt = train_lm(GPT(gpt_cfg), data, args.gpt_iters, block_size=block)

    def lstm_gen(m):
        return lstm_generate_tokens(m, args.gen_tokens, tok.vocab_size)

    def gpt_gen(m):
        return gpt_generate_tokens(m, min(args.gen_tokens, block - 1))

    amounts = [float(a) for a in args.prune.split(",")]
    lstm_q = int8_report(lstm, lstm_gen, batches, args.rounds)
    result = {
        "corpus": used, "chars": len(text), "threads": 1,
        "lstm": {"config": {"hidden": args.lstm_hidden, "n_layer": args.lstm_layers,
                            "params": sum(p.numel() for p in lstm.parameters()), "iters": args.lstm_iters},
                 **lstm_q,
                 "target": "int8 >= 1.5x fp32 tokens/s with <= 0.03 nats/char more val loss",
                 "target_met": lstm_q["speedup"] >= 1.5 and lstm_q["val_loss_increase"] <= 0.03},
        "gpt": {"config": {"n_layer": gpt_cfg.n_layer, "n_embd": gpt_cfg.n_embd,
                           "params": gpt.num_params(), "iters": args.gpt_iters},
                **int8_report(gpt, gpt_gen, batches, args.rounds)},
        "lstm_prune": prune_sweep(lstm, data, batches, amounts, args.finetune_iters, block, lstm_gen,
                                  args.rounds),
    }
    if args.torchao:
        result["gpt_torchao"] = torchao_report(gpt, gpt_gen, batches, args.rounds)
    result["wall_s"] = time.perf_counter() - t0
    json.dump(result, sys.stdout, indent=1)
    print()
    return result


if __name__ == "__main__":
    main()
