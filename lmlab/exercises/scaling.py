"""Exercises of notebook 05: global batch under DDP, memory per parameter, distillation loss, F1."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lmlab.exercises import ExerciseFailure, exercise, expect, expect_close
from lmlab.i18n import _


def _tokens_per_step(batch_size: int, world_size: int, grad_accum: int, block_size: int) -> int:
    return batch_size * world_size * grad_accum * block_size


@exercise("scaling.tokens_per_step", solution=_tokens_per_step,
          hint="--batch-size is per rank: every rank does grad_accum micro-batches of batch_size sequences, "
               "each block_size tokens long, before the one all-reduce",
          success="nanoGPT's GPT-2 run: 12 x 8 GPUs x 40 x 1024 = 3,932,160 ≈ 0.5 M tokens x 8 per step.")
def _check_tokens_per_step(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    for args in ((12, 1, 1, 64), (12, 8, 40, 1024), (4, 2, 3, 16)):
        got = student(*args)
        want = _tokens_per_step(*args)
        if got == args[0] * args[2] * args[3] and args[1] > 1:
            raise ExerciseFailure(_("tokens_per_step{args}: you got {got}, which leaves out the {v2} "
                                    "ranks: each rank trains on its own batch")
                                    .format(args=args, got=got, v2=args[1]))
        expect_close(got, want, what=f"tokens_per_step{args}")


ADAM_FP32_BYTES = 16  # fp32 weight 4 + gradient 4 + Adam's first moment 4 + second moment 4


@exercise("scaling.adam_bytes_per_param", solution=ADAM_FP32_BYTES,
          hint="count four fp32 numbers per parameter: the weight, its gradient, and Adam's two moving "
               "averages (m and v); fp32 is 4 bytes",
          success="So a 1 B parameter model needs 16 GB before a single activation is stored.")
def _check_adam_bytes(student) -> None:
    expect(isinstance(student, (int, float)), _("answer with a number of bytes, not {v0}")
                                                .format(v0=type(student).__name__))
    if student == 8:
        raise ExerciseFailure("8 bytes covers the weight and its gradient; AdamW also keeps two moments")
    if student == 12:
        raise ExerciseFailure("12 bytes: one fp32 number is still missing (weight, gradient, m and v)")
    expect_close(student, ADAM_FP32_BYTES, what="bytes per parameter for fp32 AdamW training")


def _distillation_loss(student_logits, teacher_logits, targets, temperature, alpha):
    vocab = student_logits.size(-1)
    s = student_logits.reshape(-1, vocab)
    t = teacher_logits.reshape(-1, vocab)
    soft = F.kl_div(F.log_softmax(s / temperature, -1), F.log_softmax(t / temperature, -1),
                    log_target=True, reduction="batchmean")
    return alpha * temperature**2 * soft + (1 - alpha) * F.cross_entropy(s, targets.reshape(-1))


@exercise("scaling.distillation_loss", solution=_distillation_loss,
          hint="soften both with softmax(z / T); KL(teacher || student) averaged over positions, times T**2, "
               "weighted by alpha; plus (1 - alpha) times the cross-entropy with the true tokens",
          success="This is the loss lmlab.models.distill.distill trains the student with.")
def _check_distillation_loss(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 5, 11, generator=g) * 2, torch.randn(2, 5, 11, generator=g) * 2
    y = torch.randint(0, 11, (2, 5), generator=g)
    expect_close(student(s, t, y, 1.0, 0.0), _distillation_loss(s, t, y, 1.0, 0.0),
                 what="alpha=0 (should be plain cross-entropy)")
    got = student(s, t, y, 2.0, 1.0)
    want = _distillation_loss(s, t, y, 2.0, 1.0)
    if torch.isclose(torch.as_tensor(got).float(), want / 4, rtol=1e-4):
        raise ExerciseFailure("with T=2, alpha=1 your loss is 4 times too small: "
                              "multiply the soft term by T**2")
    expect_close(got, want, what="T=2, alpha=1 (only the soft term)")
    expect_close(student(s, t, y, 3.0, 0.3), _distillation_loss(s, t, y, 3.0, 0.3),
                 what="T=3, alpha=0.3")


def _precision_recall_f1(confusion):
    c = np.asarray(confusion, dtype=float)
    tp = np.diag(c)
    precision = np.divide(tp, c.sum(0), out=np.zeros_like(tp), where=c.sum(0) > 0)
    recall = np.divide(tp, c.sum(1), out=np.zeros_like(tp), where=c.sum(1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp),
                   where=(precision + recall) > 0)
    return precision, recall, f1


@exercise("scaling.precision_recall_f1", solution=_precision_recall_f1,
          hint="rows are the true class, columns the prediction: precision_k = C[k,k] / column sum, "
               "recall_k = C[k,k] / row sum, F1 = 2PR / (P + R); return the three arrays",
          success="Macro averages are the plain means of these; accuracy is trace(C) / C.sum().")
def _check_prf(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    c = np.array([[20, 5], [10, 15]])
    got = student(c)
    expect(isinstance(got, (tuple, list)) and len(got) == 3,
           _("return three arrays (precision, recall, f1), got {v0}").format(v0=type(got).__name__))
    p, r, f = (np.asarray(x, dtype=float) for x in got)
    want_p, want_r, want_f = _precision_recall_f1(c)
    if p.shape == want_p.shape and np.allclose(p, want_r) and np.allclose(r, want_p):
        raise ExerciseFailure("precision and recall are swapped: rows are the TRUE class, so recall divides "
                              "by the row sum and precision by the column sum")
    expect_close(p, want_p, what="precision of [[20, 5], [10, 15]]")
    expect_close(r, want_r, what="recall of [[20, 5], [10, 15]]")
    expect_close(f, want_f, what="F1 of [[20, 5], [10, 15]]")
    c3 = np.array([[5, 0, 1], [2, 7, 0], [0, 0, 0]])
    for name, got3, want3 in zip(("precision", "recall", "F1"), student(c3), _precision_recall_f1(c3),
                                 strict=True):
        expect_close(np.asarray(got3, dtype=float), want3,
                     what=f"{name} with a class that never occurs nor is predicted (0, not nan)")


@exercise("scaling.fsdp_family", solution="data",
          hint="ask what each rank computes on, not what it stores: the whole model on its own slice of the "
               "batch (data), or one part of the model on the whole batch (model)?",
          success="Sharding decides what a rank stores between uses; the family is decided by what it "
                  "computes: every layer, on its own slice of the batch.")
def _check_fsdp_family(student) -> None:
    expect(isinstance(student, str), _("answer with a string, \"data\" or \"model\", not {student!r:.30}")
                                       .format(student=student))
    answer = student.strip().lower().split()[0] if student.strip() else ""
    expect(answer in {"data", "model"},
           _("{student!r}: answer \"data\" or \"model\"").format(student=student))
    if answer == "model":
        raise ExerciseFailure("splitting the weights' storage is not model parallelism: an FSDP rank gathers "
                              "each layer's full weights and runs every layer on its own slice of the batch, "
                              "then averages its gradients with the other ranks. Model parallelism gives a "
                              "rank a part of the model to compute, on the whole batch")
