"""`lmlab export DIR --to hf OUT`: transformers loads each export and computes lmlab's logits."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from lmlab.checkpoint import save_checkpoint
from lmlab.cli import main
from lmlab.models.bert import BertConfig, BertForMaskedLM
from lmlab.models.bert.trainer import save_bert
from lmlab.models.bert.vocab import BertVocab
from lmlab.models.transformer import GPT, GPTConfig
from lmlab.tokenizers import CharTokenizer

transformers = pytest.importorskip("transformers")
TEXT = "To be, or not to be: that is the question.\n床前明月光，疑是地上霜。\n" * 3


def _tokenizer(kind):
    if kind == "char":
        return CharTokenizer.fit(TEXT)
    from lmlab.tokenizers.bpe import FastBPETokenizer

    return FastBPETokenizer.train(TEXT, vocab_size=300)


def _gpt_run(tmp_path, kind, **cfg):
    tok = _tokenizer(kind)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=32, **cfg))
    with torch.no_grad():  # non-zero LayerNorm parameters, so a dropped bias would show
        for name, p in model.named_parameters():
            if "ln" in name:
                p.add_(0.1 * torch.randn_like(p))
    save_checkpoint(tmp_path / "run" / "ckpt.pt", model=model, config=model.config, kind="gpt", tokenizer=tok)
    return model.eval(), tok


@pytest.mark.parametrize("kind", ["char", "bpe"])
@pytest.mark.parametrize("bias", [False, True])
def test_gpt_exports_as_gpt2(tmp_path, kind, bias, capsys):
    model, tok = _gpt_run(tmp_path, kind, pos_encoding="learned", activation="gelu", bias=bias)
    assert main(["export", str(tmp_path / "run"), "--to", "hf", str(tmp_path / "hf")]) == 0
    assert capsys.readouterr().err == ""  # no "Writing model shards" bar for one small file
    assert (tmp_path / "hf" / "model.safetensors").exists()
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    line = "that is the question.\n床前明月光"
    ids = hf_tok(line)["input_ids"]
    assert ids == tok.encode(line)
    x = torch.tensor([ids])
    with torch.no_grad():
        ours, _ = model(x)
        theirs = hf(x).logits
    assert (ours - theirs[..., :tok.vocab_size]).abs().max() <= 1e-4  # a char export adds [UNK] at the end
    assert hf_tok.decode(ids) == line


def _bert_run(tmp_path, kind):
    vocab = BertVocab(_tokenizer(kind))
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=vocab.vocab_size, block_size=48, n_layer=2, n_head=2,
                                       n_embd=32, pad_token_id=vocab.pad_id))
    save_bert(tmp_path / "run" / "ckpt.pt", model, vocab)
    return model.eval(), vocab


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_bert_exports_as_bert_for_masked_lm(tmp_path, kind):
    model, vocab = _bert_run(tmp_path, kind)
    assert main(["export", str(tmp_path / "run"), "--to", "hf", str(tmp_path / "hf")]) == 0
    hf = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path / "hf").eval()
    assert type(hf).__name__ == "BertForMaskedLM"
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    line = "疑是[MASK]上霜。 that is the [MASK]"
    ids = hf_tok(line)["input_ids"]
    assert ids == vocab.wrap(vocab.encode(line))
    assert hf_tok.mask_token_id == vocab.mask_id and hf_tok.pad_token_id == vocab.pad_id
    x = torch.tensor([ids])
    with torch.no_grad():
        ours, _ = model(x)
        theirs = hf(x).logits
    assert (ours - theirs).abs().max() <= 1e-5


def test_rope_or_relu_gpt_does_not_export(tmp_path, capsys):
    _gpt_run(tmp_path, "char")  # lmlab's default: RoPE + ReLU
    assert main(["export", str(tmp_path / "run"), "--to", "hf", str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--pos-encoding learned --activation gelu" in err and "'rope'" in err
    assert not (tmp_path / "hf").exists()


def test_export_refuses_a_non_empty_folder(tmp_path, capsys):
    _gpt_run(tmp_path, "char", pos_encoding="learned", activation="gelu")
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "keep.txt").write_text("mine")
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "hf")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "hf" / "keep.txt").read_text() == "mine"


def test_export_writes_no_progress_bar(tmp_path, capfd):
    _bert_run(tmp_path, "char")
    assert main(["export", str(tmp_path / "run"), "--to", "hf", str(tmp_path / "hf")]) == 0
    err = capfd.readouterr().err
    assert "Writing model shards" not in err and "%|" not in err, err  # transformers' tqdm bar, on stderr
    assert transformers.utils.logging.is_progress_bar_enabled()  # and its setting is as it was


# --- each export in a process that has transformers and no lmlab ------------------------------------------

LONG = "To be, or not to be: that is the question. 床前明月光，疑是地上霜。" * 2  # > 48 tokens in each
UNSEEN = "that is the q\u2603estion"  # a snowman: in no training text above
PAIR = ("床前明月光，", "疑是地上霜。")

# Runs in a fresh interpreter: lmlab cannot be imported there (a None entry in sys.modules makes `import
# lmlab` fail), so the exports load through transformers' own classes or not at all.
TRANSFORMERS_ONLY = textwrap.dedent("""
    import json, sys
    sys.modules["lmlab"] = None
    import torch
    import transformers

    jobs, out = json.loads(sys.argv[1]), {}
    for name, job in jobs.items():
        tok = transformers.AutoTokenizer.from_pretrained(job["dir"])
        auto = {"gpt": transformers.AutoModelForCausalLM,
                "bert": transformers.AutoModelForMaskedLM}[job["kind"]]
        model = auto.from_pretrained(job["dir"]).eval()
        res = {"model_max_length": tok.model_max_length, "unk_token_id": tok.unk_token_id}
        cases = {"long": tok(job["long"], truncation=True), "unseen": tok(job["unseen"])}
        if job["kind"] == "bert":
            cases["pair"] = tok(*job["pair"])
            cases["long_pair"] = tok(job["long"], job["long"], truncation=True)
        for case, enc in cases.items():
            with torch.no_grad():
                logits = model(**{k: torch.tensor([v]) for k, v in enc.items()}).logits[0]
            res[case] = {"enc": dict(enc), "logits": logits.tolist()}
        if job["kind"] == "gpt":
            prompt = tok(job["unseen"][:6], return_tensors="pt")
            torch.manual_seed(0)  # hot sampling: any token but a suppressed one turns up in 200 draws
            new = model.generate(**prompt, do_sample=True, temperature=50.0, top_k=0, max_new_tokens=20,
                                 num_return_sequences=10, pad_token_id=0)
            res["generated"] = new[:, prompt["input_ids"].shape[1]:].flatten().tolist()
        out[name] = res
    assert not any(m == "lmlab" or m.startswith("lmlab.") for m in sys.modules if sys.modules[m] is not None)
    print(json.dumps(out))
""")


def _transformers_only(jobs: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TRANSFORMERS_VERBOSITY="error", HF_HUB_OFFLINE="1", TQDM_DISABLE="1")
    proc = subprocess.run([sys.executable, "-c", TRANSFORMERS_ONLY, json.dumps(jobs)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def _logits(model, ids, types=None):
    with torch.no_grad():
        x = torch.tensor([ids])
        if types is None:
            return model(x)[0][0]
        return model(x, token_type_ids=torch.tensor([types]))[0][0]


def _close(ours, theirs, tol=1e-4):
    theirs = torch.tensor(theirs)[..., :ours.shape[-1]]  # a char GPT's export has one more column: [UNK]
    assert theirs.shape == ours.shape
    assert (ours - theirs).abs().max() <= tol


def test_every_export_loads_and_runs_with_transformers_alone(tmp_path):
    """GPT (char, BPE) and BERT (char, BPE): long input, an unseen character, a sentence pair."""
    runs, jobs = {}, {}
    for arch in ("gpt", "bert"):
        for kind in ("char", "bpe"):
            name = f"{arch}-{kind}"
            folder = tmp_path / name
            if arch == "gpt":
                runs[name] = _gpt_run(folder, kind, pos_encoding="learned", activation="gelu", bias=True)
            else:
                runs[name] = _bert_run(folder, kind)
            assert main(["export", str(folder / "run"), "--to", "hf", str(folder / "hf")]) == 0
            jobs[name] = {"dir": str(folder / "hf"), "kind": arch, "long": LONG, "unseen": UNSEEN,
                          "pair": PAIR}
    got = _transformers_only(jobs)

    for kind in ("char", "bpe"):  # the GPTs: 32 positions
        model, tok = runs[f"gpt-{kind}"]
        res = got[f"gpt-{kind}"]
        assert res["model_max_length"] == model.config.block_size == 32
        long_ids = tok.encode(LONG)
        assert len(long_ids) > 48
        ids = res["long"]["enc"]["input_ids"]
        assert ids == long_ids[-32:]  # the last 32: the context of the next token, as `lmlab sample` keeps
        _close(_logits(model, ids), res["long"]["logits"])
        ids = res["unseen"]["enc"]["input_ids"]
        if kind == "bpe":  # byte-level: nothing is unknown, the snowman is its three UTF-8 bytes
            assert res["unk_token_id"] is None and ids == tok.encode(UNSEEN)
            _close(_logits(model, ids), res["unseen"]["logits"])
        else:  # the snowman reads as [UNK], one id past lmlab's vocabulary, and the model runs
            unk = res["unk_token_id"]
            assert unk == tok.vocab_size and ids.count(unk) == 1
            known = ids.index(unk)
            assert ids[:known] == tok.encode(UNSEEN[:known])
            theirs = torch.tensor(res["unseen"]["logits"])
            assert theirs.shape == (len(ids), tok.vocab_size + 1) and torch.isfinite(theirs).all()
            # causal: the positions before the unknown character are lmlab's own
            _close(_logits(model, ids[:known]), theirs[:known].tolist())
            assert unk not in res["generated"] and len(set(res["generated"])) > tok.vocab_size // 2

    for kind in ("char", "bpe"):  # the BERTs: 48 positions
        model, vocab = runs[f"bert-{kind}"]
        res = got[f"bert-{kind}"]
        assert res["model_max_length"] == model.config.block_size == 48
        enc = res["pair"]["enc"]
        a, b = (vocab.encode(t) for t in PAIR)
        assert enc["input_ids"] == [vocab.cls_id, *a, vocab.sep_id, *b, vocab.sep_id]
        assert enc["token_type_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 1)
        _close(_logits(model, enc["input_ids"], enc["token_type_ids"]), res["pair"]["logits"], 1e-5)
        enc = res["long"]["enc"]
        assert enc["input_ids"] == vocab.wrap(vocab.encode(LONG), 48)
        _close(_logits(model, enc["input_ids"], enc["token_type_ids"]), res["long"]["logits"], 1e-5)
        enc = res["long_pair"]["enc"]
        assert len(enc["input_ids"]) == 48 and enc["token_type_ids"][-1] == 1
        _close(_logits(model, enc["input_ids"], enc["token_type_ids"]), res["long_pair"]["logits"], 1e-5)
        enc = res["unseen"]["enc"]
        assert enc["input_ids"] == vocab.wrap(vocab.encode(UNSEEN))
        assert (vocab.unk_id in enc["input_ids"]) == (kind == "char")  # BPE: bytes, nothing unknown
        _close(_logits(model, enc["input_ids"], enc["token_type_ids"]), res["unseen"]["logits"], 1e-5)
