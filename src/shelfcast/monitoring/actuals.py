"""The actuals store: weeks of actual sales that arrived after training, one row per
(isbn, week_ending), in one parquet file under the project folder.

Files are read and validated by the catalog reader exactly as training data is (BookScan
xlsx, csv or parquet, local or any fsspec URI); any error refuses the whole ingest, listing
every problem with its file, sheet, row and column. Ingesting is idempotent: a week already
stored with the same volume is counted as known and left alone. A stored week arriving with
another volume is a conflict: the ingest is refused and nothing is written, unless
`replace=True`, which takes the new volumes. The file is rewritten whole (a temporary file
renamed into place) under an exclusive lock, so concurrent ingests never lose rows.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from shelfcast.atomic import write_atomic
from shelfcast.errors import Problem, ShelfcastError

COLUMNS = ["isbn", "week_ending", "volume", "title", "author", "ingested_at"]
KEY = ["isbn", "week_ending"]
TOLERANCE = 1e-6  # volumes closer than this are the same


class ActualsError(ShelfcastError):
    """Actual sales could not be ingested or read."""


class ActualsConflict(ActualsError):
    """Weeks already stored arrived with other volumes; `conflicts` lists them."""

    def __init__(self, conflicts: pd.DataFrame):
        self.conflicts = conflicts
        shown = "; ".join(
            f"{r.isbn} week ending {r.week_ending:%Y-%m-%d}: stored {r.stored:g}, new {r.volume:g}"
            for r in conflicts.head(3).itertuples()
        )
        more = f" (and {len(conflicts) - 3} more)" if len(conflicts) > 3 else ""
        super().__init__(
            f"{len(conflicts)} week(s) already stored with another volume: {shown}{more}; "
            "nothing was written (ingest again with --replace to take the new volumes)"
        )


@dataclass(frozen=True)
class IngestResult:
    """What an ingest found and did."""

    files: list[str]
    rows: int  # rows read (one per ISBN-week)
    new: int  # weeks not stored before
    known: int  # weeks stored before with the same volume
    changed: int  # weeks stored before with another volume (replaced when `replaced`)
    replaced: bool
    titles: int
    first_week: pd.Timestamp | None
    last_week: pd.Timestamp | None
    stored: int  # rows in the store afterwards
    warnings: list[Problem] = field(default_factory=list)
    conflicts: pd.DataFrame = field(default_factory=pd.DataFrame)


def empty_actuals() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    frame["week_ending"] = pd.Series(dtype="datetime64[ns]")
    frame["volume"] = pd.Series(dtype="float64")
    frame["ingested_at"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


def read_actuals(path: str | Path) -> pd.DataFrame:
    """The stored actuals sorted by ISBN and week (empty when nothing was ingested)."""
    target = Path(path)
    if not target.exists():
        return empty_actuals()
    try:
        frame = pd.read_parquet(target)
    except (OSError, ValueError) as exc:
        raise ActualsError(f"cannot read the actuals store {target}: {exc}") from None
    frame["week_ending"] = pd.to_datetime(frame["week_ending"]).astype("datetime64[ns]")
    return frame[COLUMNS]


def weekly_actuals(actuals: pd.DataFrame) -> pd.DataFrame:
    """`isbn`, `week_ending`, `volume` for every stored title and every week from the store's
    first to its last, zero where a title has no row: BookScan leaves weeks without sales
    out, and training reads them as zeros too."""
    if actuals.empty:
        return actuals[["isbn", "week_ending", "volume"]].copy()
    stored = pd.DatetimeIndex(actuals["week_ending"].unique())
    weeks = pd.date_range(stored.min(), stored.max(), freq="7D").union(stored)
    index = pd.MultiIndex.from_product([sorted(actuals["isbn"].unique()), weeks], names=KEY)
    volume = actuals.set_index(KEY)["volume"].reindex(index, fill_value=0.0)
    return volume.reset_index()


def ingest_actuals(
    paths: Sequence[str],
    store: str | Path,
    *,
    replace: bool = False,
    isbn_list: str | None = None,
    strict: bool = False,
) -> IngestResult:
    """Validate the files and add their weeks to the store at `store`.

    Raises `DataValidationError` (every problem, nothing written) for bad files and
    `ActualsConflict` for stored weeks with other volumes unless `replace`.
    """
    from shelfcast.catalog.reader import read_sales

    sales = read_sales(list(paths), isbn_list=isbn_list, strict=strict)
    if sales.kind != "bookscan":
        raise ActualsError(
            f"actual sales must be BookScan data (ISBN, End Date, Volume); "
            f"{', '.join(sales.files)} hold long-format series"
        )
    incoming = _incoming(sales.frame)
    target = Path(store)
    with _locked(target):
        stored = read_actuals(target)
        merged = incoming.merge(
            stored[[*KEY, "volume"]].rename(columns={"volume": "stored"}), on=KEY, how="left"
        )
        is_new = merged["stored"].isna().to_numpy()
        same = np.isclose(merged["volume"], merged["stored"], rtol=0.0, atol=TOLERANCE)
        changed = ~is_new & ~same
        conflicts = merged.loc[changed, [*KEY, "stored", "volume"]].reset_index(drop=True)
        if len(conflicts) and not replace:
            raise ActualsConflict(conflicts)
        take = incoming[is_new | changed]
        if len(take):
            keep = stored.merge(take[KEY], on=KEY, how="left", indicator=True)
            kept = stored[(keep["_merge"] == "left_only").to_numpy()]
            result = pd.concat([kept, take], ignore_index=True) if len(kept) else take
            result = result.sort_values(KEY, ignore_index=True)
            buffer = io.BytesIO()
            result.to_parquet(buffer, index=False)
            write_atomic(target, buffer.getvalue())
            total = len(result)
        else:
            total = len(stored)
    weeks = incoming["week_ending"]
    return IngestResult(
        files=sales.files,
        rows=len(incoming),
        new=int(is_new.sum()),
        known=int((~is_new & same).sum()),
        changed=int(changed.sum()),
        replaced=bool(replace and changed.any()),
        titles=int(incoming["isbn"].nunique()),
        first_week=weeks.min() if len(weeks) else None,
        last_week=weeks.max() if len(weeks) else None,
        stored=total,
        warnings=sales.warnings,
        conflicts=conflicts,
    )


def _incoming(frame: pd.DataFrame) -> pd.DataFrame:
    """The reader's rows in the store's columns."""
    out = pd.DataFrame(
        {
            "isbn": frame["isbn"].astype(str).to_numpy(),
            "week_ending": pd.to_datetime(frame["week_ending"]).astype("datetime64[ns]"),
            "volume": frame["volume"].to_numpy(dtype=np.float64),
            "title": frame["title"].to_numpy(dtype=object),
            "author": frame["author"].to_numpy(dtype=object),
        }
    )
    out["ingested_at"] = pd.Timestamp(datetime.now(UTC))
    return out


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An exclusive lock on the store for one read-modify-write."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(target.with_name(target.name + ".lock"), "a")  # noqa: SIM115
    except OSError as exc:
        raise ActualsError(f"cannot open the actuals store {target}: {exc}") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
