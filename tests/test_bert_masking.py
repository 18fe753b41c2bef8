"""BERT's masking rule, whole-word masking, and the vocabulary around a base tokenizer."""

import pytest
import torch

from lmlab.models.bert.masking import mlm_mask, word_index
from lmlab.models.bert.vocab import BertVocab
from lmlab.tokenizers import CharTokenizer


def test_fifteen_percent_chosen_then_80_10_10():
    ids = torch.randint(100, (400, 500), generator=torch.Generator().manual_seed(0))
    inputs, targets = mlm_mask(ids, mask_id=100, n_tokens=100, generator=torch.Generator().manual_seed(1))
    chosen = targets != -100
    assert abs(chosen.float().mean().item() - 0.15) < 0.005
    assert torch.equal(targets[chosen], ids[chosen])  # the target is the original token
    n = chosen.sum().item()
    masked = (inputs == 100) & chosen
    changed = (inputs != ids) & chosen & ~masked
    kept = (inputs == ids) & chosen
    assert abs(masked.sum().item() / n - 0.8) < 0.01
    assert abs((changed.sum().item() + kept.sum().item()) / n - 0.2) < 0.01
    assert kept.sum().item() / n > 0.095  # 10% kept, plus the random draws that hit the same id
    assert torch.equal(inputs[~chosen], ids[~chosen])  # nothing else is touched
    assert inputs.max() <= 100


def test_specials_are_never_chosen_and_never_drawn():
    ids = torch.randint(50, (64, 64), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = 50  # [CLS]
    inputs, targets = mlm_mask(ids, mask_id=54, n_tokens=50, p=0.5, maskable=ids < 50,
                               generator=torch.Generator().manual_seed(0))
    assert (targets[:, 0] == -100).all() and (inputs[:, 0] == 50).all()
    assert not ((inputs >= 50) & (inputs != 54))[:, 1:].any()


def test_whole_word_masking_hides_words_together():
    text = "床前明月光，疑是地上霜。举头望明月，低头思故乡。" * 40
    words = word_index(text)
    assert len(words) == len(text) and words[0] == 0 and (words.diff() >= 0).all()
    assert (words.diff() == 0).any()  # some words have several characters
    ids = torch.arange(len(text))[None] % 30
    w = words[None] - words[0]
    _, targets = mlm_mask(ids, mask_id=99, n_tokens=30, generator=torch.Generator().manual_seed(3),
                          word_ids=w.clamp(max=len(text) - 1))
    chosen = (targets != -100)[0]
    for k in torch.unique(words):
        part = chosen[words == k]
        assert part.all() or not part.any()  # all of a word, or none of it
    assert chosen.any()


def test_bad_mask_probability():
    with pytest.raises(ValueError, match="0.15|\\(0, 1\\)"):
        mlm_mask(torch.zeros(2, 2, dtype=torch.long), mask_id=1, n_tokens=1, p=1.5)


def test_vocab_specials_after_base_ids():
    vocab = BertVocab(CharTokenizer.fit("床前明月光"))
    assert vocab.vocab_size == 5 + 5 and vocab.pad_id == 5 and vocab.mask_id == 9
    ids = vocab.encode("床前[MASK]月光")
    assert ids[2] == vocab.mask_id and len(ids) == 5
    assert vocab.encode("床X") == [vocab.base.stoi["床"], vocab.unk_id]  # unseen character: [UNK]
    assert vocab.decode(vocab.wrap(ids)) == "[CLS]床前[MASK]月光[SEP]"
    assert BertVocab.from_dict(vocab.to_dict()).encode("明月") == vocab.encode("明月")
