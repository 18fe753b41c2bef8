"""Does pre-training pay? Notebook 07's class-preset comparisons in one script (issue 22), printed as tables.

(a) the scale point, polarity sample: frozen encoders + logistic regression at 16 / 50 / all labels —
    TF-IDF, MiniLM's architecture with random weights, lmlab's English BERT (``--en-seconds`` on the
    Wikipedia sample) and the shipped all-MiniLM-L6-v2;
(b) poet attribution: a bag-of-characters TF-IDF at the notebook's label counts (6 / 66 / all);
(c) dose and response: a BERT pre-trained on the Tang poems for ``--zh-seconds`` keeping snapshots at
    ``--snapshot-at``; the linear probe of each (0 s: random weights) at the same label counts;
(d) the layer probe with its controls: the pre-trained BERT against a random-init one of the same shape,
    on three questions and a control task (a random answer per character type).

Every few-label score is the mean over ``--subsets`` stratified label subsets with a 95% t-interval (all
labels: one subset, a test-set bootstrap interval). The tables go to stderr as they are measured; stdout gets
one JSON report with every number (``tests/test_bert_benchmark.py`` runs it at tiny sizes).

    LMLAB_DATA_DIR=/path/to/mirror python benchmarks/bert_transfer.py --out runs/transfer
    python benchmarks/bert_transfer.py --zh-seconds 3600 --snapshot-at 180,600,1800   # the long dose curve
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lmlab.cli import main as lmlab_main
from lmlab.data import load_text
from lmlab.eval.few_labels import few_label_curve, format_curve, tfidf_features
from lmlab.eval.layer_probe import layer_states, probe_layers
from lmlab.models.bert.finetune import EncoderClassifier, encode_batch, encode_features, poet_dataset
from lmlab.models.bert.prenorm import build_encoder
from lmlab.models.bert.trainer import load_bert, snapshots
from lmlab.models.classifier import load_polarity, stratified_split
from lmlab.models.pretrained import load_minilm, sentence_vectors, untrained_like


def train(out: Path, argv: list[str]) -> Path:
    if not (out / "metrics.json").exists():  # a finished run is reused
        lmlab_main(["train", "bert", *argv, "--device", "cpu", "--no-progress", "--out", str(out)])
    return out


def features(model: torch.nn.Module, vocab, texts: list[str], n_classes: int) -> np.ndarray:
    ids, mask = encode_batch(vocab, texts, model.config.block_size)
    return encode_features(EncoderClassifier(model, n_classes), ids, mask)[0]


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bert_transfer"))
    ap.add_argument("--subsets", type=int, default=5)
    ap.add_argument("--en-seconds", type=float, default=60.0)
    ap.add_argument("--zh-seconds", type=float, default=170.0)
    ap.add_argument("--snapshot-at", default="20,60,120")
    ap.add_argument("--per-poet", type=int, default=300)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    report: dict = {"subsets": args.subsets, "en_seconds": args.en_seconds, "zh_seconds": args.zh_seconds}

    texts, y = load_polarity()
    texts = [t.lower() for t in texts]
    tr, te = stratified_split(y, 0.25, seed=0)
    en_model, en_vocab, _ = load_bert(train(args.out / "bert_en", [
        "--corpus", "wiki_sample", "--tokenizer", "bpe", "--preset", "class", "--vocab-size", "2000",
        "--time-budget", str(args.en_seconds)]))
    minilm = load_minilm()
    rows = few_label_curve({"TF-IDF": tfidf_features(texts, tr),
                            "random init (MiniLM's shape)": sentence_vectors(untrained_like(minilm), texts),
                            f"lmlab BERT ({args.en_seconds:g} s)": features(en_model, en_vocab, texts, 2),
                            "MiniLM": sentence_vectors(minilm, texts)},
                           y, tr, te, (16, 50, None), n_subsets=args.subsets)
    report["polarity"] = {"test_sentences": len(te), "curve": rows}
    say(f"(a) polarity, frozen encoders + logistic regression, {len(te)} test sentences\n"
        + format_curve(rows))

    ptexts, plabels, poets = poet_dataset(per_poet=args.per_poet, fallback=True)
    ptr, pte = stratified_split(plabels, 0.25, seed=0)
    per_class = len(ptr) // len(poets)
    counts = [len(poets) * max(1, round(per_class * f)) for f in (0.01, 0.1)] + [None]  # the notebook's
    prows = few_label_curve({"TF-IDF (characters)": tfidf_features(ptexts, ptr, analyzer="char",
                                                                  ngram_range=(1, 2))},
                            plabels, ptr, pte, counts, n_subsets=args.subsets)
    report["poets"] = {"test_poems": len(pte), "curve": prows}
    say(f"(b) poet attribution, {len(pte)} test poems\n" + format_curve(prows))

    zh = train(args.out / "bert_zh", ["--corpus", "tang_poems", "--preset", "class", "--time-budget",
                                      str(args.zh_seconds), "--snapshot-at", args.snapshot_at])
    zh_model, zh_vocab, _ = load_bert(zh)
    metrics = json.loads((zh / "metrics.json").read_text())
    say(f"zh BERT: {metrics['train_s']:.0f} s, {metrics['iters']} steps, masked accuracy "
          f"{metrics['masked_acc']:.3f}, snapshots {[p.name for _, p in snapshots(zh)]}")
    cfg = zh_model.config
    torch.manual_seed(0)
    random_zh = build_encoder("bert", zh_vocab.vocab_size, zh_vocab.pad_id,
                              **{k: getattr(cfg, k) for k in ("n_layer", "n_head", "n_embd", "block_size",
                                                              "dropout")})
    doses = [(0.0, random_zh), *((t, load_bert(p)[0]) for t, p in snapshots(zh)),
             (metrics["train_s"], zh_model)]
    report["dose"] = []
    for seconds, model in doses:
        r = few_label_curve({"probe": features(model, zh_vocab, ptexts, len(poets))}, plabels, ptr, pte,
                            counts, n_subsets=args.subsets)
        report["dose"].append({"seconds": seconds, "curve": r})
        say(f"(c) probe after {seconds:6.1f} s: " + ";  ".join(
            f"{x['n_labels']} labels {x['accuracy']:.2f} [{x['accuracy_lo']:.2f}, {x['accuracy_hi']:.2f}]"
            for x in r))

    lines = [s for s in load_text("tang_poems").splitlines() if 10 <= len(s) <= 24][:400]
    ids, mask = encode_batch(zh_vocab, lines, cfg.block_size)
    pos = torch.arange(ids.size(1)).expand_as(ids)
    half, rhyme = torch.zeros_like(ids), torch.zeros_like(ids)
    for r, s in enumerate(lines):  # as notebook 07's layer-probe cell
        k = 0
        for j, ch in enumerate(s, start=1):
            half[r, j] = min(k, 7)
            k = 0 if ch in "，。？！；" else k + 1
            rhyme[r, j] = int(j < len(s) and s[j] == "。")
    where = mask.bool() & (pos > 0) & (ids < zh_vocab.base.vocab_size)
    control = torch.as_tensor(np.random.default_rng(0).integers(8, size=zh_vocab.vocab_size))[ids]
    states, random_states = layer_states(zh_model, ids, mask), layer_states(random_zh, ids, mask)
    report["layer_probe"] = {}
    for q, target in {"position in window": pos.clamp(max=15), "position in half-line": half,
                      "rhyme slot": rhyme, "control task": control}.items():
        trained, untrained = probe_layers(states, target, where), probe_layers(random_states, target, where)
        report["layer_probe"][q] = {"pre_trained": trained, "random_init": untrained}
        say(f"(d) {q:22} pre-trained {[round(a, 2) for a in trained]}  "
            f"random init {[round(a, 2) for a in untrained]}")
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
