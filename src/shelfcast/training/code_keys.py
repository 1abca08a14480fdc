"""What the training steps' cache keys cover of the core code they wrap.

The core code each step wraps is part of its cache key, as the step's own code is: a fix in
the reader or the models retrains on unchanged data. The source files are hashed, not
imported, so that a run served from the cache does not load the forecasting core. (The
registry's code is not in any key: a change in how runs are logged does not register the
same models again.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import shelfcast

PACKAGE = Path(shelfcast.__file__).parent


def _code_hash(*patterns: str) -> str:
    digest = hashlib.sha256()
    for path in sorted({p for pattern in patterns for p in PACKAGE.glob(pattern)}):
        digest.update(f"{path.relative_to(PACKAGE).as_posix()}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def reader_code() -> str:
    return _code_hash(
        "catalog/reader.py",
        "catalog/paths.py",
        "catalog/overlaps.py",
        "catalog/validation.py",
        "catalog/isbn.py",
    )


def series_code() -> str:
    return _code_hash("catalog/series.py")


def selection_code() -> str:
    return _code_hash("catalog/selection.py")


def forecasting_code() -> str:
    return _code_hash("forecasting/*.py", "forecasting/families/*.py")
