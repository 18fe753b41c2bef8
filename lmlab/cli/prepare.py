"""``lmlab prepare``: train ahead of a lesson every model the notebooks train, into the classroom mirror.

    lmlab data fetch --all --dest /share/lmlab     # the corpora
    lmlab prepare --preset class --dest /share/lmlab  # the models (overnight on a laptop, or on a GPU)

Each run goes to ``DEST/prepared/PRESET/NAME/`` with its checkpoint, metrics, live-view figure and samples;
``prepared.json`` is written last, so an interrupted ``prepare`` resumes with the first unfinished run, and a
run whose settings are unchanged (same config hash) is skipped. A run in ``RESUMES`` goes on inside itself:
``preparing.json`` names the configuration an unfinished folder holds, and when it is today's the job
resumes from its last checkpoint (06's quality curve keeps each finished stage) instead of starting again.
Long jobs show their progress bar (a line every 30 s in a log). Students point ``LMLAB_DATA_DIR`` at DEST.
Each job below trains exactly as its notebook cell does.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from lmlab.cli import prepare_bert, prepare_compress, prepare_seq2seq
from lmlab.prepared import (
    JOBS,
    POEM_SIZES,
    RACE_S,
    SEQ2SEQ_RUNS,
    TANG,
    W2V_SIZES,
    config_hash,
    default_root,
    edition_dir,
    is_current,
    job_config,
    live_recorder,
    record_prepared,
    record_problem,
    run_dir,
    start_from,
)
from lmlab.presets import PRESETS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"runs to prepare (default: all: {', '.join(JOBS)})")
    p.add_argument("--preset", choices=PRESETS, default=None,
                   help="preset the notebooks will run in (default: $LMLAB_PRESET, else from the device)")
    p.add_argument("--dest", default=None,
                   help="the classroom mirror to write into (default: $LMLAB_DATA_DIR, else the cache)")
    p.add_argument("--force", action="store_true", help="retrain runs that are already prepared and current")
    p.add_argument("--list", action="store_true",
                   help="list the runs and whether each is prepared; train none")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")


# ---------------------------------------------------------------- the jobs: the notebooks' training cells

def shakespeare_corpus(preset: str) -> tuple[str, str]:
    """Tiny Shakespeare (or the fallback text), as notebooks 02 and 03 load it."""
    from lmlab.data import load_text_or_fallback

    return load_text_or_fallback("tiny_shakespeare")


def wiki_corpus(preset: str) -> tuple[str, str]:
    """Notebook 01's Wikipedia sample (or the fallback text)."""
    from lmlab.data import load_text_or_fallback

    return load_text_or_fallback("wiki_sample")


def _poems(preset: str, table: dict[str, dict[str, Any]]) -> tuple[str, str]:
    from lmlab.models.lstm.poems import poem_corpus

    return poem_corpus(max_vocab=3000, max_poems=table[preset]["max_poems"])


def lstm_poems_corpus(preset: str) -> tuple[str, str]:
    """Notebook 02's Tang poems."""
    return _poems(preset, POEM_SIZES)


def gpt_poems_corpus(preset: str) -> tuple[str, str]:
    """Notebook 03's Tang poems."""
    return _poems(preset, TANG)


def _lstm_job(preset: str, text: str, corpus: str, out: Path, device: Any, poems: bool) -> tuple[dict, list]:
    from lmlab.data import train_val_split
    from lmlab.models import lstm as L

    sizes = {k: v for k, v in POEM_SIZES[preset].items() if k != "max_poems"} if poems else {}
    train_text, val_text = train_val_split(text, 0.9)
    config = L.preset_config(preset, device=device.type, corpus=corpus, **sizes)
    run = L.train_lstm(config, train_text, out, val_text=val_text, overwrite=True,
                       live=live_recorder("lstm", out), progress=True, sample_prompt="\n" if poems else None)
    if poems:
        samples = [L.generate_poem(run.model, run.tokenizer, chars_per_line=n, n_lines=4, seed=s)
                   for n, s in ((5, 1), (7, 2))]
    else:
        prime = "ROMEO:\n" if corpus == "tiny_shakespeare" else val_text[:20]
        samples = [L.generate(run.model, run.tokenizer, prime, 200, temperature=0.8, seed=0)]
    return run.metrics, samples


def _gpt_data(preset: str, text: str) -> tuple[Any, Any, Any, str, str]:
    from lmlab.data import train_val_split
    from lmlab.models.transformer.trainer import TokenData
    from lmlab.tokenizers import CharTokenizer

    if preset == "smoke":
        text = text[:400_000]  # as notebook 03
    train_text, val_text = train_val_split(text, 0.9)
    tok = CharTokenizer.fit(text)
    return TokenData.from_text(train_text, tok, val_text=val_text), tok, text, train_text, val_text


def _gpt_parts(preset: str, vocab_size: int, **model: Any) -> tuple[Any, Any]:
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.models.transformer.trainer import PRESETS as GPT_PRESETS
    from lmlab.models.transformer.trainer import TrainConfig

    values = dict(GPT_PRESETS[preset])
    sizes = {k: values[k] for k in ("n_layer", "n_head", "n_embd", "block_size")} | model
    train_keys = ("batch_size", "max_iters", "lr", "min_lr", "warmup_iters", "lr_decay_iters",
                  "eval_interval", "eval_iters", "time_budget_s")
    gpt = GPT(GPTConfig(vocab_size=vocab_size, dropout=values["dropout"], **sizes))
    return gpt, TrainConfig(**{k: values[k] for k in train_keys})


def lstm_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 02's character LSTM."""
    return _lstm_job(preset, text, corpus, out, device, poems=False)


def lstm_poems_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 02's LSTM poet."""
    return _lstm_job(preset, text, corpus, out, device, poems=True)


def gpt_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    from lmlab.device import pick_precision
    from lmlab.models.transformer import sample_text
    from lmlab.models.transformer.trainer import train_gpt

    data, tok, _, _, val_text = _gpt_data(preset, text)
    model, tcfg = _gpt_parts(preset, tok.vocab_size)
    result = train_gpt(model, data, tcfg, tokenizer=tok, device=device, precision=pick_precision(device),
                       out_dir=out, live=live_recorder("GPT on " + corpus, out), progress=True)
    prompt = "ROMEO:" if corpus == "tiny_shakespeare" else val_text[:20]
    return result.metrics, [sample_text(model, tok, prompt, 200, temperature=0.8, top_k=10, seed=0)]


def gpt_poems_job(preset: str, poems: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    from lmlab.device import pick_precision
    from lmlab.models.transformer import sample_text
    from lmlab.models.transformer.trainer import PRESETS as GPT_PRESETS
    from lmlab.models.transformer.trainer import TokenData, train_gpt
    from lmlab.tokenizers import CharTokenizer

    poem_tok = CharTokenizer.fit(poems)
    poem_data = TokenData.from_text(poems, poem_tok, train_fraction=0.9)
    block = min(GPT_PRESETS[preset]["block_size"], len(poem_data.val) - 2)
    model, tcfg = _gpt_parts(preset, poem_tok.vocab_size, block_size=block)
    t = TANG[preset]
    cfg = replace(tcfg, max_iters=t["max_iters"], lr_decay_iters=t["max_iters"],
                  time_budget_s=t["time_budget_s"])
    result = train_gpt(model, poem_data, cfg, tokenizer=poem_tok, device=device,
                       precision=pick_precision(device), out_dir=out,
                       live=live_recorder("GPT on Tang poems", out), progress=True)
    samples = [sample_text(model, poem_tok, poems[0], 60, temperature=0.8, top_k=20, seed=s).split("\n\n")[0]
               for s in range(3)]
    return result.metrics, samples


def race_hidden(vocab_size: int, gpt_params: int) -> int:
    """The LSTM width (2 layers) whose parameter count is closest to the GPT's: notebook 03's bisection."""
    from lmlab.models.lstm import LSTMConfig, LSTMLanguageModel

    def lstm_params(hidden: int) -> int:
        return LSTMLanguageModel(LSTMConfig(vocab_size=vocab_size, n_embd=hidden, hidden=hidden,
                                            n_layer=2)).num_params()

    low, high = 8, 1024
    while high - low > 4:
        mid = (low + high) // 2
        low, high = (mid, high) if lstm_params(mid) < gpt_params else (low, mid)
    return min((low, high), key=lambda h: abs(lstm_params(h) - gpt_params))


def race_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    from lmlab.device import pick_precision
    from lmlab.models.lstm import LSTMTrainConfig, train_lstm
    from lmlab.models.transformer.trainer import PRESETS as GPT_PRESETS
    from lmlab.models.transformer.trainer import train_gpt

    data, tok, _, train_text, val_text = _gpt_data(preset, text)
    race_s = RACE_S[preset]
    race_gpt, tcfg = _gpt_parts(preset, tok.vocab_size)
    hidden = race_hidden(tok.vocab_size, race_gpt.num_params())
    race_cfg = replace(tcfg, max_iters=10**9, lr_decay_iters=10**9, eval_interval=10**9, time_budget_s=race_s)
    gpt_run = train_gpt(race_gpt, data, race_cfg, device=device, precision=pick_precision(device),
                        progress=True)
    lstm_cfg = LSTMTrainConfig(corpus=corpus, n_layer=2, hidden=hidden, time_budget_s=race_s, max_iters=10**9,
                               eval_interval=0, device=device.type, max_eval_tokens=20_000,
                               warmup_iters=GPT_PRESETS[preset]["warmup_iters"])
    lstm_run = train_lstm(lstm_cfg, train_text, None, val_text=val_text, tokenizer=tok, progress=True)
    return {"race": {"GPT": gpt_run.metrics, "LSTM": lstm_run.metrics}, "hidden": hidden}, []


def students_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 05's two students, distilled from the prepared ``03_gpt_shakespeare`` beside ``out``."""
    import torch

    from lmlab.checkpoint import load_checkpoint, save_checkpoint
    from lmlab.models.distill import DistillConfig, distill
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.models.transformer.generate import load_for_sampling
    from lmlab.models.transformer.trainer import TokenData
    from lmlab.prepared import DISTILL_ITERS, STUDENT_ALPHAS
    from lmlab.train import History

    teacher_dir = start_from("03_gpt_shakespeare", out, preset, corpus)
    teacher, tok = load_for_sampling(load_checkpoint(teacher_dir), device)
    try:
        chars = 400_000 if preset == "smoke" else 1_000_000
        data = TokenData.from_text(text[:chars], tok)  # as notebook 05, from here on
    except ValueError as err:  # the notebook trains its own teacher then, and distils from that one
        print(f"05_students: 03's GPT does not cover the corpus {corpus!r} ({err}); nothing to prepare")
        return {"histories": {}, "unusable": str(err)}, []
    block = min(64, teacher.config.block_size)

    def get_batch(it: int, split: str = "train", batch: int = 16) -> Any:
        return data.batch(split, batch, block, torch.Generator().manual_seed(it))

    val_batches = [get_batch(10_000 + i, "val") for i in range(8)]
    student_cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=block, n_layer=1, n_head=2,
                            n_embd=max(32, teacher.config.n_embd // 4))
    iters = DISTILL_ITERS[preset]
    histories = {}
    for alpha in STUDENT_ALPHAS:
        torch.manual_seed(0)
        student = GPT(student_cfg).to(device)
        history = History()
        distill(teacher, student, get_batch,
                DistillConfig(temperature=2.0, alpha=alpha, lr=3e-3, max_iters=iters), device=device,
                val_batches=val_batches, eval_interval=max(10, iters // 8), history=history, progress=False)
        save_checkpoint(out / f"student_{alpha}" / "ckpt.pt", model=student, config=student_cfg, kind="gpt",
                        tokenizer=tok, history=history.records)
        histories[str(alpha)] = history.records
    return {"histories": histories, "distill_iters": iters}, []


def _word2vec_job(model: str, preset: str, text: str, out: Path) -> tuple[dict, list]:
    from lmlab.models.word2vec import Vocab, tokenize, train_word2vec
    from lmlab.prepared import WATCH, save_word2vec, word2vec_config

    sentences = tokenize(text)
    words = W2V_SIZES[preset]["words"]
    if words:  # as notebook 01: the first `words` words
        kept, n = [], 0
        for s in sentences:
            kept.append(s[: words - n])
            n += len(kept[-1])
            if n >= words:
                break
        sentences = kept
    vocab = Vocab.build(sentences, min_count=5)
    watch = {"snapshot_words": WATCH, "snapshots_per_epoch": 2} if model == "skipgram" else {}
    result = train_word2vec(sentences, word2vec_config(model, preset), vocab=vocab,
                            live=live_recorder("skip-gram" if model == "skipgram" else "CBOW", out), **watch)
    save_word2vec(result, out)
    return {"words_per_sec": result.words_per_sec, "wall_s": result.wall_s}, []


def skipgram_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 01's skip-gram vectors (and their snapshots)."""
    return _word2vec_job("skipgram", preset, text, out)


def cbow_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 01's CBOW vectors."""
    return _word2vec_job("cbow", preset, text, out)


_seq2seq_jobs = {"rnn": prepare_seq2seq.rnn_job, "rnn-attention": prepare_seq2seq.rnn_attention_job,
                 "transformer": prepare_seq2seq.transformer_job}
# How ``lmlab prepare`` trains each run of lmlab.prepared.JOBS: name -> (data, train), as its notebook does.
# data(preset) -> (text, corpus name): what ``train`` reads, and the name hashed into the run's config.
# train(preset, text, corpus, out, device) -> (metrics dict, samples), its files written into ``out``.
TRAIN: dict[str, tuple[Callable[..., tuple[Any, str]], Callable[..., tuple[dict, list]]]] = {
    "01_skipgram": (wiki_corpus, skipgram_job),
    "01_cbow": (wiki_corpus, cbow_job),
    "02_lstm_shakespeare": (shakespeare_corpus, lstm_job),
    "02_lstm_poems": (lstm_poems_corpus, lstm_poems_job),
    "03_gpt_shakespeare": (shakespeare_corpus, gpt_job),
    "03_gpt_poems": (gpt_poems_corpus, gpt_poems_job),
    "03_race": (shakespeare_corpus, race_job),
    "05_students": (shakespeare_corpus, students_job),
    **{name: (prepare_seq2seq.couplets, functools.partial(_seq2seq_jobs[arch], resume=True, progress=True))
       for arch, name in SEQ2SEQ_RUNS.items()},
    "06_reversal": (prepare_seq2seq.reversal, prepare_seq2seq.reversal_job),
    "06_quality_curve": (prepare_seq2seq.couplets,
                         functools.partial(prepare_seq2seq.quality_curve_job, resume=True, progress=True)),
    "07_bert_zh": (prepare_bert.poems, prepare_bert.bert_zh_job),
    "07_bert_en": (prepare_bert.wiki, prepare_bert.bert_en_job),
    "07_gpt_zh": (prepare_bert.poems, prepare_bert.gpt_zh_job),
    "07_finetune": (prepare_bert.poems, prepare_bert.finetune_job),
    "08_compress_models": (shakespeare_corpus, prepare_compress.compress_job),
    "08_small_models": (shakespeare_corpus, prepare_compress.small_models_job),
    "08_hygiene": (shakespeare_corpus, prepare_compress.hygiene_job),
    "08_augment": (prepare_compress.polarity, prepare_compress.augment_job),
}
# The runs whose training goes on from an unfinished folder of the same configuration (``preparing.json``
# names it) instead of starting again: the long staged ones.
RESUMES = {"06_quality_curve", *SEQ2SEQ_RUNS.values()}


def corpus_of(name: str, preset: str) -> tuple[Any, str]:
    """(what the run ``name`` trains on, its corpus name), loaded as its notebook loads it."""
    data, _ = TRAIN[name]
    return data(preset)


def train_job(name: str, preset: str, text: Any, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Train the run ``name`` into ``out`` as its notebook does: (metrics, samples)."""
    _, train = TRAIN[name]
    return train(preset, text, corpus, out, device)


# ---------------------------------------------------------------- the command

STARTED = "preparing.json"  # written when a run starts: which configuration the unfinished folder holds


def _cost(device: Any, wall_s: float, resumed: bool) -> dict[str, Any]:
    """What preparing a run took, recorded beside it (README's cost table reads it; not hashed).
    ``resumed``: ``wall_s`` is the last part's only (its training seconds, in the metrics, count them all)."""
    import torch

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    return {"wall_s": round(wall_s, 1), "device": device.type, "device_name": name,
            "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "resumed": resumed}


def _resumable(out: Path, name: str, config: dict[str, Any]) -> bool:
    """True when ``out`` holds an unfinished run of exactly ``config`` that ``name``'s training resumes."""
    if name not in RESUMES:
        return False
    try:
        started = json.loads((out / STARTED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(started, dict) and started.get("hash") == config_hash(config)


def run(args: argparse.Namespace) -> int:
    from lmlab.device import pick_device
    from lmlab.errors import UsageError
    from lmlab.presets import resolve_preset
    from lmlab.train.metrics import write_json_atomic

    unknown = [n for n in args.names if n not in JOBS]
    if unknown:
        raise UsageError(f"no prepared run called {unknown[0]!r}; choose from {', '.join(JOBS)} "
                         "('lmlab prepare --list' shows each and whether it is prepared)")
    device = pick_device(args.device)
    preset = resolve_preset(args.preset, device)
    root = Path(args.dest).expanduser().resolve() if args.dest else default_root()
    if not args.list:
        from lmlab.mirror import refuse_mirror_write

        refuse_mirror_write(root, "prepare runs in")  # before a stale run there is removed
    names = []
    for name in args.names or list(JOBS):  # a run's starting points are prepared before it
        names += [n for n in (*JOBS[name].needs, name) if n not in names]
    edition = next((e for n in names if (e := edition_dir(n))), None)
    where = f" (Chinese edition: the runs that read the poems go to {preset}/{edition}/)" if edition else ""
    print(f"lmlab prepare: {len(names)} run(s), preset {preset}, device {device.type}, "
          f"into {root / 'prepared'}{where}", flush=True)
    t_all = time.perf_counter()
    done = skipped = 0
    for k, name in enumerate(names, 1):
        text, corpus = corpus_of(name, preset)
        config = job_config(name, preset, corpus)
        out = run_dir(root, preset, name)
        head = f"[{k}/{len(names)}] {name} ({JOBS[name].about}, {corpus})"
        if is_current(out, config) and not args.force:
            print(f"{head}: prepared and current, skipped", flush=True)
            skipped += 1
            continue
        broken = record_problem(out)
        if args.list:
            print(f"{head}: {broken}; not prepared" if broken else f"{head}: not prepared", flush=True)
            continue
        if broken:
            print(f"{head}: {broken}: training it again", flush=True)
        resume = not args.force and _resumable(out, name, config)
        print(f"{head}: {'resuming the unfinished run' if resume else 'training'} ... "
              f"({time.perf_counter() - t_all:.0f} s so far)", flush=True)
        if not resume:
            if out.exists():
                shutil.rmtree(out)  # a half-finished or stale run: start it again from scratch
            out.mkdir(parents=True)
            write_json_atomic(out / STARTED, {"hash": config_hash(config), "job": name,
                                             "started": time.strftime("%Y-%m-%d %H:%M")})
        t0 = time.perf_counter()
        try:
            metrics, samples = train_job(name, preset, text, corpus, out, device)
            if metrics.get("stopped") == "interrupted":  # a trainer that stopped cleanly on Ctrl-C
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            again = ("goes on from its last checkpoint" if name in RESUMES else "starts it again")
            print(f"{head}: interrupted after {time.perf_counter() - t0:.0f} s; the same command skips the "
                  f"runs already prepared and {again}", file=sys.stderr, flush=True)
            return 130
        wall_s = time.perf_counter() - t0
        record_prepared(out, config, metrics=metrics, samples=samples, cost=_cost(device, wall_s, resume))
        done += 1
        print(f"{head}: done in {wall_s:.0f} s", flush=True)
    if not args.list:
        print(f"lmlab prepare: {done} trained, {skipped} already prepared, "
              f"{time.perf_counter() - t_all:.0f} s; students set LMLAB_DATA_DIR={root}", flush=True)
    return 0
