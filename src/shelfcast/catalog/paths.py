"""Which files a sales path names: a file, a folder of exports, or a glob, on any fsspec filesystem.

A folder stands for the sales files directly in it (not in its subfolders: an archive or
`old/` folder beside the current exports stays out); a glob (`exports/2024-*.csv`,
`gs://bucket/exports/*.csv`, `memory://...`) for the files it matches. Either way a sales
file has a known suffix (`FORMATS`, optionally compressed, as `.csv.gz`), and the ISBN list
(`isbn_list.csv`, or the list given by name), hidden files and Office lock files (`~$...`)
are left out. Matches are sorted by name and named as the folder or glob was; a file named
twice is read once. A plain path is taken as it is: a missing file is the reader's to report.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from fsspec.utils import infer_compression

from shelfcast.catalog.sample.files import ISBN_LIST_FILE
from shelfcast.errors import Problem

FORMATS = {
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
    ".xlsb": "excel",
    ".ods": "excel",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_MAGIC = re.compile(r"[*?[]")


def file_format(path: str) -> tuple[str, str | None]:
    """The file's name without its suffixes, and its format ("excel", "csv", "parquet") or None."""
    name = posixpath.basename(path.rstrip("/"))
    if infer_compression(name):
        name = posixpath.splitext(name)[0]
    stem, suffix = posixpath.splitext(name)
    return stem, FORMATS.get(suffix.lower())


def expand_paths(
    paths: Sequence[str], *, isbn_list: str | None = None
) -> tuple[list[str], list[Problem]]:
    """The sales files `paths` name, in order and each once, and a problem for each folder or
    glob that names none (or cannot be listed)."""
    skip = {ISBN_LIST_FILE, *([posixpath.basename(isbn_list)] if isbn_list else [])}
    files: dict[str, None] = {}
    problems = []
    for path in paths:
        try:
            found = _expand(path, skip)
        except (OSError, ValueError, ImportError) as exc:
            problems.append(Problem(f"cannot list: {exc}", file=path))
            continue
        if not found:
            where = "match this glob" if _MAGIC.search(path) else "in this folder"
            message = f"no sales files ({', '.join(FORMATS)}) {where}"
            problems.append(Problem(message, file=path))
        files.update(dict.fromkeys(found))
    return list(files), problems


def _expand(path: str, skip: set[str]) -> list[str]:
    fs, target = url_to_fs(path)
    magic = _MAGIC.search(path)
    if magic and not fs.exists(target):  # `sales [final].csv` is a file, not a pattern
        folder = path[: path.rfind("/", 0, magic.start()) + 1]  # the part before the pattern
        entries: Iterable[dict] = fs.glob(target, detail=True).values()
    elif fs.isdir(target):
        folder, entries = path, fs.ls(target, detail=True)
    else:
        return [path]
    names = sorted(
        entry["name"]
        for entry in entries
        if entry["type"] == "file" and _is_sales_file(posixpath.basename(entry["name"]), skip)
    )
    return [_named_from(fs, folder, name) for name in names]


def _is_sales_file(name: str, skip: set[str]) -> bool:
    hidden = name.startswith((".", "~$"))
    return not hidden and name not in skip and file_format(name)[1] is not None


def _named_from(fs: AbstractFileSystem, folder: str, name: str) -> str:
    """`name` (as `fs` lists it) named from `folder` as given: `exports/a.csv` for
    `exports`, `gs://bucket/a.csv` for `gs://bucket/*.csv`."""
    root = url_to_fs(folder or ".")[1].rstrip("/")
    if not name.startswith(f"{root}/"):
        return fs.unstrip_protocol(name)
    prefix = folder if not folder or folder.endswith("/") else f"{folder}/"
    return prefix + name[len(root) + 1 :]
