"""Writing output files whole: readers see the old file or the new one, never half of one.

Local paths are written to a temporary sibling and renamed into place. Other fsspec URIs
(`gs://`, `s3://`, `memory://`) are written in one upload, which object stores make visible
whole. Unlike the artifact store (write-once), these files may be replaced.
"""

from __future__ import annotations

from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from shelfcast.errors import ShelfcastError
from shelfcast.storage import replace_file, storage_options


class OutputError(ShelfcastError):
    """An output file could not be written."""


def write_atomic(target: str | Path, data: bytes) -> str:
    """Write `data` to a local path or URI; returns the path or URI written."""
    text = str(target)
    protocol = fsspec.core.split_protocol(text)[0] or "file"
    try:
        fs, path = fsspec.core.url_to_fs(text, **storage_options(protocol))
    except (ImportError, ValueError) as exc:
        raise OutputError(f"cannot write {text}: {exc}") from None
    if isinstance(fs, LocalFileSystem):
        _write_local(Path(path), data)
        return path
    try:
        fs.pipe_file(path, data)
    except OSError as exc:
        raise OutputError(f"cannot write {text}: {exc}") from exc
    return text


def _write_local(target: Path, data: bytes) -> None:
    try:
        replace_file(target, data)
        target.chmod(0o644)  # temporary files are created private to the owner
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc}") from None
