"""One line to the learner from code that does not import lmlab.i18n (the models, which stay plain).

``say(template, **values)`` prints ``template.format(**values)`` (``learner_text`` returns it), in the
learner's language when ``lmlab.i18n`` is already loaded (a notebook's ``setup()`` and the CLI load it),
in English otherwise. Write the template in English with ``{name}`` fields, like a message for ``_()``;
``python -m lmlab.i18n update`` collects the templates of ``say`` and ``learner_text`` into the catalogue.
"""

from __future__ import annotations

import sys


def learner_text(template: str, **values: object) -> str:
    """``template.format(**values)``, translated when the catalogue is loaded (a note a view shows)."""
    i18n = sys.modules.get("lmlab.i18n")
    text = i18n._(template) if i18n is not None else template
    return text.format(**values)


def say(template: str, **values: object) -> None:
    """Print one line for the learner, translated when the catalogue is loaded."""
    print(learner_text(template, **values), flush=True)
