"""The prediction log's files: their names, rotation by size and age, retention by age and count.

Each server process appends to its own file, `predictions-<host>-<pid>.jsonl` (the *open*
file). When that file would pass `Rotation.max_bytes`, or its first record is older than
`Rotation.max_age`, it is closed and renamed (one `rename`, atomic: a reader sees every record
under one name or the other) to `predictions-<host>-<pid>.<yyyymmddTHHMMSSffffff>Z.jsonl`,
stamped with the UTC time of the rotation, after every record in it; the next record opens a
new file. A batch never straddles two files and a record is never split, so each file is
whole lines, each a complete record.

Retention runs in the writer after each rotation and once a minute: rotated files whose stamp
is older than `Rotation.retention`, and open files not written for that long (left by a server
that has stopped), are deleted, then the oldest rotated files beyond `Rotation.max_files`. It
counts every server's files in the folder, never deletes a file being written, and ignores a
file another server deleted first. Files written before rotation existed
(`predictions-<yyyymmdd>-<host>-<pid>.jsonl`) are read as open files and age out the same way.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shelfcast.settings import ServingSettings

PREFIX = "predictions-"
SUFFIX = ".jsonl"
STAMP = "%Y%m%dT%H%M%S%fZ"
_ROTATED = re.compile(rf"^{PREFIX}(?P<process>.+)\.(?P<stamp>\d{{8}}T\d{{12}}Z){SUFFIX}$")
SWEEP_SECONDS = 60.0  # retention runs at least this often, and after each rotation
DAY = 86_400.0


@dataclass(frozen=True)
class Rotation:
    """When a file is rotated and how long rotated files are kept."""

    max_bytes: int
    max_age: float  # seconds from a file's first record to its rotation
    retention: float  # seconds a rotated file is kept after its rotation
    max_files: int  # rotated files kept in the folder, every server's together

    @classmethod
    def of(cls, serving: ServingSettings | None = None) -> Rotation:
        """From the `serving.prediction_log_*` settings (their defaults when not given)."""
        serving = serving or ServingSettings()
        return cls(
            max_bytes=serving.prediction_log_max_bytes,
            max_age=serving.prediction_log_rotate_hours * 3600.0,
            retention=serving.prediction_log_retention_days * DAY,
            max_files=serving.prediction_log_max_files,
        )


@dataclass(frozen=True)
class LogFile:
    """One file of the log: rotated ones carry the time after their last record."""

    path: Path
    rotated_at: float | None  # None: an open file (being written, or left by a server)

    def newest(self) -> float:
        """A time no record of the file is after (for an open file, its last write)."""
        return self.rotated_at if self.rotated_at is not None else self.path.stat().st_mtime


def process_name() -> str:
    """This process's part of its file names: host and pid."""
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", socket.gethostname()) or "host"
    return f"{host}-{os.getpid()}"


def open_path(folder: Path, process: str | None = None) -> Path:
    """The file a process appends to."""
    return folder / f"{PREFIX}{process or process_name()}{SUFFIX}"


def rotated_path(folder: Path, process: str, when: float) -> Path:
    stamp = datetime.fromtimestamp(when, UTC).strftime(STAMP)
    return folder / f"{PREFIX}{process}.{stamp}{SUFFIX}"


def log_files(folder: Path) -> list[LogFile]:
    """The log's files: rotated ones in the order of their rotation, then open ones by name."""
    rotated: list[LogFile] = []
    opened: list[LogFile] = []
    for path in folder.glob(f"{PREFIX}*{SUFFIX}"):
        match = _ROTATED.match(path.name)
        if match is None:
            opened.append(LogFile(path, None))
        else:
            when = datetime.strptime(match["stamp"], STAMP).replace(tzinfo=UTC).timestamp()
            rotated.append(LogFile(path, when))
    rotated.sort(key=lambda f: (f.rotated_at, f.path.name))
    return rotated + sorted(opened, key=lambda f: f.path.name)


def expired(folder: Path, rotation: Rotation, now: float, keep: Path) -> Iterator[Path]:
    """The files retention deletes now: too old, then the oldest rotated beyond the count
    (`keep`, the caller's open file, never)."""
    kept_rotated: list[Path] = []
    for entry in log_files(folder):
        if entry.path == keep:
            continue
        try:
            old = entry.newest() < now - rotation.retention
        except FileNotFoundError:
            continue
        if old:
            yield entry.path
        elif entry.rotated_at is not None:
            kept_rotated.append(entry.path)
    yield from kept_rotated[: max(0, len(kept_rotated) - rotation.max_files)]


class LogWriter:
    """Appends whole lines to this process's open file, rotating and sweeping as it goes.
    One thread only; every method may raise `OSError` (the folder or disk refused)."""

    def __init__(self, folder: Path, rotation: Rotation, process: str | None = None):
        self.folder = folder
        self.rotation = rotation
        self.process = process or process_name()
        self.path = open_path(folder, self.process)
        self._fd: int | None = None
        self._inode: tuple[int, int] | None = None
        self._size = 0
        self._started: float | None = None  # time of the open file's first record
        self._adopted = False  # a file of an earlier process of this name is rotated first
        self._next_sweep = 0.0

    def write(self, lines: list[bytes], first: float) -> int:
        """Append `lines` (each ending in a newline; the first recorded at `first`), rotating
        between lines where a file would pass its size. Returns how many were written before
        an error, which is then raised as `WriteError`."""
        done = 0
        try:
            self._open()
            self._rotate_if_old(time.time())
            while done < len(lines):
                fd = self._open()
                take, size = self._fitting(lines, done)
                if take == 0:
                    self._rotate(time.time())
                    continue
                self._append(fd, b"".join(lines[done : done + take]))
                self._size += size
                if self._started is None:
                    self._started = first
                done += take
        except OSError as exc:
            raise WriteError(done, exc) from exc
        return done

    def tick(self, now: float) -> None:
        """Rotate a file that has grown old without new records; sweep when due."""
        if self._fd is not None and self._size:
            self._rotate_if_old(now)
        if now >= self._next_sweep:
            self.sweep(now)

    def sweep(self, now: float) -> None:
        """Delete what retention no longer keeps."""
        self._next_sweep = now + SWEEP_SECONDS
        for path in list(expired(self.folder, self.rotation, now, self.path)):
            try:
                path.unlink()
            except FileNotFoundError:  # another server swept it first
                continue

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def finish(self) -> None:
        """Close the open file, and delete it if no record was written to it (a server that
        stops without answering leaves no empty file)."""
        empty = self._fd is not None and self._size == 0
        self.close()
        if empty:
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_size == 0:
                    self.path.unlink()

    # ------------------------------------------------------------------------------ inside

    def _fitting(self, lines: list[bytes], start: int) -> tuple[int, int]:
        """How many lines from `start` fit the open file, and their bytes (one line at least
        in an empty file, however long)."""
        take, size = 0, 0
        for line in lines[start:]:
            if self._size + size + len(line) > self.rotation.max_bytes and (self._size or take):
                break
            take, size = take + 1, size + len(line)
        return take, size

    def _open(self) -> int:
        """The open file's descriptor, (re)opened when it is not open or its name now names
        another file or none (the folder was deleted, say), creating the folder if needed."""
        if self._fd is not None:
            try:
                now = os.stat(self.path)
                if (now.st_dev, now.st_ino) == self._inode:
                    return self._fd
            except FileNotFoundError:
                pass
            self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self._adopted:  # left by an earlier process of this host and pid
            self._adopted = True
            try:
                left = os.stat(self.path)
            except FileNotFoundError:
                left = None
            if left is not None and left.st_size:
                os.rename(self.path, self._free_rotated_path(left.st_mtime))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        status = os.fstat(fd)
        self._fd, self._inode, self._size = fd, (status.st_dev, status.st_ino), status.st_size
        if not self._size:
            self._started = None
        return fd

    def _rotate_if_old(self, now: float) -> None:
        if self._started is not None and now - self._started >= self.rotation.max_age:
            self._rotate(now)

    def _rotate(self, now: float) -> None:
        """Close the open file and give it its rotated name; the next write opens a new one."""
        self.close()
        os.rename(self.path, self._free_rotated_path(now))
        self._started, self._size = None, 0
        self.sweep(now)

    def _free_rotated_path(self, when: float) -> Path:
        """A rotated name not taken yet (clocks can step back)."""
        target = rotated_path(self.folder, self.process, when)
        while target.exists():
            when += 1e-6
            target = rotated_path(self.folder, self.process, when)
        return target

    def _append(self, fd: int, data: bytes) -> None:
        """Write all of `data`, or nothing: a write that fails half-way is cut back off."""
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError:
            if written:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, self._size)
            raise


class WriteError(OSError):
    """A write that failed after `written` lines were appended."""

    def __init__(self, written: int, cause: OSError):
        super().__init__(cause.errno, cause.strerror)
        self.written = written
        self.cause = cause
