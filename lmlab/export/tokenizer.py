"""lmlab tokenizers as ``transformers.PreTrainedTokenizerFast`` (a ``tokenizers`` JSON underneath).

char: a word-level vocabulary of single characters, the text split into characters, [UNK] for the rest;
BPE: lmlab's own ``tokenizers`` model as it is (byte-level: every text encodes).
A BERT vocabulary adds [PAD] [UNK] [CLS] [SEP] [MASK] after the base ids
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


def hf_tokenizer(tok: Any, model_max_length: int | None = None) -> Any:
    """A ``PreTrainedTokenizerFast`` giving the same ids as ``tok`` (an lmlab tokenizer or a BertVocab).

    ``model_max_length`` (the model's block size) lets ``truncation=True`` fit any text to the model. A GPT's
    tokenizer keeps the last tokens (the context that predicts the next one, as ``lmlab sample`` does); a
    char GPT's reads an unseen character as [UNK], one id past lmlab's vocabulary (``export_hf`` gives the
    model a row for it). A BERT tokenizer returns ``token_type_ids`` (0 for sentence A, 1 for B).
    """
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    limit = {} if model_max_length is None else {"model_max_length": model_max_length}
    if not isinstance(tok, BertVocab):
        unk = ("[UNK]",) if tok.kind == "char" else ()  # byte-level BPE has no unknown text
        return PreTrainedTokenizerFast(tokenizer_object=_base_tokenizer(tok, unk),
                                       unk_token=unk[0] if unk else None, truncation_side="left",
                                       model_input_names=["input_ids", "attention_mask"], **limit)
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
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_input_names=["input_ids", "token_type_ids", "attention_mask"],
                                   **limit)
