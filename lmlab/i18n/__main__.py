"""``python -m lmlab.i18n update|build|check [NOTEBOOK...]`` (also ``lmlab i18n ...``)."""

import sys

from lmlab.i18n.cli import main

sys.exit(main())
