"""Title metadata files: one row per ISBN with its title, author, binding, publisher, product
class, RRP and publication date, such as the sample catalogue's `isbn_list.csv`.

Read like sales files (csv, xlsx or parquet; local paths or fsspec URIs; the same header
matching: "Publication Date" or "Pub Date", any case and spacing) and validated as strictly:
every bad ISBN, RRP or date is reported with its file, row, column and value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shelfcast.catalog.reader import read_tables
from shelfcast.catalog.validation import (
    DATE_FORMS,
    ORIGIN,
    ProblemLog,
    Table,
    check_isbns,
    optional_text,
    parse_dates,
    parse_numbers,
    with_origin,
)
from shelfcast.errors import DataValidationError

TITLE_COLUMNS = [
    "isbn",
    "title",
    "author",
    "binding",
    "imprint",
    "publisher_group",
    "product_class",
    "rrp",
    "publication_date",
]
_TEXT = ("title", "author", "binding", "imprint", "publisher_group", "product_class")


def read_metadata(path: str) -> pd.DataFrame:
    """The titles of a metadata file, one row per ISBN, in `TITLE_COLUMNS` (`rrp` float,
    `publication_date` datetime64; NaN/NaT/None where blank).

    ISBN is the one required column. Raises `DataValidationError` listing every error: an
    invalid ISBN, RRP or date, an ISBN listed twice, or no titles at all.
    """
    log = ProblemLog(strict=False)
    tables = read_tables(path, log)
    parts = [
        _titles(table, log, index)
        for index, table in enumerate(tables)
        if not table.missing(("isbn",), log)
    ]
    frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=[*TITLE_COLUMNS, *ORIGIN])
    )
    _flag_repeated(frame, tables, log)
    if frame.empty and not any(p.severity == "error" for p in log.problems):
        log.add("no titles found", file=path)
    errors = [p for p in log.problems if p.severity == "error"]
    if errors:
        raise DataValidationError(errors)
    frame = frame.drop(columns=ORIGIN)
    frame["rrp"] = frame["rrp"].astype(np.float64)
    frame["publication_date"] = frame["publication_date"].astype("datetime64[ns]")
    return frame


def _titles(table: Table, log: ProblemLog, index: int) -> pd.DataFrame:
    """The table's rows in `TITLE_COLUMNS`, each bad cell reported."""
    columns = {"isbn": check_isbns(table, log)}
    columns.update({c: optional_text(table, c) for c in _TEXT})
    columns["rrp"] = np.full(len(table.rows), np.nan)
    if "rrp" in table.cells:
        rrp, blank = parse_numbers(table.cells["rrp"])
        table.flag(log, np.flatnonzero(np.isnan(rrp) & ~blank), "rrp", "not a number")
        table.flag(log, np.flatnonzero(rrp < 0), "rrp", "negative number")
        columns["rrp"] = rrp
    columns["publication_date"] = np.full(len(table.rows), np.datetime64("NaT"), "datetime64[ns]")
    if "publication_date" in table.cells:
        dates, blank = parse_dates(table.cells["publication_date"])
        bad = np.flatnonzero(np.isnat(dates) & ~blank)
        table.flag(log, bad, "publication_date", f"not a date ({DATE_FORMS})")
        columns["publication_date"] = dates
    return with_origin(pd.DataFrame(columns, columns=TITLE_COLUMNS), index)


def _flag_repeated(frame: pd.DataFrame, tables: list[Table], log: ProblemLog) -> None:
    """Report each row whose ISBN an earlier row already has."""
    listed = frame[frame["isbn"].notna()]
    later = listed[listed.duplicated("isbn")]
    first = listed.drop_duplicates("isbn").set_index("isbn")[ORIGIN]
    for k, part in later.groupby("_table", sort=False):
        table = tables[int(k)]
        seen = first.loc[part["isbn"]].to_numpy()
        table.flag(
            log,
            part["_pos"].to_numpy(),
            "isbn",
            "ISBN listed twice",
            detail=lambda i, seen=seen, table=table: (
                f"ISBN listed twice (also {tables[seen[i, 0]].where(seen[i, 1], table)})"
            ),
        )
