"""Pictures of what the models do: curves, embeddings, activations, attention."""
