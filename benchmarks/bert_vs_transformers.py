"""MLM pre-training tokens/s: lmlab's BertForMaskedLM vs transformers' BertForMaskedLM of the same size.

Both start from the same weights (lmlab's, copied into transformers' model), train on the same masked
batches (15% / 80-10-10 of windows of the Tang poems, or of random ids with ``--corpus random``) with the
same optimizer (``torch.optim.AdamW``, not fused, lr 1e-4), the same threads, fp32 on the CPU. Rounds
alternate between the two in one process so a busy machine slows both alike. Prints one JSON object;
``ratio`` = lmlab / transformers tokens/s (target >= 1.0).

Where the time goes differently: transformers' MLM head decodes every position into the vocabulary
(B·T·V logits) and the loss ignores 85% of them; lmlab's ``only_masked=True`` decodes only the masked
positions, the same loss and gradients (tests/test_bert_model.py) for ~15% of the head's work.
``ratio_same_work`` times lmlab decoding every position too (``lmlab_all_positions``): the two encoders
compared like for like.

    python benchmarks/bert_vs_transformers.py                          # class-preset size, 1 thread
    python benchmarks/bert_vs_transformers.py --threads 2 --rounds 5
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time

import torch


def batches(args: argparse.Namespace) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], int]:
    """``args.steps`` masked (inputs, targets) pairs and the vocabulary size."""
    from lmlab.models.bert.data import MLMData
    from lmlab.models.bert.trainer import masked_batch
    from lmlab.models.bert.vocab import BertVocab
    from lmlab.tokenizers import CharTokenizer

    if args.corpus == "random":
        text = "".join(chr(0x4E00 + i) for i in torch.randint(args.vocab, (200_000,)).tolist())
    else:
        from lmlab.data import load_text

        text = load_text(args.corpus)[:args.max_chars]
    vocab = BertVocab(CharTokenizer.fit(text))
    cut = int(len(text) * 0.9)
    data = MLMData.from_text(text[:cut], text[cut:], vocab)
    g = torch.Generator().manual_seed(0)
    out = [masked_batch(data, "train", args.batch_size, args.block_size, g, vocab, 0.15)
           for _ in range(args.steps)]
    return out, vocab.vocab_size


def run(model: torch.nn.Module, opt: torch.optim.Optimizer, data: list, side: str) -> float:
    """Seconds for one pass over ``data`` (forward, backward, clip, step, a host sync per step)."""
    t0 = time.perf_counter()
    for x, y in data:
        if side == "transformers":
            loss = model(input_ids=x, labels=y).loss
        else:
            _, loss = model(x, y, only_masked=side == "lmlab")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="tang_poems", help="a corpus name or file, or 'random'")
    p.add_argument("--max-chars", type=int, default=2_000_000)
    p.add_argument("--vocab", type=int, default=6000, help="vocabulary of --corpus random")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=10, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per side")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)

    import transformers

    from lmlab.export import to_hf_bert
    from lmlab.models.bert import BertConfig, BertForMaskedLM

    torch.set_num_threads(args.threads)
    data, vocab_size = batches(args)
    torch.manual_seed(0)
    ours = BertForMaskedLM(BertConfig(vocab_size=vocab_size, block_size=args.block_size, n_layer=args.n_layer,
                                      n_head=args.n_head, n_embd=args.n_embd)).train()
    theirs = to_hf_bert(ours).train()
    same_work = copy.deepcopy(ours)  # lmlab decoding every position, as transformers does
    sides = {"lmlab": ours, "transformers": theirs, "lmlab_all_positions": same_work}
    opts = {name: torch.optim.AdamW(m.parameters(), lr=1e-4, foreach=True) for name, m in sides.items()}
    for name, m in sides.items():  # warm-up: allocator, kernels
        run(m, opts[name], data[:2], name)
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, m in sides.items():
            seconds[name].append(run(m, opts[name], data, name))
    tokens = args.steps * args.batch_size * args.block_size
    report = {"device": "cpu", "precision": "fp32", "threads": args.threads, "torch": torch.__version__,
              "transformers_version": transformers.__version__, "corpus": args.corpus,
              "vocab_size": vocab_size,
              "n_layer": args.n_layer, "n_head": args.n_head, "n_embd": args.n_embd,
              "block_size": args.block_size, "batch_size": args.batch_size, "steps_per_round": args.steps,
              "params": sum(p.numel() for p in ours.parameters())}
    for name in sides:
        report[name] = {"tokens_per_sec": tokens / statistics.median(seconds[name]),
                        "round_seconds": [round(s, 3) for s in seconds[name]]}
    report["ratio"] = report["lmlab"]["tokens_per_sec"] / report["transformers"]["tokens_per_sec"]
    # the same work on both sides (every position decoded): the encoder implementations alone
    report["ratio_same_work"] = (report["lmlab_all_positions"]["tokens_per_sec"]
                                 / report["transformers"]["tokens_per_sec"])
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
