"""Pictures of what the models do: curves, embeddings, activations, attention."""

from lmlab.viz.save import save

__all__ = ["save"]
