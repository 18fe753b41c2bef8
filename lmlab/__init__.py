"""lmlab: an interactive teaching lab for language models."""

__version__ = "0.1.0"
