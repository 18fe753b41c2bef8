"""The Chinese edition: twins in step with the English source, each failure mode caught with the command
that fixes it, library messages in both languages, and every twin running on a bare machine."""

from __future__ import annotations

import io
import re
import shutil
import textwrap
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from lmlab.i18n import notebooks as nbs
from lmlab.i18n.notebooks import _han

ROOT = Path(__file__).resolve().parent.parent
ENGLISH = nbs.sources()
TWINS = sorted((ROOT / "notebooks" / "zh").glob("[0-9][0-9]_*.ipynb"))


# ---------------------------------------------------------------- the real notebooks

def test_every_english_notebook_has_a_twin():
    assert ENGLISH
    for src in ENGLISH:
        assert nbs.twin_path(src).exists(), f"{src.name} has no twin: run 'python -m lmlab.i18n update'"


@pytest.mark.parametrize("src", ENGLISH, ids=lambda p: p.stem)
def test_twin_is_in_step_with_its_source(src):
    problems = nbs.check(src)
    assert not problems, "\n".join(problems)


def test_library_catalogue_is_complete_and_compiled():
    from lmlab.i18n import messages

    problems = messages.check()
    assert not problems, "\n".join(problems)


def test_library_translations_keep_their_placeholders():
    from babel.messages.pofile import read_po

    from lmlab.i18n import messages

    fields = lambda s: sorted(re.findall(r"\{[^{}]*\}", s))
    with open(messages.po_file(), "rb") as f:
        catalog = read_po(f)
    bad = [m.id for m in catalog if m.id and m.string and fields(m.id) != fields(m.string)]
    assert not bad, f"translations that lost or changed a {{placeholder}}: {bad}"


def test_messages_follow_lmlab_lang(monkeypatch, capsys):
    from lmlab.exercises import check
    from lmlab.i18n import _, lang

    monkeypatch.setenv("LMLAB_LANG", "en")
    assert lang() == "en" and _("learning rate") == "learning rate"
    check("welcome.uniform_loss", ...)
    assert "no answer yet" in capsys.readouterr().out
    monkeypatch.setenv("LMLAB_LANG", "zh_CN")
    assert lang() == "zh" and _("learning rate") == "学习率"
    check("welcome.uniform_loss", lambda V: 1.0)
    out = capsys.readouterr().out
    assert "还不对" in out and "期望 0.693147" in out and "提示" in out
    assert _("a message nobody translated") == "a message nobody translated"


def test_the_models_speak_through_say_without_importing_i18n(monkeypatch, capsys):
    """lmlab/models print notes with lmlab.say: translated once lmlab.i18n is loaded, no import of it."""
    from lmlab.models.bert.fill import masked_ids
    from lmlab.say import say

    for path in (ROOT / "lmlab" / "models").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "lmlab.say" in text:
            assert "lmlab.i18n" not in text, f"{path} imports lmlab.i18n; use lmlab.say"
    template = "{n} character(s) never seen in training, read as <unk> (□): {chars}"
    monkeypatch.setenv("LMLAB_LANG", "en")
    say(template, n=1, chars="尽")
    assert capsys.readouterr().out == "1 character(s) never seen in training, read as <unk> (□): 尽\n"
    monkeypatch.setenv("LMLAB_LANG", "zh")
    say(template, n=1, chars="尽")
    assert "从未出现" in capsys.readouterr().out

    class Vocab:  # three masks for a context of 4 (2 besides [CLS] and [SEP])
        mask_id = 0

        def encode(self, text):
            return [0, 0, 0]

    with pytest.raises(ValueError, match="请少用几个掩码"):
        masked_ids(Vocab(), "[MASK][MASK][MASK]", block_size=4)


def test_the_trainers_divergence_hints_are_translated_where_shown(monkeypatch):
    """A trainer in lmlab/models (which may not import lmlab.i18n) passes its fix as a plain constant; the
    catalogue has it and lmlab.train shows it in the learner's language."""
    from lmlab.i18n.messages import extract
    from lmlab.train.failures import diverged_message

    hints = [t for t, where in extract().items() if any(w.startswith("lmlab/models/") for w in where)]
    assert "lower --lr or clip harder (--grad-clip 0.5)" in hints
    assert "lower --lr (or raise --warmup-iters) and train again" in hints  # a DIVERGENCE_HINT constant
    monkeypatch.setenv("LMLAB_LANG", "zh")
    line = diverged_message(12, float("nan"), hint="lower --lr or clip harder (--grad-clip 0.5)")
    assert "裁剪" in line and "clip harder" not in line and "training diverged" not in line, line


def test_setup_sets_the_language(monkeypatch, capsys):
    from lmlab.i18n import lang
    from lmlab.notebook import setup

    monkeypatch.setenv("LMLAB_LANG", "en")  # recorded first, so teardown restores what was there before
    setup(preset="smoke", device="cpu", lang="zh")
    assert lang() == "zh"
    assert "可用 LMLAB_PRESET" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        setup(preset="smoke", device="cpu", lang="fr")


def test_twins_set_the_language_and_read_simplified_poems():
    text = nbs.twin_path(ENGLISH[0]).read_text(encoding="utf-8")
    assert 'setup(lang="zh"' in text
    w2v = ROOT / "notebooks" / "01_word2vec.py"
    if w2v.exists() and '"tang_poems"' in w2v.read_text(encoding="utf-8"):
        twin = nbs.twin_path(w2v).read_text(encoding="utf-8")
        assert '"tang_poems_simplified"' in twin and '"tang_poems"' not in twin
        assert "紅" not in twin.split("# %%", 1)[1] or "红" in twin  # string literals converted to simplified


# ---------------------------------------------------------------- each failure mode, on a copy

DEMO = textwrap.dedent('''\
    # ---
    # jupyter:
    #   jupytext:
    #     cell_metadata_filter: tags,-all
    #     formats: ipynb,py:percent
    #     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
    #     text_representation:
    #       extension: .py
    #       format_name: percent
    #       format_version: '1.3'
    #   kernelspec:
    #     display_name: Python 3 (ipykernel)
    #     language: python
    #     name: python3
    # ---

    # %% [markdown]
    # # Demo
    #
    # A cell about attention.

    # %%
    from lmlab.notebook import setup

    lab = setup()
    n = 3  # number of heads
    print(f"we use {n} heads")
    corpus = "tang_poems"
    poem = "舉頭望明月"
    ''')
ZH = {"# Demo\n\nA cell about attention.": "# 演示\n\n一个关于注意力机制（attention）的单元格。",
      "number of heads": "头的数量", 'f"we use {n} heads"': 'f"我们使用 {n} 个头"'}


def _translate_all(po: Path, table: dict[str, str]) -> None:
    catalog = nbs.read_catalogue(po)
    for msg in catalog:
        if msg.id in table:
            msg.string = table[msg.id]
            msg.flags.discard("fuzzy")
    nbs.write_catalogue(po, catalog)


@pytest.fixture
def demo(tmp_path) -> Path:
    src = tmp_path / "notebooks" / "00_demo.py"
    src.parent.mkdir()
    src.write_text(DEMO, encoding="utf-8")
    assert len(nbs.update(src)) == 3  # three pieces to translate, none yet
    _translate_all(nbs.po_path(src), ZH)
    nbs.build(src)
    assert nbs.check(src) == []
    return src


def test_a_built_twin_is_translated_and_keeps_the_code(demo):
    twin = nbs.twin_path(demo).read_text(encoding="utf-8")
    assert "# # 演示" in twin and "n = 3  # 头的数量" in twin and 'print(f"我们使用 {n} 个头")' in twin
    assert 'setup(lang="zh")' in twin
    assert 'corpus = "tang_poems_simplified"' in twin and 'poem = "举头望明月"' in twin
    assert nbs.twin_path(demo).with_suffix(".ipynb").exists()


def test_a_changed_english_cell_fails_until_translated(demo):
    demo.write_text(DEMO.replace("A cell about attention.", "A cell about multi-head attention."),
                    encoding="utf-8")
    problems = nbs.check(demo)
    assert any("is behind" in p and "cell 0 markdown not in the catalogue" in p
               and "python -m lmlab.i18n update 00_demo" in p for p in problems), problems
    assert any("out of date" in p and "python -m lmlab.i18n build 00_demo" in p for p in problems)
    left = nbs.update(demo)  # the translator's command: the old Chinese kept, marked fuzzy
    assert left == ["cell 0 markdown marked fuzzy (the English changed): '# Demo'"]
    fuzzy = [m for m in nbs.read_catalogue(nbs.po_path(demo)) if m.fuzzy]
    assert len(fuzzy) == 1 and "一个关于注意力机制" in fuzzy[0].string  # the old Chinese, to revise
    po_lines = nbs.po_path(demo).read_text(encoding="utf-8").splitlines()
    previous = [ln for ln in po_lines if ln.startswith("#|")]
    assert previous and "A cell about attention." in previous[0]  # and the English it translated
    assert nbs.check(demo) and "is behind" in nbs.check(demo)[0]
    changed = "# Demo\n\nA cell about multi-head attention."
    _translate_all(nbs.po_path(demo), {changed: "# 演示\n\n多头注意力。"})
    nbs.build(demo)
    assert nbs.check(demo) == []


def test_a_twin_whose_code_differs_fails(demo):
    twin = nbs.twin_path(demo)
    twin.write_text(twin.read_text(encoding="utf-8").replace("n = 3", "n = 4"), encoding="utf-8")
    problems = nbs.check(demo)
    assert any("cell 1: its code differs" in p and "'n = 3" in p and "python -m lmlab.i18n build 00_demo" in p
               for p in problems), problems


def test_a_hand_edited_translation_is_out_of_date_not_a_code_change(demo):
    twin = nbs.twin_path(demo)
    twin.write_text(twin.read_text(encoding="utf-8").replace("头的数量", "注意力头的个数"), encoding="utf-8")
    problems = nbs.check(demo)
    assert len(problems) == 1 and "is out of date" in problems[0] and "build 00_demo" in problems[0]


def test_a_stale_twin_after_a_catalogue_edit_fails(demo):
    _translate_all(nbs.po_path(demo), {"number of heads": "注意力头数"})
    problems = nbs.check(demo)
    assert len(problems) == 1 and "out of date" in problems[0], problems
    nbs.build(demo)
    assert nbs.check(demo) == []


def test_a_translation_that_breaks_the_code_is_refused(demo):
    _translate_all(nbs.po_path(demo), {'f"we use {n} heads"': 'f"我们使用 {m} 个头"'})
    with pytest.raises(nbs.TranslationError, match=r"keep its \{\.\.\.\} placeholders"):
        nbs.build(demo)
    _translate_all(nbs.po_path(demo), {'f"we use {n} heads"': "我们使用 {n} 个头"})
    with pytest.raises(nbs.TranslationError, match="must be a Python string literal"):
        nbs.build(demo)


def test_a_new_notebook_without_catalogue_fails_with_the_command(demo):
    new = demo.parent / "01_new.py"
    shutil.copyfile(demo, new)
    problems = nbs.check(new)
    assert any("is behind" in p and "update 01_new" in p for p in problems)
    assert any("missing" in p and "build 01_new" in p for p in problems)


def test_check_command_exits_1_and_names_the_fix(demo, monkeypatch, capsys):
    from lmlab.i18n import cli

    monkeypatch.setattr(nbs, "NOTEBOOKS", demo.parent)
    monkeypatch.setattr(nbs, "sources", lambda names=(), root=demo.parent: [demo])
    assert cli.main(["check"]) == 0
    demo.write_text(DEMO.replace("number of heads", "how many heads"), encoding="utf-8")
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "✗" in out and "python -m lmlab.i18n update 00_demo" in out


def test_segments_are_the_prose_not_the_code():
    segs = nbs.code_segments('x = f(a)  # (B, T, C)\nprint("loss", x)  # the loss, in nats\n'
                             'ax.set(title=f"layer {i}", xlabel="position")\nd = {"key": 1}\n')
    assert [(s.kind, s.text) for s in segs] == [
        ("string", '"loss"'), ("comment", "the loss, in nats"), ("string", 'f"layer {i}"'),
        ("string", '"position"')]


# ---------------------------------------------------------------- English left in the Chinese edition

# Words a Chinese class reads as they are: names of models, tools, units, tokens and data-set classes.
TECHNICAL_WORDS = """
lmlab gpt bert lstm gru rnn transformer transformers softmax token tokens tokenizer bpe wordpiece jieba
word2vec glove cbow sgns skipgram skip gram mlm nsp cls sep unk pad mask eos bos adamw adam sgd relu gelu
layernorm rmsnorm rope alibi mfu bleu chrf cpu gpu cuda mps fp bf int pytorch torch numpy jupyter jupyterlab
ipython python pip hugging face huggingface bertviz ddp fsdp tp pp dcp nccl gloo torchrun onnx lr tf idf
ngram kv qkv utf ascii preset presets smoke class full lab html png svg gif json csv tsv nan inf max min
top sum mean std log exp sin cos tanh sigmoid argmax wiki sample shakespeare tang poems couplets opencc
dropout epoch epochs batch batches logits logit perplexity bits nats nat pca tsne umap vs seq seq2seq
encoder decoder bahdanau vaswani attention tensor id ids pos rank ranks
negative positive
"""
TECHNICAL = set(TECHNICAL_WORDS.split())


def _dictionary() -> set[str]:
    """English words: those of gensim's Wikipedia sample (offline) plus scikit-learn's stop words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from lmlab.data import load_text

    return set(re.findall(r"[a-z]+", load_text("wiki_sample"))) | set(ENGLISH_STOP_WORDS)


# data, not messages: a line of the cleaned Wikipedia sample (lower-case words, no punctuation), a scored
# list of neighbours ("france: paris 0.91, rome 0.88, ..."), an analogy ("man : king :: woman : ..." or
# "king - man + woman") and a line of printed source code
DATA_LINE = re.compile(r"[a-z]+(?: [a-z]+){11,}(?: ?(?:\.\.\.|…))?|[\w.]+\(.*\)|\[\w+\] .*|.* -> \[\(.*"
                       r"|.*(?:[A-Za-z]+ [+-]?\d+\.\d+,? ){2,}.*"
                       r"|.*\w+ : \w+ :: \w+ :.*|[\w ]+(?: [+-] [\w ]+)+"
                       r"|\s*(?:def|class|return|import|from|if|for|while|with|yield|assert|raise) .*"
                       r"|\s*[\w.\[\]\"']+ = .*")
CODE_SPAN = re.compile(r"`[^`\n]*`|'[^'\n]*'|\"[^\"\n]*\"|https?://\S+")
EDGE = ".,;:!?()[]<>\"'，。；：！？（）、…·—-|*"


def _words(line: str) -> list[str]:
    """The plain English words of ``line`` (code, quoted strings, Chinese and numbers are not words)."""
    words = []
    for chunk in re.split(r"[\s\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+", CODE_SPAN.sub(" ", line)):
        word = chunk.strip(EDGE).replace("’", "'")
        if re.fullmatch(r"[A-Za-z]+(?:'[a-z]+)?", word) and not re.search(r"[A-Za-z]\.[A-Za-z]", chunk):
            words.append(word)
    return words


def english_prose(line: str, english: set[str], *, label: bool = False) -> bool:
    """Whether ``line`` shows English prose: a run of words mostly English (not code, not a technical term,
    not the gibberish of a little model). ``label``: a figure's title, axis or legend, where one English
    word is already too many."""
    def known(words: list[str]) -> list[str]:
        return [w for w in words if w.lower() not in TECHNICAL and w.lower().split("'")[0] in english]

    words = [w for w in _words(line) if len(w) > 1 or w.lower() == "a"]
    if label:
        return any(len(w) > 2 for w in known(words))
    if _han(line):  # a Chinese line may name code (total, scores, alpha): English prose is a phrase in it
        pieces = re.split(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+", line)
        runs = [[w for w in _words(piece) if len(w) > 1] for piece in pieces
                if not re.search(r"[=\[\](){}%]|//", piece)]  # a piece of code: total = scores[:, None]
        return any(len(known(ws)) >= 3 and len(known(ws)) >= 0.6 * len(ws) for ws in runs)
    return len(known(words)) >= 2 and len(known(words)) >= 0.6 * len(words)


def shows_english(line: str, english: set[str], *, label: bool = False) -> bool:
    """English prose that is not data (a corpus line, a scored list, an analogy) or printed code."""
    return english_prose(line, english, label=label) and not DATA_LINE.fullmatch(line.strip())


def english_left(nb, figure_words: dict[str, list[str]], english: set[str]) -> list[str]:
    """Every output line and figure text of an executed twin that shows English prose."""
    import html as html_lib

    found = []
    for i, cell in enumerate(nb.cells):
        if "getsource(" in cell.get("source", ""):  # the cell prints lmlab's own code
            continue
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            texts = [o.get("text", "")] if o.output_type == "stream" else []
            if "text/html" in data:
                page = re.sub(r"(?s)<style.*?</style>", " ", data["text/html"])
                page = re.sub(r'(?s)<span class="lmlab-token"[^>]*>.*?</span>', " ", page)  # the text shown
                scripts = re.findall(r"(?s)<script.*?</script>", page)
                shown = re.sub(r"<[^>]+>", "\n", re.sub(r"(?s)<script.*?</script>", " ", page))
                texts.append(html_lib.unescape(shown))  # what the page shows, and what its script writes
                texts += [m[1:-1] for js in scripts if len(js) < 20_000  # lmlab's own, not a vendored library
                          for m in re.findall(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`", js)
                          if not re.fullmatch(r"[\w.#:-]*", m[1:-1])]
            elif "text/plain" in data:
                texts += [t for t in data["text/plain"].splitlines()  # not a repr: <Figure ...>, Name(...)
                          if not re.fullmatch(r"<.*>|[\w.]+\(.*\)", t.strip())]
            found += [f"cell {i}: {line.strip()}" for text in texts for line in text.splitlines()
                      if shows_english(line, english)]
    found += [f"figure label: {t}" for t in figure_words["labels"] if english_prose(t, english, label=True)]
    found += [f"figure text: {line}" for t in figure_words["texts"] for line in t.splitlines()
              if shows_english(line, english)]
    return found


def test_chinese_lines_of_the_twins_join_without_a_space():
    """Markdown shows a line break as a space (把这些部件 堆成一个 GPT). A twin's Chinese paragraph has no
    break between two Chinese characters, and no line starts with Chinese punctuation such as '，'."""
    from lmlab.i18n.notebooks import CJK_PUNCT, _han, join_cjk_lines

    joined = join_cjk_lines("把这些部件\n堆成一个 GPT\n，然后\n- 列表\n- 项\n$$a =\nb$$\n中文\n接着")
    assert joined == "把这些部件堆成一个 GPT，然后\n- 列表\n- 项\n$$a =\nb$$\n中文接着"
    assert join_cjk_lines("```\n代码\n代码\n```") == "```\n代码\n代码\n```"
    for twin in TWINS:
        for i, cell in enumerate(nbs.read_notebook(twin.with_suffix(".py")).cells):
            if cell.cell_type != "markdown":
                continue
            lines, fenced = cell.source.split("\n"), False
            for before, line in zip(lines, lines[1:], strict=False):
                fenced ^= before.lstrip().startswith(("```", "~~~")) or before.count("$$") % 2 == 1
                start = line.lstrip()[:1]
                block = line.lstrip().startswith(("-", "*", "#", "|"))
                if fenced or block or not start or not before.strip():
                    continue
                assert start not in CJK_PUNCT, f"zh/{twin.name} cell {i}: a line starts with {start!r}"
                assert not (_han(before.rstrip()[-1:]) and _han(start)), (
                    f"zh/{twin.name} cell {i}: a break between Chinese characters shows as a space: "
                    f"{before.rstrip()[-12:]!r} / {line.lstrip()[:12]!r}")


def test_english_prose_is_found_and_code_data_and_chinese_are_not():
    words = ("no prepared run of for the preset training it here offset times merge learning rate "
             "with size is a practical an in or average heads text has using first war during union "
             "before man king woman def forward self state return hidden cell gates")
    english = set(words.split())
    prose = ["lmlab: no prepared run of 03_gpt for the smoke preset; training it here.",
             "merge 1: (32, 116) -> 256 ' t' (496 times)", "the text has 48 tokens; using the first 32"]
    assert all(shows_english(line, english) for line in prose)
    assert english_prose("learning rate", english, label=True)
    assert english_prose("offset k", english, label=True)
    page = {"output_type": "display_data", "data": {"text/html": '<label><input type="checkbox"> average the '
                                                             'heads</label><script>s.textContent = "the '
                                                             'text has " + n + " tokens";</script>'}}
    left = english_left(nbformat.from_dict({"cells": [{"outputs": [page]}]}), {"labels": [], "texts": []},
                        english)
    assert left == ["cell 0: average the heads", "cell 0: the text has"], left
    fine = ["lmlab: device=cpu, precision=fp32, preset=smoke （可用 LMLAB_PRESET=smoke|class|full 更改）",
            "合并 (32, 116) -> 256 ' t' [' t', 'h', 'e', 'e']", "GPT 有 104,192 个参数；2 层 x 79 的 LSTM",
            "ither practical poete tit an aine in cin iores pth tis alhe tun or thengag gre bo d imi",
            "Linear(in_features=64, out_features=192, bias=False)",
            "use_cache=False：12 个 token 用时 8 毫秒",
            "提示：运行 'lmlab prepare --preset smoke' 预先训练", "GPT · 语料 wiki_sample",
            "war: during 0.99, first 0.99, union 0.99, before 0.99", "man : king :: woman : [('the', 1.03)]",
            "king - man + woman", "    return hidden_state, cell_state, gates",
            "def forward(self, x_t, state):", "[negative] the story is also as unoriginal as they come",
            "提示：total = scores[:, None] + logp 的形状是 (k, V)；用 torch.topk 取 total 中最大的 `k` 个",
            "提示：total = scores[:, None] 的形状是 (k, V)；用 torch.topk 取 total.view(-1) 中最大的",
            "anarchism is a political philosophy that advocates self governed societies based on free ..."]
    assert shows_english("（标注：token、the total score of it；红色）", english | {"total", "score"})
    assert not [line for line in fine if shows_english(line, english)]
    assert not english_prose("PE(pos)·PE(pos+k)", english, label=True)


# ---------------------------------------------------------------- the twins run (smoke preset, offline)

@pytest.fixture(scope="module")
def english_words() -> set[str]:
    return _dictionary()


@pytest.mark.slow
@pytest.mark.parametrize("path", TWINS, ids=lambda p: "zh-" + p.stem)
def test_twin_runs_on_a_bare_machine(path, tmp_path, english_words):
    from test_notebooks import (
        assert_models_read_their_script,
        bare_machine_env,
        execute_notebook,
        figure_texts,
        figures,
    )

    env = bare_machine_env(tmp_path)
    nb = execute_notebook(path, env)
    errors = [(i, o.ename, o.evalue) for i, c in enumerate(nb.cells)
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"zh/{path.name}: cells raised {errors}"
    out = io.StringIO()
    for c in nb.cells:
        for o in c.get("outputs", []):
            out.write(o.get("text", "") or o.get("data", {}).get("text/plain", ""))
    stderr = "".join(o.text for c in nb.cells for o in c.get("outputs", [])
                     if o.output_type == "stream" and o.name == "stderr")
    assert "Traceback" not in stderr, stderr[-2000:]
    assert "missing from font" not in stderr, "a glyph fell back to a box: " + stderr[-500:]
    assert figures(nb) >= 1
    assert "可用 LMLAB_PRESET" in out.getvalue(), "the twin did not switch lmlab to Chinese"
    assert_models_read_their_script("zh/" + path.name, env)
    left = english_left(nb, figure_texts(tmp_path), english_words)
    assert not left, f"zh/{path.name} shows English:\n  " + "\n  ".join(left[:40])


def test_poems_follow_the_edition(isolated_data, monkeypatch, capsys):
    from lmlab.models.lstm.poems import poem_corpus

    monkeypatch.setenv("LMLAB_LANG", "en")
    text, used = poem_corpus(max_vocab=None)
    assert used == "builtin_poems" and "舉頭望明月" in text
    monkeypatch.setenv("LMLAB_LANG", "zh")
    text, _ = poem_corpus(max_vocab=None)
    assert "举头望明月" in text and "舉" not in text
    assert "改用内置的 18 首绝句" in capsys.readouterr().out
    assert "舉頭" in poem_corpus(max_vocab=None, script="traditional")[0]


@pytest.mark.parametrize("twin", TWINS, ids=lambda p: "zh-" + p.stem)
def test_twin_is_written_in_simplified_characters(twin):
    """Code, examples, widget defaults and prose of a twin are simplified (notebook 09's prose may name
    traditional characters: it teaches the difference)."""
    import jupytext

    from lmlab.data import to_simplified

    cells = [c for c in jupytext.read(twin.with_suffix(".py")).cells
             if c.cell_type == "code" or not twin.stem.startswith("09_")]
    converted = to_simplified([c.source for c in cells])
    traditional = {a for c, s in zip(cells, converted, strict=True) for a, b in zip(c.source, s, strict=False)
                   if a != b}
    assert not traditional, (f"zh/{twin.name} has traditional characters {''.join(sorted(traditional))}: "
                             "write the English source so the twin builder converts them (a string literal), "
                             "or translate them in simplified (notebooks/zh/po)")


def test_every_poem_reader_follows_the_edition(isolated_data, monkeypatch, capsys):
    """One script per edition, end to end: couplets, fine-tuning poems and the corpus name all follow
    LMLAB_LANG unless a script is asked for."""
    from lmlab.data import edition_script, tang_poems_name
    from lmlab.models.bert.finetune import poet_dataset
    from lmlab.models.seq2seq import load_couplets

    monkeypatch.setenv("LMLAB_LANG", "en")
    assert edition_script() == "traditional" and tang_poems_name() == "tang_poems"
    pairs = load_couplets().train + load_couplets().test
    assert ("白日依山盡", "黃河入海流") in pairs + load_couplets().val
    texts, _, _ = poet_dataset(fallback=True)
    assert any("舉頭望明月" in t for t in texts)
    monkeypatch.setenv("LMLAB_LANG", "zh")
    assert edition_script() == "simplified" and tang_poems_name() == "tang_poems_simplified"
    data = load_couplets()
    assert ("白日依山尽", "黄河入海流") in data.train + data.val + data.test
    texts, _, poets = poet_dataset(fallback=True)
    assert any("举头望明月" in t for t in texts) and not any("舉" in t or "頭" in t for t in texts)
    assert poets == ["白居易", "杜甫", "李白"]
    data = load_couplets(script="traditional")
    assert ("白日依山盡", "黃河入海流") in data.train + data.val + data.test
    with pytest.raises(ValueError, match="unknown script 'latin'"):
        edition_script("latin")
    capsys.readouterr()


# ---------------------------------------------------------------- opening and publishing the Chinese edition

def test_lab_opens_the_chinese_edition(capsys):
    from lmlab.cli import main

    assert main(["lab", "--lang", "zh", "--print-command", "--no-browser"]) == 0
    out = capsys.readouterr().out
    assert f"--ServerApp.root_dir={ROOT / 'notebooks' / 'zh'}" in out
    assert main(["lab", "--print-command", "--no-browser"]) == 0
    assert f"--ServerApp.root_dir={ROOT / 'notebooks'} " in capsys.readouterr().out + " "


def test_site_renders_both_editions(tmp_path, capsys):
    from lmlab.cli import main

    assert main(["site", "00_welcome", "--no-execute", "--lang", "both", "--out", str(tmp_path)]) == 0
    english = (tmp_path / "00_welcome.html").read_text(encoding="utf-8")
    chinese = (tmp_path / "zh" / "00_welcome.html").read_text(encoding="utf-8")
    assert "Welcome to lmlab" in english and "欢迎来到 lmlab" not in english
    assert "欢迎来到 lmlab" in chinese and (tmp_path / "zh" / "index.html").exists()
    assert main(["site", "00_welcome", "--no-execute", "--lang", "zh", "--out", str(tmp_path / "z")]) == 0
    assert "欢迎来到 lmlab" in (tmp_path / "z" / "00_welcome.html").read_text(encoding="utf-8")


def test_readmes_link_each_other_with_the_same_setup_commands():
    en = (ROOT / "README.md").read_text(encoding="utf-8")
    zh = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "README.zh-CN.md" in en and "(README.md)" in zh
    for command in ("python3 scripts/bootstrap.py lab", "python3 scripts/bootstrap.py test"):
        assert command in en and command in zh


def test_translations_are_prepared_from_another_folder_before_the_merge(demo, monkeypatch, capsys):
    from lmlab.i18n import cli

    monkeypatch.setattr(nbs, "NOTEBOOKS", demo.parent)
    monkeypatch.setattr(nbs, "ROOT", demo.parent.parent)
    other = demo.parent.parent / "branch"
    other.mkdir()
    changed = DEMO.replace("A cell about attention.", "A cell about multi-head attention.")
    (other / "00_demo.py").write_text(changed, encoding="utf-8")
    (other / "06_new.py").write_text(DEMO.replace("number of heads", "count of heads"), encoding="utf-8")
    assert cli.main(["update", "--src", str(other)]) == 0
    assert "branch/00_demo.py -> notebooks/zh/po/00_demo.po: 1 to translate" in capsys.readouterr().out
    po = nbs.read_catalogue(nbs.po_path(demo))
    new_id = "# Demo\n\nA cell about multi-head attention."
    assert po[new_id].fuzzy and po[new_id].string == ZH["# Demo\n\nA cell about attention."]  # a suggestion
    assert "# Demo\n\nA cell about attention." in po  # the text of this tree is kept ...
    assert nbs.check(demo) == []  # ... so its twin stays in step
    notes = nbs.waiting()
    assert any("06_new.po waits for notebooks/06_new.py" in n for n in notes)
    assert any("00_demo.po holds 1 entries" in n for n in notes), notes
    nbs.update(demo)  # a plain update before the merge keeps the pending entry
    assert new_id in nbs.read_catalogue(nbs.po_path(demo))
    _translate_all(nbs.po_path(demo), {new_id: "# 演示\n\n关于多头注意力（multi-head attention）的单元格。"})
    _translate_all(nbs.po_path(demo.parent / "06_new.py"), {**ZH, "count of heads": "头的个数"})
    # the merge: the other branch's English lands; one update, and every twin is translated and in step
    for path in other.iterdir():
        shutil.copyfile(path, demo.parent / path.name)
    for src in (demo, demo.parent / "06_new.py"):
        assert nbs.update(src) == []
        nbs.build(src)
        assert nbs.check(src) == []
    po = nbs.read_catalogue(nbs.po_path(demo))
    assert "# Demo\n\nA cell about attention." not in po and not any(nbs._pending(m) for m in po)
    assert nbs.waiting() == []


def test_from_rev_names_a_missing_revision():
    with pytest.raises(ValueError, match="no git revision 'no-such-branch'"):
        nbs.foreign_sources(Path("/tmp"), rev="no-such-branch")


MARKUP = re.compile(r"\$\$.+?\$\$|\$[^$]+\$|``.+?``|`[^`\n]+`|\]\([^)\s]+\)|https?://[^\s)]+", re.S)


def _markup(text: str) -> Counter:
    """Code spans, formulas and link targets (whitespace folded; a twin sits one folder deeper)."""
    return Counter(" ".join(m.split()).replace("](../../", "](../") for m in MARKUP.findall(text))


@pytest.mark.parametrize("po", sorted((ROOT / "notebooks" / "zh" / "po").glob("*.po")), ids=lambda p: p.stem)
def test_translations_keep_code_math_and_links(po):
    """Every translated markdown cell keeps each code span, formula and link target of its English (the
    Chinese inside a code span in simplified characters: `--text 白日依山尽` in the Chinese edition)."""
    from lmlab.data import to_simplified

    messages = [msg for msg in nbs.read_catalogue(po)
                if msg.id and msg.string and not msg.fuzzy and not msg.id.startswith(('"', "f\"", "'", "f'"))]
    english = to_simplified([msg.id for msg in messages])
    bad = []
    for msg, source in zip(messages, english, strict=True):
        lost = _markup(source) - _markup(msg.string)
        if lost:
            bad.append(sorted(lost)[:2])
    assert not bad, f"{po.name}: {len(bad)} translations lose code, math or links: {bad[:4]}"


def test_check_notes_a_catalogue_waiting_for_its_notebook_and_prune_drops_pending(demo, monkeypatch, capsys):
    from lmlab.i18n import cli

    monkeypatch.setattr(nbs, "NOTEBOOKS", demo.parent)
    monkeypatch.setattr(nbs, "ROOT", demo.parent.parent)
    other = demo.parent.parent / "branch"
    other.mkdir()
    (other / "00_demo.py").write_text(DEMO.replace("number of heads", "heads"), encoding="utf-8")
    (other / "07_later.py").write_text(DEMO, encoding="utf-8")
    assert cli.main(["update", "--src", str(other)]) == 0
    monkeypatch.setattr(nbs, "sources", lambda names=(), root=demo.parent: [demo])
    assert cli.main(["check"]) == 0  # a note, not an error
    out = capsys.readouterr().out
    assert "note: notebooks/zh/po/07_later.po waits for notebooks/07_later.py" in out and "✓" in out
    nbs.update(demo, prune=True)  # what 'update --prune' does for each notebook
    assert "heads" not in nbs.read_catalogue(nbs.po_path(demo))
    assert "number of heads" in nbs.read_catalogue(nbs.po_path(demo))


def test_library_messages_of_a_branch_wait_until_their_code_lands(tmp_path, monkeypatch):
    from lmlab.i18n import messages

    locale = tmp_path / "lmlab" / "i18n" / "locale"
    shutil.copytree(messages.LOCALE_DIR, locale)
    monkeypatch.setattr(messages, "LOCALE_DIR", locale)
    catalogue = nbs.read_catalogue(messages.po_file())  # a message prepared from a branch not merged yet
    catalogue.add("a message whose code is still on its branch", "一条代码还在分支上的消息",
                  auto_comments=[f"{messages.PENDING} code from some-branch"])
    nbs.write_catalogue(messages.po_file(), catalogue)
    pending = [m.id for m in nbs.read_catalogue(messages.po_file()) if m.id
               and any(c.startswith(messages.PENDING) for c in m.auto_comments)]
    assert pending == ["a message whose code is still on its branch"]
    messages.update_catalogue()  # a package without that code: the prepared messages stay ...
    assert all(text in nbs.read_catalogue(messages.po_file()) for text in pending)
    messages.update_catalogue(prune=True)  # ... until pruned
    assert not any(text in nbs.read_catalogue(messages.po_file()) for text in pending)
    with pytest.raises(ValueError, match="no git revision 'no-such-branch'"):
        messages.update_from("no-such-branch")
