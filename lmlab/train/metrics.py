"""metrics.json: what every ``lmlab train ...`` leaves behind for comparison and grading."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False, default=str)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_metrics(out_dir: str | os.PathLike, config: dict[str, Any], **metrics: Any) -> Path:
    """Write ``OUT/metrics.json``: the final numbers plus the fully resolved config under "config"."""
    return write_json_atomic(Path(out_dir) / "metrics.json", {**metrics, "config": dict(config)})
