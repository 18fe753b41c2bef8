"""lmlab tokenizers as ``transformers.PreTrainedTokenizerFast`` (a ``tokenizers`` JSON underneath).

char: a word-level vocabulary of single characters, the text split into characters; BPE: lmlab's own
``tokenizers`` model as it is. A BERT vocabulary adds [PAD] [UNK] [CLS] [SEP] [MASK] after the base ids
and wraps every text as [CLS] ... [SEP], as ``BertVocab.wrap`` does.
"""

from __future__ import annotations

from typing import Any

from lmlab.models.bert.vocab import SPECIALS, BertVocab


def _base_tokenizer(tok: Any, extra: tuple[str, ...] = ()) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    if tok.kind == "char":
        if getattr(tok, "unit", "codepoint") != "codepoint":
            raise ValueError("a grapheme-cluster char tokenizer cannot export (Hugging Face tokenizers has "
                             "no \\X split); train with the default unit='codepoint'")
        vocab = {c: i for i, c in enumerate(tok.itos)}
        vocab.update({s: len(tok.itos) + i for i, s in enumerate(extra)})
        hf = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]" if "[UNK]" in extra else None))
        hf.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character
        hf.decoder = decoders.Fuse()  # characters join without spaces
        return hf
    if tok.kind == "bpe":
        return Tokenizer.from_str(tok.to_dict()["json"])
    raise ValueError(f"a {tok.kind!r} tokenizer cannot export to Hugging Face; train with --tokenizer char "
                     "or --tokenizer bpe")


def hf_tokenizer(tok: Any) -> Any:
    """A ``PreTrainedTokenizerFast`` giving the same ids as ``tok`` (an lmlab tokenizer or a BertVocab)."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    if not isinstance(tok, BertVocab):
        return PreTrainedTokenizerFast(tokenizer_object=_base_tokenizer(tok))
    hf = _base_tokenizer(tok.base, SPECIALS)
    hf.add_special_tokens(list(SPECIALS))
    got = [hf.token_to_id(s) for s in SPECIALS]
    want = [tok.special_ids[s] for s in SPECIALS]
    if got != want:  # pragma: no cover - a base vocabulary that already held one of the names
        raise ValueError(f"special tokens got ids {got} in the export, lmlab has {want}")
    hf.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.cls_id), ("[SEP]", tok.sep_id)])
    return PreTrainedTokenizerFast(tokenizer_object=hf, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
