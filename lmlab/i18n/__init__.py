"""The language a learner reads: ``LMLAB_LANG=en|zh`` and one message helper, ``_()``.

Library messages (exercise feedback and hints, setup notes, fallback notices, figure titles) are written
in English and looked up in a gettext catalogue, ``lmlab/i18n/locale/zh/LC_MESSAGES/lmlab.po`` (compiled to
``lmlab.mo`` beside it by ``python -m lmlab.i18n build``). The language is read at call time, so a notebook
that calls ``lmlab.notebook.setup(lang="zh")`` speaks Chinese from its next line on. The notebooks
themselves are translated by :mod:`lmlab.i18n.notebooks`.
"""

from __future__ import annotations

import gettext
import os
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "zh")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "lmlab"

__all__ = ["LANGUAGES", "N_", "_", "lang", "set_lang"]


def lang() -> str:
    """The learner's language from ``$LMLAB_LANG`` ('zh', 'zh_CN', 'zh-Hans' mean 'zh'); 'en' by default."""
    value = os.environ.get("LMLAB_LANG", "").strip().lower().replace("-", "_")
    return "zh" if value.startswith("zh") else "en"


def set_lang(value: str) -> str:
    """Set ``$LMLAB_LANG`` for this process (and the commands it starts); returns the language."""
    key = value.strip().lower().replace("-", "_")
    key = "zh" if key.startswith("zh") else key
    if key not in LANGUAGES:
        raise ValueError(f"unknown language {value!r}; use one of {', '.join(LANGUAGES)} (LMLAB_LANG)")
    os.environ["LMLAB_LANG"] = key
    return key


@cache
def _translations(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def _(message: str) -> str:
    """``message`` in the learner's language (itself when English, or when no translation exists)."""
    if not message or lang() == "en":
        return message
    return _translations(lang()).gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now (``_()`` translates it where shown)."""
    return message
