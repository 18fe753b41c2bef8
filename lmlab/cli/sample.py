"""``lmlab sample DIR --prompt TEXT --max-new-tokens N``: print text from a trained GPT or LSTM checkpoint.

Settings (checked before the model is loaded where they can be; ``lmlab.models.sampling`` says more):
``--temperature 0`` is greedy; ``--top-k`` 1 .. vocabulary size; ``--top-p`` in (0, 1];
``--max-new-tokens`` and ``--num-samples`` at least 1. A GPT prompt longer than the model's context
keeps its last ``block_size`` tokens and a note says so on stderr; characters the model never saw are an
error that names them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from pathlib import Path

# checkpoint kind -> (module, text generator); each module has load_for_sampling(payload) -> (model, tok)
SAMPLERS = {
    "gpt": ("lmlab.models.transformer", "sample_text"),
    "lstm": ("lmlab.models.lstm", "generate"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", metavar="DIR",
                   help="a training --out folder (uses DIR/ckpt.pt) or a .pt file")
    p.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    p.add_argument("--max-new-tokens", type=int, default=300, help="tokens to generate (>= 1)")
    p.add_argument("--temperature", type=float, default=0.8,
                   help="< 1 sharper, > 1 more random, 0 greedy (always the most likely token)")
    p.add_argument("--top-k", type=int, default=None,
                   help="sample only among the k most likely tokens (1 .. vocabulary size)")
    p.add_argument("--top-p", type=float, default=None,
                   help="nucleus sampling: the smallest set with mass p, 0 < p <= 1")
    p.add_argument("--num-samples", type=int, default=1, help="how many samples to print (>= 1)")
    p.add_argument("--seed", type=int, default=None, help="repeatable samples")
    p.add_argument("--best", action="store_true", help="use DIR/best.pt (lowest validation loss)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")


def sample_from_checkpoint(path: str | Path, prompt: str, max_new_tokens: int, temperature: float = 0.8,
                           top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                           best: bool = False, device: str = "cpu") -> str:
    """Load any lmlab language-model checkpoint and return prompt + continuation."""
    from lmlab.checkpoint import load_checkpoint
    from lmlab.device import pick_device
    from lmlab.models.sampling import check_settings

    check_settings(temperature, top_k, top_p, max_new_tokens)  # before the (slow) load
    path = Path(path)
    if path.is_dir():
        path = path / ("best.pt" if best else "ckpt.pt")
    payload = load_checkpoint(path)
    kind = payload.get("kind")
    if kind == "seq2seq":  # a source -> target model answers a line instead of continuing one
        raise ValueError(f"{path} holds a sequence-to-sequence model; use: lmlab translate DIR --text LINE")
    if kind not in SAMPLERS:
        raise ValueError(f"{path} holds a {kind!r} model, which cannot generate text; "
                         f"sample from a {' or '.join(SAMPLERS)} checkpoint")
    module_name, fn_name = SAMPLERS[kind]
    module = importlib.import_module(module_name)
    model, tokenizer = module.load_for_sampling(payload)
    model = model.to(pick_device(device))
    return getattr(module, fn_name)(model, tokenizer, prompt, max_new_tokens, temperature=temperature,
                                    top_k=top_k, top_p=top_p, seed=seed)


def run(args: argparse.Namespace) -> int:
    from lmlab.errors import UsageError
    from lmlab.models.sampling import GenerationNote

    if args.num_samples < 1:
        raise UsageError(f"--num-samples must be >= 1, got {args.num_samples}")
    for i in range(args.num_samples):
        seed = None if args.seed is None else args.seed + i
        with warnings.catch_warnings(record=True) as caught:  # a cropped prompt, <unk> words: one note each
            warnings.simplefilter("always")
            text = sample_from_checkpoint(args.checkpoint, args.prompt, args.max_new_tokens,
                                          args.temperature, args.top_k, args.top_p, seed, args.best,
                                          args.device)
        notes = dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, GenerationNote))
        for note in notes if i == 0 else ():
            print(f"lmlab: note: {note}", file=sys.stderr)
        for w in caught:  # anything else is shown as Python would have shown it
            if not issubclass(w.category, GenerationNote):
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        if i:
            print("-" * 40)
        print(text)
    return 0
