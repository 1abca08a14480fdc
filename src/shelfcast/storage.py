"""The artifact store: immutable, checksummed files under one root URI, over fsspec.

The root is a local folder (the default, `Settings.artifact_root`), `gs://bucket/prefix`
(gcsfs) or any other fsspec URI whose library is installed (`s3://` with s3fs). Files are
written once: writing a path that exists with the same bytes is a verified no-op, with other
bytes a `WriteConflict`. Local writes go to a temporary file renamed into place; on object
stores each upload is a single object write (`create` mode where the store supports it).
Every write is read back and compared with its sha256, and reads that know a file's sha256
verify it (`ChecksumMismatch`). Many files are read and written in one batched call, which
object stores run concurrently.

Google Cloud Storage: gcsfs's experimental zonal-bucket support is switched off (unless set
otherwise) because it tries a gRPC call first on every operation. With
`STORAGE_EMULATOR_HOST` set, gcsfs talks to that emulator with anonymous credentials and a
few requests at a time (the emulator's HTTP server stalls on more concurrent connections).
"""

from __future__ import annotations

import os

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import hashlib
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from shelfcast.errors import ShelfcastError

EMULATOR_BATCH_SIZE = 4  # concurrent requests to a storage emulator


class StorageError(ShelfcastError):
    """The artifact store could not be read or written."""


class ArtifactNotFound(StorageError):
    """A file the caller needs is not in the store."""


class WriteConflict(StorageError):
    """A path already holds different bytes; artifacts are never overwritten."""


class ChecksumMismatch(StorageError):
    """A file's bytes do not have the sha256 recorded for them."""

    def __init__(self, uri: str, expected: str, actual: str):
        self.uri, self.expected, self.actual = uri, expected, actual
        super().__init__(
            f"{uri}: checksum mismatch (sha256 expected {expected}, got {actual}); "
            "the file is corrupt or was changed after it was written"
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class WriteResult:
    """What a write did: files uploaded now, and files already there with the same bytes."""

    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    checksums: dict[str, str]  # path -> sha256, for every file of the write


def storage_options(protocol: str, project: str | None = None) -> dict[str, Any]:
    """fsspec options for a protocol: anonymous, throttled access to a GCS emulator."""
    if protocol not in ("gs", "gcs"):
        return {}
    options: dict[str, Any] = {"project": project} if project else {}
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        options.update(token="anon", batch_size=EMULATOR_BATCH_SIZE)
    return options


class ArtifactStore:
    """Files under `root_uri`, addressed by paths relative to it (`models/<name>/<v>/...`)."""

    def __init__(self, root_uri: str | Path, project: str | None = None):
        text = str(root_uri).rstrip("/") or "/"
        protocol = fsspec.core.split_protocol(text)[0] or "file"
        try:
            self.fs, path = fsspec.core.url_to_fs(text, **storage_options(protocol, project))
        except (ImportError, ValueError) as exc:
            raise StorageError(f"cannot open the artifact store {text}: {exc}") from None
        self.local = isinstance(self.fs, LocalFileSystem)
        self._base = os.path.abspath(path) if self.local else path.rstrip("/")
        self.root = self._base if self.local else self.fs.unstrip_protocol(self._base)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root!r})"

    def uri(self, path: str) -> str:
        """The full URI (or local path) of a file in the store."""
        return f"{self.root.rstrip('/')}/{path}"

    def _full(self, path: str) -> str:
        return f"{self._base.rstrip('/')}/{path}"

    def exists(self, path: str) -> bool:
        self.fs.invalidate_cache()
        return bool(self.fs.exists(self._full(path)))

    def list(self, folder: str) -> list[str]:
        """Names directly under `folder` (files and folders); empty when it does not exist."""
        self.fs.invalidate_cache()
        try:
            entries = self.fs.ls(self._full(folder), detail=False)
        except FileNotFoundError:
            return []
        except Exception as exc:  # credentials, network: whatever the store's library raises
            raise StorageError(f"cannot list {self.uri(folder)}: {exc}") from exc
        return sorted({str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries})

    def read(self, path: str, sha: str | None = None) -> bytes:
        """One file's bytes, verified against `sha` when given."""
        return self.read_many({path: sha})[path]

    def read_many(self, expected: Mapping[str, str | None]) -> dict[str, bytes]:
        """Many files in one batched call; each is verified against its sha256 unless None."""
        found = self.read_present(expected)
        missing = [p for p in expected if p not in found]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ArtifactNotFound(f"{self.uri(missing[0])} does not exist{more}")
        for path, data in found.items():
            want = expected[path]
            if want is not None and sha256(data) != want:
                raise ChecksumMismatch(self.uri(path), want, sha256(data))
        return found

    def write(self, files: Mapping[str, bytes]) -> WriteResult:
        """Write files that are absent, check those present, read every new one back.

        Raises WriteConflict when a path holds other bytes (nothing is overwritten) and
        ChecksumMismatch when a file reads back different from what was written.
        """
        checksums = {path: sha256(data) for path, data in files.items()}
        present = self.read_present(files)
        for path, data in present.items():
            if sha256(data) != checksums[path]:
                raise WriteConflict(
                    f"{self.uri(path)} already exists with other content (sha256 "
                    f"{sha256(data)}, new {checksums[path]}); artifacts are never overwritten"
                )
        absent = {p: d for p, d in files.items() if p not in present}
        if absent:
            self._put(absent)
            self.read_many({p: checksums[p] for p in absent})
        return WriteResult(tuple(absent), tuple(present), checksums)

    def read_present(self, paths: Iterable[str]) -> dict[str, bytes]:
        """The bytes of those of `paths` that exist (unverified), in one batched call."""
        full = {self._full(p): p for p in paths}
        if not full:
            return {}
        try:
            found = self.fs.cat(list(full), on_error="return")
        except FileNotFoundError:
            found = {}
        except Exception as exc:  # credentials, network: whatever the store's library raises
            raise StorageError(f"cannot read from {self.root}: {exc}") from exc
        out: dict[str, bytes] = {}
        for key, path in full.items():
            data = found.get(self.fs._strip_protocol(key), FileNotFoundError())
            if isinstance(data, FileNotFoundError | IsADirectoryError):
                continue
            if isinstance(data, BaseException):
                raise StorageError(f"{self.uri(path)}: cannot read ({data})") from data
            out[path] = bytes(data)
        return out

    def _put(self, files: Mapping[str, bytes]) -> None:
        if self.local:
            for path, data in files.items():
                replace_file(Path(self._full(path)), data)
            return
        try:
            self.fs.pipe({self._full(p): d for p, d in files.items()}, mode="create")
        except FileExistsError:
            pass  # written meanwhile by someone else: the read-back decides
        except Exception as exc:  # credentials, network: whatever the store's library raises
            raise StorageError(f"cannot write to {self.root}: {exc}") from exc


def replace_file(target: Path, data: bytes) -> None:
    """Write to a temporary sibling and rename it into place (readers never see half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
