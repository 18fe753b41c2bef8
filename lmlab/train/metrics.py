"""metrics.json: what every ``lmlab train ...`` leaves behind for comparison and grading.

JSON has no nan or infinity: a non-finite number is written as ``null`` (a diverged run also says
``"stopped": "diverged"`` and ``"diverged_at"``), so every reader can parse the file.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from lmlab.atomic import atomic_write


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    with atomic_write(path, suffix=".tmp") as f:
        json.dump(json_safe(data), f, indent=2, ensure_ascii=False, default=str, allow_nan=False)
        f.write("\n")
    return Path(path)


def write_metrics(out_dir: str | os.PathLike, config: dict[str, Any], **metrics: Any) -> Path:
    """Write ``OUT/metrics.json``: the final numbers plus the fully resolved config under "config"."""
    return write_json_atomic(Path(out_dir) / "metrics.json", {**metrics, "config": dict(config)})


def json_safe(value: Any) -> Any:
    """nan and ±inf become None (JSON's null), in nested dicts, lists and tuples too."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return json_safe(value.item())
    return value
