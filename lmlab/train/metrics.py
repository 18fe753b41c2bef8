"""metrics.json: what every ``lmlab train ...`` leaves behind for comparison and grading."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lmlab.atomic import atomic_write


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    with atomic_write(path, suffix=".tmp") as f:
        json.dump(data, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")
    return Path(path)


def write_metrics(out_dir: str | os.PathLike, config: dict[str, Any], **metrics: Any) -> Path:
    """Write ``OUT/metrics.json``: the final numbers plus the fully resolved config under "config"."""
    return write_json_atomic(Path(out_dir) / "metrics.json", {**metrics, "config": dict(config)})
