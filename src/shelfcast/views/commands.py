"""Commands to suggest that work as printed, whether or not the venv is active."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path


def program(name: str) -> str:
    """`name` as the user can run it: the bare name when the one on PATH is the one beside
    this Python (the venv is active), else its absolute path (quoted for a shell)."""
    beside = Path(sys.executable).parent / name
    if not beside.exists():
        return name
    found = shutil.which(name)
    if found is not None and Path(found).resolve() == beside.resolve():
        return name
    return shlex.quote(str(beside.absolute()))


def shelfcast() -> str:
    """The `shelfcast` command as the user can run it (see `program`)."""
    return program("shelfcast")
