"""``N_``: marks a message for the translation catalogue without translating it.

It lives below every layer so that models, which must not import :mod:`lmlab.i18n`, can still mark the
English notes they return; whoever shows a note passes it through ``lmlab.i18n._``.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now (``_()`` translates it where shown)."""
    return message
