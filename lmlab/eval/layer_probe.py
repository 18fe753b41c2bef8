"""What do the layers hold? Fit a linear classifier on each layer's token vectors and see which layer
answers a question best (Tenney et al. 2019 "BERT rediscovers the classical NLP pipeline", in small).

    states = layer_states(model, ids, mask)        # [(N, T, C)] for the embeddings and every block
    accs = probe_layers(states, targets, where)    # held-out balanced accuracy per layer
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


@torch.no_grad()
def layer_states(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Token vectors after the embeddings and after every block: n_layer + 1 tensors (N, T, C).

    Read with forward hooks, so the model's code stays as it is.
    """
    if hasattr(model, "bert"):  # BertForMaskedLM
        stages = [model.bert.embeddings, *model.bert.encoder.layer]
    else:  # lmlab's pre-LN TransformerEncoder
        stages = [model.embed, *model.blocks]
    seen: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append((out[0] if isinstance(out, tuple)
                                                                      else out).detach().cpu()))
             for m in stages]
    was = model.training
    model.eval()
    try:
        model.encode(ids, mask)
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    return seen


def probe_layers(states: Sequence[torch.Tensor], targets: torch.Tensor, where: torch.Tensor, *,
                 test_fraction: float = 0.3, seed: int = 0) -> list[float]:
    """Held-out balanced accuracy of a linear probe per layer; ``targets`` (N, T) labels at ``where``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    y = targets[where].numpy()
    if len(np.unique(y)) < 2:
        raise ValueError(f"the probe's targets hold one class only ({np.unique(y).tolist()}); "
                         "pick a question with at least two answers")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_test = max(1, int(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    accs = []
    for h in states:
        X = h[where].float().numpy()
        scaler = StandardScaler().fit(X[train])
        clf = LogisticRegression(max_iter=500).fit(scaler.transform(X[train]), y[train])
        pred = clf.predict(scaler.transform(X[test]))
        # balanced accuracy (the mean of per-class recalls): 1/K for a probe that knows nothing, even
        # when one answer dominates (most characters are not a rhyme slot)
        accs.append(float(np.mean([np.mean(pred[y[test] == c] == c) for c in np.unique(y[test])])))
    return accs
