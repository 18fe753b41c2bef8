"""Every figure a notebook draws saves in one call (``lmlab.viz.save``); attention and the embedding
projector animate over training, as GIF and as MP4 through the packaged ffmpeg."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from lmlab.viz import save
from lmlab.viz.animate import ffmpeg_exe


def _figures(n: int) -> list[Figure]:
    figs = []
    for k in range(n):
        fig = Figure(figsize=(2, 2))
        fig.subplots().plot(range(5), [k * x for x in range(5)])
        figs.append(fig)
    return figs


def _mp4_frames(path) -> int:
    """Frames in an MP4, counted by the packaged ffmpeg decoding it (so the file is a real video)."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f",
                          "null", "-"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    probe = subprocess.run([ffmpeg_exe(), "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
                           capture_output=True, text=True)
    last = [line for line in probe.stderr.splitlines() if "frame=" in line][-1]
    return int(last.split("frame=")[1].split()[0])


def test_one_call_saves_figures_views_and_animations(tmp_path):
    fig = _figures(1)[0]
    assert save(fig, tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in save(fig, tmp_path / "f.svg").read_bytes()[:400]
    with Image.open(save(_figures(3), tmp_path / "a.gif", fps=4)) as im:
        assert im.format == "GIF" and im.n_frames == 3
    mp4 = save(_figures(4), tmp_path / "a.mp4", fps=4)
    assert mp4.read_bytes()[4:8] == b"ftyp" and _mp4_frames(mp4) == 4
    with pytest.raises(ValueError, match="animation format"):
        save(fig, tmp_path / "x.gif")
    with pytest.raises(TypeError, match="cannot save a int"):
        save(3, tmp_path / "x.png")


def test_attention_of_one_head_over_training_as_gif_and_mp4(tmp_path):
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.tokenizers import CharTokenizer
    from lmlab.train import History, fit
    from lmlab.viz.attention import AttentionRecorder

    text = "to be or not to be, that is the question " * 20
    tok = CharTokenizer.fit(text)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    data = torch.tensor(tok.encode(text))
    recorder = AttentionRecorder(model, tok, "to be or not", layer=0, head=1, every=10)

    def step(it):
        i = torch.randint(0, len(data) - 17, (8,), generator=torch.Generator().manual_seed(it))
        x = torch.stack([data[j:j + 16] for j in i])
        y = torch.stack([data[j + 1:j + 17] for j in i])
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "lr": 1e-2, "tokens": x.numel()}

    fit(step, max_iters=30, history=History(), live=recorder, progress=False, log_interval=1)
    assert recorder.steps[0] == 0 and recorder.steps[-1] >= 29 and len(recorder.steps) >= 4
    first, last = recorder.weights[0], recorder.weights[-1]
    assert first.shape == (12, 12) and not torch.allclose(first, last)  # the head changed while training
    assert torch.allclose(last.sum(-1), torch.ones(12), atol=1e-4) and torch.all(last.triu(1) == 0)  # causal
    with Image.open(recorder.save(tmp_path / "head.gif")) as im:
        assert im.n_frames == len(recorder.steps)
    assert _mp4_frames(save(recorder, tmp_path / "head.mp4")) == len(recorder.steps)
    assert save(recorder, tmp_path / "last.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="layer 3, head 0 do not exist"):
        AttentionRecorder(model, tok, "to be", layer=3)


def test_projector_evolution_as_gif_and_mp4(tmp_path):
    from lmlab.viz.embeddings import evolution_gif

    rng = np.random.default_rng(0)
    words = ["king", "queen", "man", "woman"]
    snapshots = [(epoch / 2, rng.normal(size=(4, 8)) * (1 + epoch)) for epoch in range(3)]
    with Image.open(evolution_gif(snapshots, words, tmp_path / "words.gif")) as im:
        assert im.n_frames == 3
    assert _mp4_frames(evolution_gif(snapshots, words, tmp_path / "words.mp4")) == 3


def test_views_and_the_projector_save_through_the_same_call(tmp_path):
    from lmlab.models.word2vec import WordVectors
    from lmlab.viz.attention import as_attention_maps, grid_view
    from lmlab.viz.embeddings import Projector

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    projector = Projector(WordVectors(words, rng.normal(size=(30, 8)).astype(np.float32)), n=30)
    assert "<html" in save(projector, tmp_path / "p.html").read_text(encoding="utf-8").lower()
    assert save(projector, tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    weights = torch.softmax(torch.randn(1, 2, 4, 4), dim=-1)
    view = grid_view(as_attention_maps([weights], ["a", "b", "c", "d"]), layer=0, head=0)
    assert "<html" in save(view, tmp_path / "g.html").read_text(encoding="utf-8").lower()
    assert b"<svg" in save(view, tmp_path / "g.svg").read_bytes()[:400]
