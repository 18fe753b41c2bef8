"""Exercises of notebook 08: what each rank holds under DDP, FSDP and tensor parallelism, the pipeline
bubble, and the bytes of an int8 matrix."""

from __future__ import annotations

from lmlab.exercises import ExerciseFailure, exercise, expect, expect_close


def _local_shape(scheme: str, role: str, shape: tuple[int, int], n: int) -> tuple[int, int]:
    out_features, in_features = shape
    if scheme == "ddp":
        return (out_features, in_features)  # a whole copy on every rank
    if scheme == "fsdp":
        return (out_features // n, in_features)  # fully_shard cuts dim 0 into n pieces
    if role == "column":
        return (out_features // n, in_features)  # its own output units (heads, MLP units)
    return (out_features, in_features // n)  # row: its slice of the input, partial sums all-reduced


@exercise("parallel.local_shape", solution=_local_shape,
          hint="a Linear weight is (out_features, in_features). DDP: every rank a whole copy. FSDP: dim 0 "
               "cut in n. Tensor parallel 'column': each rank its own outputs; 'row': its own inputs",
          success="Between the column- and the row-parallel layer nothing is communicated: the row layer "
                  "takes exactly the slice of the hidden vector its rank computed.")
def _check_local_shape(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.40}")
    cases = [("ddp", "column", (1536, 384), 2), ("fsdp", "row", (384, 1536), 4),
             ("tp", "column", (1152, 384), 2), ("tp", "row", (384, 1536), 2),
             ("tp", "column", (1536, 384), 4)]
    for scheme, role, shape, n in cases:
        got = student(scheme, role, shape, n)
        expect(got is not ..., "your function still returns ...: replace it with the (rows, columns) tuple")
        got = tuple(got)
        want = _local_shape(scheme, role, shape, n)
        if scheme == "tp" and role == "row" and got == (shape[0] // n, shape[1]):
            raise ExerciseFailure(f"{scheme}/{role} {shape} on {n} ranks: you split the outputs; a "
                                  "row-parallel layer splits its *inputs* (in_features), each rank a slice "
                                  "of the hidden vector")
        if scheme == "ddp" and got != tuple(shape):
            raise ExerciseFailure("under DDP nothing is split: every rank keeps the whole weight")
        expect(got == want, f"local_shape{(scheme, role, shape, n)}: you got {got}, expected {want}")


def _bubble(p: int, m: int) -> float:
    return (p - 1) / (m + p - 1)


@exercise("parallel.bubble", solution=_bubble,
          hint="draw p stages and m micro-batches as a grid of time slots: a GPipe forward takes m + p - 1 "
               "slots, and each stage works in m of them",
          success="With m = 4p micro-batches the bubble is below 20 %: why GPipe wants many micro-batches.")
def _check_bubble(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.40}")
    for p, m in ((2, 1), (2, 4), (4, 8), (1, 3), (8, 32)):
        got = student(p, m)
        expect(got is not ..., "your function still returns ...: replace it with the formula")
        if p > 1 and abs(got - (p - 1) / m) < 1e-9 and abs((p - 1) / m - _bubble(p, m)) > 1e-9:
            raise ExerciseFailure(f"bubble({p}, {m}) = {got}: that is idle slots over *working* slots; "
                                  "divide by all m + p - 1 slots of the step")
        expect_close(got, _bubble(p, m), what=f"bubble({p}, {m})")


INT8_BYTES = 1536 * 384 + 8 + 8  # one byte per weight, plus a float64 scale and an int64 zero point


@exercise("parallel.int8_bytes", solution=INT8_BYTES,
          hint="an int8 weight is 1 byte; torch keeps one float64 scale and one int64 zero point per "
               "(per-tensor) quantized matrix",
          success="4 bytes became 1: the full preset's MLP matrix goes from 2.36 MB to 0.59 MB.")
def _check_int8_bytes(student) -> None:
    expect(isinstance(student, int | float), f"answer with a number of bytes, not {type(student).__name__}")
    if student == 1536 * 384 * 4:
        raise ExerciseFailure("that is the float32 size (4 bytes per weight); int8 takes 1")
    if student == 1536 * 384:
        raise ExerciseFailure("almost: the matrix also stores its scale and zero point (8 bytes each)")
    expect_close(student, INT8_BYTES, what="bytes of the int8 matrix")
