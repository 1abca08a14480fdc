"""Weeks that several files hold: one observation, taken from the latest file.

Exports overlap: a monthly file repeats the weeks of the weekly files, a re-sent file corrects
a week. So across files the same ISBN-week (or series-week) is never summed; repeats within
one file are (BookScan can list a title twice in one export; see `reader`). The files are
ranked by their last week, then by name without suffixes (`week-10-corrected.csv` after
`week-10.csv`), and the row of the highest-ranked file, the latest export, is kept. Rows of
other files with the same volume are dropped silently (counted in each file's summary); an
ISBN-week whose volumes differ is a warning (an error under `strict`) at the kept row, naming
the ISBN, the week and every superseded file and row with its volume.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shelfcast.catalog.paths import file_format
from shelfcast.catalog.validation import ORIGIN, ProblemLog, Table, display, repeated_keys

FILE = "_file"  # the column of the input file (its index) each row came from


@dataclass
class Overlaps:
    """Which rows `resolve_overlaps` kept, and how many of each file's it dropped."""

    keep: np.ndarray  # mask over the frame's rows
    superseded: np.ndarray  # per file: rows dropped for the same week in a later file
    conflicting: np.ndarray  # per file: of those, rows whose volume differed from the kept one


def file_ranks(paths: Sequence[str], last_weeks: Sequence[pd.Timestamp | None]) -> np.ndarray:
    """Each file's rank, highest the latest: by last week (files without one lowest), then by
    name without its suffixes."""

    def order_of(i: int) -> tuple[pd.Timestamp, str, str, str]:
        week, path = last_weeks[i], paths[i]
        latest = pd.Timestamp.min if week is None else week
        return latest, posixpath.dirname(path), file_format(path)[0], path

    order = sorted(range(len(paths)), key=order_of)
    ranks = np.empty(len(paths), dtype=np.int64)
    ranks[order] = np.arange(len(paths))
    return ranks


def resolve_overlaps(
    frame: pd.DataFrame,
    keys: list[str],
    value: str,
    ranks: np.ndarray,
    tables: Sequence[Table],
    log: ProblemLog,
) -> Overlaps:
    """Keep one row per key of `frame` (rows from several files, one per key and file): the
    row of the file of highest rank. Differing `value`s are reported at the kept row."""
    keep = np.ones(len(frame), dtype=bool)
    shared = repeated_keys(frame, keys)
    if not shared.any():
        none = np.zeros(len(ranks), dtype=np.int64)
        return Overlaps(keep, none, none.copy())
    at = np.flatnonzero(shared)
    rows = frame.iloc[at][[*keys, value, *ORIGIN, FILE]]
    rows = rows.assign(_at=at, _rank=ranks[rows[FILE].to_numpy()])
    rows = rows.sort_values([*keys, "_rank"], kind="stable", ignore_index=True)
    starts = np.flatnonzero(~rows.duplicated(keys).to_numpy())
    ends = np.append(starts[1:], len(rows))
    group = np.repeat(np.arange(len(starts)), ends - starts)
    kept = ends - 1  # each key's row from the highest-ranked file
    volumes = rows[value].to_numpy()
    differs = volumes != volumes[kept][group]
    dropped = np.ones(len(rows), dtype=bool)
    dropped[kept] = False
    keep[rows["_at"].to_numpy()[dropped]] = False
    files = rows[FILE].to_numpy()
    conflicted = np.flatnonzero(np.add.reduceat(differs, starts))
    _report(rows, starts[conflicted], kept[conflicted], keys, value, tables, log)
    return Overlaps(
        keep,
        superseded=np.bincount(files[dropped], minlength=len(ranks)),
        conflicting=np.bincount(files[differs], minlength=len(ranks)),
    )


def _report(
    rows: pd.DataFrame,
    starts: np.ndarray,
    kept: np.ndarray,
    keys: list[str],
    value: str,
    tables: Sequence[Table],
    log: ProblemLog,
) -> None:
    """A problem at each kept row (`rows` positions `kept`) naming the rows `starts[i]` up to
    it, which it supersedes."""
    origin = rows[ORIGIN].to_numpy()
    volumes = rows[value].to_numpy()
    series, weeks = (rows[key].to_numpy() for key in keys)
    problem = f"{value} differs across files"
    for t in np.unique(origin[kept, 0]):
        table = tables[int(t)]
        mine = np.flatnonzero(origin[kept, 0] == t)

        def detail(i: int, table: Table = table, mine: np.ndarray = mine) -> str:
            first, last = starts[mine[i]], kept[mine[i]]
            others = "; ".join(
                f"{tables[origin[j, 0]].where(origin[j, 1], table)}: {display(volumes[j])}"
                for j in range(first, last)
            )
            where = (
                f"{table.header(keys[0])} {series[last]}, "
                f"week {pd.Timestamp(weeks[last]):%Y-%m-%d}: {problem}"
            )
            if log.strict:
                return f"{where} ({display(volumes[last])} here; {others})"
            return f"{where}; the latest file's {display(volumes[last])} is kept over {others}"

        positions = origin[kept[mine], 1]
        table.flag(log, positions, value, problem, detail=detail, warning=True)
