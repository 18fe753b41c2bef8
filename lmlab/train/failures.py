"""Failures a training run must report plainly: a diverged loss and a write that did not happen.

Both leave the last good files on disk untouched and say so in one line:

    with guarded_write("checkpoint", out / "ckpt.pt"):
        save_checkpoint(out / "ckpt.pt", ...)      # an OSError becomes WriteFailed, naming what survived
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lmlab.checkpoint import NonFiniteWeights, first_nonfinite_parameter
from lmlab.i18n import N_, _

__all__ = ["DIVERGENCE_HINT", "EXIT_FAILED", "EXIT_INTERRUPTED", "NonFiniteWeights", "WriteFailed",
           "diverged_message", "first_nonfinite_parameter", "guarded_write", "write_failed_message"]

# what the learner can change when the loss goes to nan/inf (trainers pass their own flag names)
DIVERGENCE_HINT = N_("lower the learning rate (--lr) or turn gradient clipping on (--grad-clip 1.0)")
# the files guarded_write names and the default of what survived, for the message catalogue
_SHOWN = (N_("checkpoint"), N_("best checkpoint"), N_("metrics"), N_("vectors"),
          N_("any checkpoint saved before it is intact"))

# exit status of ``lmlab train ...``: 0 done, 1 diverged or a write failed, 2 bad input, 130 Ctrl-C
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class WriteFailed(OSError):
    """A checkpoint, metrics or export file could not be written; the message says what survived.

    A trainer called directly (``lmlab.train.engine.train``) attaches
    what it had in memory before re-raising, so a notebook loses nothing: ``err.model``, ``err.history``,
    ``err.optimizer``, ``err.tokenizer``, ``err.next_iter`` (steps done) and ``err.train_s`` (None when
    not attached; word2vec's model holds ``W_in``/``W_out`` and its tokenizer is the ``Vocab``);
    ``train(recipe, model=err.model, state=err)`` goes on.
    """

    model: Any = None
    history: Any = None
    optimizer: Any = None
    tokenizer: Any = None
    next_iter: int | None = None
    train_s: float | None = None

    def keep(self, **state: Any) -> WriteFailed:
        """Attach the in-memory training state (``model=``, ``history=``, ...) and return ``self``."""
        for name, value in state.items():
            if not hasattr(type(self), name):
                raise TypeError(f"WriteFailed.keep() got an unknown field {name!r}")
            setattr(self, name, value)
        return self


def diverged_message(iteration: int, value: float, *, hint: str = DIVERGENCE_HINT,
                     kept: str = "any checkpoint saved before it is intact") -> str:
    """One line: where the loss stopped being finite, its value, what was kept, and the fix."""
    return _("training diverged: the loss became {value} at iteration {iteration}; stopped there and wrote "
             "no weights after it ({kept}); {hint}").format(value=value, iteration=iteration, kept=_(kept),
                                                            hint=_(hint))


@contextmanager
def guarded_write(what: str, path: str | os.PathLike, *, intact: str | os.PathLike | None = None,
                  in_memory: bool = False) -> Iterator[None]:
    """Turn an OSError inside the block into ``WriteFailed``: what failed, where, and what is intact.

    ``intact`` is the file to vouch for (default ``path`` itself: an atomic write never replaces it with
    half a file); ``in_memory`` adds that the model and history are still in this Python session.
    """
    try:
        yield
    except WriteFailed:
        raise
    except OSError as err:
        raise WriteFailed(write_failed_message(what, Path(path), err, intact=intact,
                                               in_memory=in_memory)) from err


def write_failed_message(what: str, path: Path, err: OSError, *, intact: str | os.PathLike | None = None,
                         in_memory: bool = False) -> str:
    """``could not write the checkpoint runs/x/ckpt.pt (No space left on device) ...`` in one line."""
    reason = err.strerror or str(err)
    code = errno.errorcode.get(err.errno or 0)
    reason = f"{reason}, {code}" if code else reason
    survivor = Path(intact) if intact is not None else path
    if _is_file(survivor):
        kept = _("the previous {survivor} is intact").format(survivor=survivor)
    else:
        kept = _("no earlier {name} existed").format(name=survivor.name)
    fix = {errno.ENOSPC: _("free some disk space"), errno.EFBIG: _("free space or raise the file-size limit"),
           errno.EROFS: _("choose a writable --out"), errno.EACCES: _("choose a writable --out"),
           errno.EDQUOT: _("free space within your quota")}.get(err.errno or 0, _("check the --out folder"))
    if in_memory:
        then = _("; the model and history are still in this session's memory: {fix}, then call save() or "
                 "fit() again (or save(path) elsewhere)").format(fix=fix)
    else:
        then = _("; {fix}, then run again (with --resume to continue from the last checkpoint)"
                 ).format(fix=fix)
    return _("could not write the {what} {path} ({reason}); no half-written file was left and {kept}{then}"
             ).format(what=_(what), path=path, reason=reason, kept=kept, then=then)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False
