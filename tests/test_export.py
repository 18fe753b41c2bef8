"""`lmlab export DIR --to hf OUT`: transformers loads each export and computes lmlab's logits."""

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
def test_gpt_exports_as_gpt2(tmp_path, kind, bias):
    model, tok = _gpt_run(tmp_path, kind, pos_encoding="learned", activation="gelu", bias=bias)
    assert main(["export", str(tmp_path / "run"), "--to", "hf", str(tmp_path / "hf")]) == 0
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
    assert (ours - theirs).abs().max() <= 1e-4
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
