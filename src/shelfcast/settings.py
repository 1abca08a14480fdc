"""Where Shelfcast keeps its state: the project folder and the built-in sample catalogue."""

from __future__ import annotations

import os
from pathlib import Path

SAMPLE_SEED = 42


def project_dir() -> Path:
    """The project folder: `SHELFCAST_HOME`, else `.shelfcast` under the working directory."""
    return Path(os.environ.get("SHELFCAST_HOME") or Path.cwd() / ".shelfcast")


def sample_path(seed: int = SAMPLE_SEED) -> Path:
    """Where the sample catalogue for `seed` is written on first use."""
    return project_dir() / "sample" / f"seed-{seed}" / "bookscan_weekly.parquet"
