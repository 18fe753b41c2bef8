"""lmlab's encoder–decoder Transformer vs ``torch.nn.Transformer``: training tokens/s, and generation with
vs without the caches (decoder K/V + encoder memory K/V), per output length.

Training: lmlab's own training step (the engine's, with ``Seq2SeqRecipe``: warm-up lr, batch, teacher
forcing, smoothed loss, clipping, lmlab's AdamW) against the loop one writes by hand around
``torch.nn.Transformer`` of the same size and layout (same embeddings, same tied output layer, same
batches, the same optimizer ``lmlab.train.optim.adamw`` with the same betas, ``F.cross_entropy`` with the
same label smoothing). Rounds alternate in one process, so a busy machine slows both alike; ``ratio`` =
lmlab / torch (target >= 1.0). Tokens = source + target tokens that are not padding.

Generation: an untrained model (its </s> row zeroed so that every output runs to full length) decodes
``length`` tokens greedily and with a beam, with caches and recomputing everything; ``speedup`` = without /
with (seconds per source).

    python benchmarks/seq2seq_vs_torch.py                       # class-preset size, 1 thread, CPU
    python benchmarks/seq2seq_vs_torch.py --post-ln --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def _pairs(n: int, vocab_size: int, seed: int = 0) -> list[tuple[str, str]]:
    """Random 5- and 7-character 'couplets' over ``vocab_size`` CJK characters (sizes as the real data)."""
    g = torch.Generator().manual_seed(seed)
    chars = [chr(0x4E00 + i) for i in range(vocab_size)]
    out = []
    for i in range(n):
        L = 5 if i % 2 else 7
        a, b = torch.randint(vocab_size, (2, L), generator=g).tolist()
        out.append(("".join(chars[j] for j in a), "".join(chars[j] for j in b)))
    return out


def training(args: argparse.Namespace) -> dict:
    from lmlab.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer, Seq2SeqVocab
    from lmlab.models.seq2seq.batches import PairTensors
    from lmlab.models.seq2seq.couplets import CoupletData
    from lmlab.models.seq2seq.torch_reference import torch_transformer_like
    from lmlab.models.seq2seq.trainer import Seq2SeqRecipe, TrainConfig
    from lmlab.models.seq2seq.vocab import PAD
    from lmlab.train.engine import start
    from lmlab.train.loop import step_generator
    from lmlab.train.optim import adamw

    pairs = _pairs(4000, args.vocab)
    vocab = Seq2SeqVocab.fit([s for p in pairs for s in p])
    cfg = Seq2SeqConfig(vocab_size=vocab.vocab_size, d_model=args.d_model, n_head=args.n_head,
                        n_layer=args.n_layer, dropout=args.dropout, norm_first=not args.post_ln, max_len=8)
    torch.manual_seed(0)
    ours = Seq2SeqTransformer(cfg)
    tcfg = TrainConfig(batch_size=args.batch_size, max_iters=10**9, lr=2e-3, warmup_iters=100)
    couplets = CoupletData(pairs, pairs[:8], pairs[:8], "random")
    session = start(Seq2SeqRecipe(tcfg, couplets, vocab), model=ours, progress=False).session

    torch.manual_seed(0)
    template = Seq2SeqTransformer(cfg)
    ref = torch_transformer_like(template).train()
    embed = template.embed.train()  # the same embedding module: tokens · √C + sinusoids
    params = list(ref.parameters()) + list(embed.parameters())
    opt = adamw(nn.ModuleList([ref, embed]), lr=2e-3, betas=(0.9, 0.98))  # the optimizer lmlab's step uses
    data = PairTensors.from_pairs(pairs, vocab, cfg.max_len)

    def torch_step(it: int) -> int:
        src, tgt_in, tgt_out = data.batch(step_generator(tcfg.seed * 1009, it), args.batch_size)
        pad = src == PAD
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.size(1))
        h = ref(embed(src), embed(tgt_in), tgt_mask=causal, src_key_padding_mask=pad,
                memory_key_padding_mask=pad, tgt_is_causal=True)
        logits = h @ embed.wte.weight.T
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        loss.item()  # the same host sync per step as lmlab's trainer, which checks the loss is finite
        return int((src != PAD).sum() + (tgt_out != PAD).sum())

    def lmlab_step(it: int) -> int:
        return int(session.step(it)["tokens"])

    rates: dict[str, list[float]] = {"lmlab": [], "torch": []}
    it = {"lmlab": 0, "torch": 0}
    for name, fn in (("lmlab", lmlab_step), ("torch", torch_step)):  # warm-up, untimed
        for _ in range(args.warmup):
            fn(it[name])
            it[name] += 1
    for _ in range(args.rounds):
        for name, fn in (("lmlab", lmlab_step), ("torch", torch_step)):
            t0, tokens = time.perf_counter(), 0
            for _ in range(args.iters):
                tokens += fn(it[name])
                it[name] += 1
            rates[name].append(tokens / (time.perf_counter() - t0))
    lm, tr = statistics.median(rates["lmlab"]), statistics.median(rates["torch"])
    return {"lmlab_tokens_per_sec": round(lm, 1), "torch_tokens_per_sec": round(tr, 1),
            "ratio": round(lm / tr, 3), "rounds": args.rounds, "iters_per_round": args.iters,
            "params": ours.num_params()}


def generation(args: argparse.Namespace) -> list[dict]:
    from lmlab.models.seq2seq import EOS, Seq2SeqConfig, Seq2SeqTransformer
    from lmlab.models.seq2seq.decode import beam_search, greedy

    rows = []
    for length in args.lengths:
        torch.manual_seed(0)
        cfg = Seq2SeqConfig(vocab_size=args.vocab, d_model=args.d_model, n_head=args.n_head,
                            n_layer=args.n_layer, dropout=0.0, norm_first=not args.post_ln,
                            max_len=max(length, 7) + 1)
        model = Seq2SeqTransformer(cfg).eval()
        with torch.no_grad():
            model.embed.wte.weight[EOS] = 0  # </s> gets logit 0, far below the best: outputs run full length
        src = torch.randint(4, args.vocab, (1, 7), generator=torch.Generator().manual_seed(1))
        row = {"length": length}
        runs = {"greedy": lambda c, m=model, s=src, n=length: greedy(m, s, n, use_cache=c),
                "beam": lambda c, m=model, s=src, n=length: beam_search(m, s, args.beam, n, use_cache=c)}
        for name, run in runs.items():
            seconds = {}
            for cache in (True, False):
                run(cache)  # warm-up
                times = []
                for _ in range(args.gen_repeats):
                    t0 = time.perf_counter()
                    out = run(cache)
                    times.append(time.perf_counter() - t0)
                seconds[cache] = statistics.median(times)
            produced = len(out[0]) if name == "greedy" else len(out[0].ids)
            row[name] = {"cached_s": round(seconds[True], 5), "recompute_s": round(seconds[False], 5),
                         "speedup": round(seconds[False] / seconds[True], 2), "tokens": produced}
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--vocab", type=int, default=3000)
    p.add_argument("--post-ln", action="store_true", help="the paper's layout (default: pre-LN, lmlab's)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iters", type=int, default=20, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--lengths", type=int, nargs="+", default=[8, 16, 32, 64])
    p.add_argument("--beam", type=int, default=4)
    p.add_argument("--gen-repeats", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {"benchmark": "seq2seq_vs_torch", "torch": torch.__version__, "threads": args.threads,
              "layout": "post-LN" if args.post_ln else "pre-LN",
              "size": {"d_model": args.d_model, "n_head": args.n_head, "n_layer": args.n_layer,
                       "batch_size": args.batch_size, "vocab": args.vocab},
              "training": training(args), "generation": generation(args)}
    json.dump(result, sys.stdout, indent=2)
    print()
    return result


if __name__ == "__main__":
    main()
