"""Reading weekly sales exports: BookScan workbooks, csv and parquet files, long-format series.

Files are local paths or fsspec URIs (`gs://...`, `memory://...`). Every problem found in any
file is collected before anything is returned: `validate_sales` reports them, `read_sales`
raises `DataValidationError` with all of them.
"""

from __future__ import annotations

import importlib.util
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shelfcast.catalog.overlaps import FILE, Overlaps, file_ranks, resolve_overlaps
from shelfcast.catalog.paths import FORMATS, expand_paths, file_format
from shelfcast.catalog.validation import (
    BOOKSCAN_COLUMNS,
    BOOKSCAN_HEADERS,
    BOOKSCAN_REQUIRED,
    HEADER_ALIASES,
    LONG_COLUMNS,
    LONG_HEADERS,
    LONG_REQUIRED,
    METADATA_HEADERS,
    ORIGIN,
    Cells,
    FileSummary,
    ProblemLog,
    Table,
    ValidationReport,
    blank_cells,
    bookscan_frame,
    check_isbns,
    flag_duplicates,
    flag_weekdays,
    infer_weekly_freq,
    long_frame,
    parse_text,
    sorted_codes,
)
from shelfcast.errors import DataValidationError, Problem

__all__ = [
    "FileSummary",
    "SalesData",
    "ValidationReport",
    "infer_weekly_freq",
    "read_sales",
    "validate_sales",
]

Kind = Literal["bookscan", "long"]

EXCEL_ENGINE = "calamine" if importlib.util.find_spec("python_calamine") else "openpyxl"
_KIND_NAMES = {"bookscan": "BookScan", "long": "long-format (unique_id, ds, y)"}
_KEYS = {"bookscan": ["isbn", "week_ending"], "long": ["unique_id", "ds"]}  # one row per key
_VALUES = {"bookscan": "volume", "long": "y"}


def _key(header: object) -> str:
    return re.sub(r"[\s_]+", "", str(header)).lower()


_CANONICAL = {
    _key(name): canonical
    for canonical, shown in {**BOOKSCAN_HEADERS, **LONG_HEADERS, **METADATA_HEADERS}.items()
    for name in (canonical, shown)
} | {_key(alias): canonical for alias, canonical in HEADER_ALIASES.items()}


@dataclass
class SalesData:
    """Valid weekly sales, one row per ISBN-week (BookScan) or per series-week (long format).

    BookScan frames have `BOOKSCAN_COLUMNS`; long-format frames `unique_id`, `ds`, `y`.
    `frame.attrs["freq"]` is the weekly frequency: "W-SAT" for BookScan, inferred for long format.
    """

    frame: pd.DataFrame
    kind: Kind
    warnings: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


@dataclass
class _Checked:
    frame: pd.DataFrame  # one row per key, with its origin columns
    kind: Kind
    files: list[str]
    report: ValidationReport


def read_sales(
    paths: str | Sequence[str],
    *,
    isbn_list: str | None = None,
    strict: bool = False,
    categorical: bool = False,
) -> SalesData:
    """Read and validate sales files into one frame.

    A path is a file, a folder (its sales files) or a glob (see `paths`). `isbn_list` (csv or
    workbook with ISBN, Author and optionally Title) fills blank authors and titles of
    BookScan rows. Rows repeating an ISBN-week within one file are summed with a warning;
    across files the latest file's row is kept (see `overlaps`). `strict` makes every warning
    an error. `categorical` makes the text columns (ISBN, title, ... source; `unique_id`)
    pandas categoricals, blank cells NaN: a few bytes a row instead of an object each, what a
    catalogue of many titles needs. Raises `DataValidationError` listing every error in every
    file.
    """
    checked = _check(paths, isbn_list, strict, categorical)
    pa.default_memory_pool().release_unused()  # what the raw parquet columns held
    if not checked.report.ok:
        raise DataValidationError(checked.report.errors)
    return SalesData(
        frame=_finish(checked),
        kind=checked.kind,
        warnings=checked.report.warnings,
        files=checked.files,
    )


def validate_sales(
    paths: str | Sequence[str], *, isbn_list: str | None = None, strict: bool = False
) -> ValidationReport:
    """Every problem `read_sales` would find in these files, and a summary of each file."""
    return _check(paths, isbn_list, strict, categorical=True).report


def _check(
    paths: str | Sequence[str], isbn_list: str | None, strict: bool, categorical: bool
) -> _Checked:
    log = ProblemLog(strict)
    given = [paths] if isinstance(paths, str) else list(paths)
    found, unmatched = expand_paths(given, isbn_list=isbn_list)
    for problem in unmatched:
        log.add(problem.message, file=problem.file)
    files = [(path, read_tables(path, log)) for path in found]
    tables = [table for _, file_tables in files for table in file_tables]
    kind: Kind = "long" if tables and tables[0].kind == "long" else "bookscan"
    parse, required, columns = (
        (bookscan_frame, BOOKSCAN_REQUIRED, BOOKSCAN_COLUMNS)
        if kind == "bookscan"
        else (long_frame, LONG_REQUIRED, LONG_COLUMNS)
    )
    parts = []
    for index, table in enumerate(tables):
        if table.kind != kind:
            message = f"{_KIND_NAMES[table.kind]} data cannot be read with {_KIND_NAMES[kind]} data"
            log.add(message, file=table.file, sheet=table.sheet)
        elif not table.missing(required, log):
            parts.append(parse(table, log, index, categorical=categorical))
    frame = _concat(parts) if parts else pd.DataFrame(columns=[*columns, *ORIGIN])
    owner = [i for i, (_, file_tables) in enumerate(files) for _ in file_tables]
    frame[FILE] = np.array(owner, dtype=np.int32)[frame["_table"].to_numpy(np.int64)]
    keys = _KEYS[kind]
    repeated = flag_duplicates(frame, [*keys, FILE], tables, log)  # within one file
    freq = "W-SAT" if kind == "bookscan" else flag_weekdays(frame, tables, log)
    frame = _sum_repeated(frame, repeated, [*keys, FILE], kind)
    stats = _file_stats(frame, keys, len(files))
    ranks = file_ranks(found, stats["last"].tolist())
    overlaps = resolve_overlaps(frame, keys, _VALUES[kind], ranks, tables, log)
    if not overlaps.keep.all():
        frame = frame[overlaps.keep]
    frame.attrs["freq"] = freq
    if isbn_list is not None and kind == "bookscan":
        _fill_names(frame, isbn_list, log)
    if not given:
        log.add("no sales files given")
    elif frame.empty and not any(p.severity == "error" for p in log.problems):
        log.add(f"no sales rows found in {', '.join(found)}")
    order = {path: i for i, path in enumerate(found)}
    problems = sorted(log.problems, key=lambda p: order.get(p.file, len(order)))  # stable
    report = ValidationReport(problems, _summaries(files, stats, overlaps, log))
    return _Checked(frame, kind, found, report)


def read_tables(path: str, log: ProblemLog) -> list[Table]:
    """The sales tables of one file: each sheet of a workbook, or the whole csv/parquet file."""
    stem, fmt = file_format(path)
    if fmt is None:
        log.add(f"unknown file format; expected one of {', '.join(FORMATS)}", file=path)
        return []
    try:
        with fsspec.open(path, "rb", compression="infer") as f:
            data = f.read()
    except FileNotFoundError:
        log.add("file not found", file=path)
        return []
    except (OSError, ValueError, ImportError) as exc:
        log.add(f"cannot open file: {exc}", file=path)
        return []
    try:
        sheets = _parse(data, fmt)
    except Exception as exc:  # any parser failure means the file is unreadable
        log.add(f"cannot read as {fmt}: {exc}", file=path)
        return []
    tables = []
    for sheet, raw in sheets.items():
        table = _table(path, sheet, raw, default_source=sheet or stem)
        if table.headers or len(sheets) == 1:
            tables.append(table)
        elif len(raw.columns):
            message = "no sales columns (ISBN, End Date, Volume); sheet skipped"
            log.add(message, file=path, sheet=sheet, warning=True)
    return tables


def _parse(data: bytes, fmt: str) -> dict[str | None, pd.DataFrame]:
    if fmt == "excel":
        return pd.read_excel(io.BytesIO(data), sheet_name=None, engine=EXCEL_ENGINE)
    if fmt == "parquet":
        return {None: _read_parquet(data)}
    options = {"dtype": str, "skip_blank_lines": False}  # keeps row numbers as in the file
    try:
        return {None: pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", **options)}
    except UnicodeDecodeError:
        frame = pd.read_csv(
            io.BytesIO(data), encoding="cp1252", encoding_errors="replace", **options
        )
        return {None: frame}


def _read_parquet(data: bytes) -> pd.DataFrame:
    """A parquet file's rows, text columns as categoricals: each distinct text is one object,
    not one a row, and is parsed once."""
    schema = pq.read_schema(io.BytesIO(data))
    text = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    table = pq.read_table(io.BytesIO(data), read_dictionary=text)
    frame = table.to_pandas(split_blocks=True, self_destruct=True)  # frees columns as it goes
    del table
    pa.default_memory_pool().release_unused()  # the decoded pages, not kept by the pool
    return frame


def _cells(column: pd.Series) -> Cells:
    """A column's cells: categoricals as they are, else a numpy array."""
    return column.array if isinstance(column.dtype, pd.CategoricalDtype) else column.to_numpy()


def _table(path: str, sheet: str | None, raw: pd.DataFrame, default_source: str) -> Table:
    found: dict[str, object] = {}
    for header in raw.columns:
        canonical = _CANONICAL.get(_key(header))
        if canonical is not None and canonical not in found:
            found[canonical] = header
    keep = ~_blank_rows(raw)
    rows = slice(None) if keep.all() else keep
    cells = {canonical: _cells(raw[header])[rows] for canonical, header in found.items()}
    return Table(
        file=path,
        sheet=sheet,
        cells=cells,
        headers={canonical: str(header) for canonical, header in found.items()},
        rows=np.flatnonzero(keep) + 2,  # the header is row 1
        default_source=default_source,
    )


def _blank_rows(raw: pd.DataFrame) -> np.ndarray:
    """Rows in which every cell is empty or whitespace."""
    candidates = np.arange(len(raw))
    for _, column in raw.items():
        candidates = candidates[blank_cells(_cells(column)[candidates])]
        if not len(candidates):
            break
    blank = np.zeros(len(raw), dtype=bool)
    blank[candidates] = True
    return blank


def _fill_names(frame: pd.DataFrame, path: str, log: ProblemLog) -> None:
    """Fill blank authors and titles of `frame` from the ISBN list at `path`."""
    known = []
    for table in read_tables(path, log):
        if table.missing(("isbn", "author"), log):
            continue
        blank = np.full(len(table.rows), None, dtype=object)
        names = {
            "title": parse_text(table.cells.get("title", blank)),
            "author": parse_text(table.cells["author"]),
        }
        known.append(pd.DataFrame({"isbn": check_isbns(table, log, warning=True), **names}))
    if not known or frame.empty:
        return
    names = pd.concat(known).dropna(subset=["isbn"])
    for column in ("author", "title"):
        lookup = names.dropna(subset=[column]).drop_duplicates("isbn").set_index("isbn")[column]
        blank = np.flatnonzero(frame[column].isna().to_numpy())
        listed = frame["isbn"].iloc[blank].astype(object).map(lookup).to_numpy()
        fill = pd.notna(listed)
        if not fill.any():
            continue
        current = frame[column]
        if isinstance(current.dtype, pd.CategoricalDtype):
            union = set(current.cat.categories) | set(listed[fill])
            current = current.cat.set_categories(sorted(union))
        else:
            current = current.copy()
        current.iloc[blank[fill]] = listed[fill]
        frame[column] = current


def _file_stats(frame: pd.DataFrame, keys: list[str], count: int) -> pd.DataFrame:
    """Per file (index 0 to `count` - 1): its titles, weeks, and first and last week."""
    key, date = keys
    stats = frame.groupby(FILE).agg(first=(date, "min"), last=(date, "max"))
    stats = stats.reindex(range(count))
    files = frame[FILE].to_numpy()
    for name, column in (("titles", key), ("weeks", date)):
        codes, distinct = sorted_codes(frame[column])
        present = codes >= 0
        pairs = pd.unique(files[present].astype(np.int64) * distinct + codes[present])
        stats[name] = np.bincount(pairs // max(distinct, 1), minlength=count)
    stats = stats[["titles", "weeks", "first", "last"]].astype(object)
    return stats.where(stats.notna(), None)


def _summaries(
    files: list[tuple[str, list[Table]]],
    stats: pd.DataFrame,
    overlaps: Overlaps,
    log: ProblemLog,
) -> list[FileSummary]:
    return [
        FileSummary(
            path=path,
            sheets=[t.sheet for t in tables if t.sheet is not None],
            rows=sum(len(t.rows) for t in tables),
            titles=int(stats.at[i, "titles"] or 0),
            weeks=int(stats.at[i, "weeks"] or 0),
            first_week=stats.at[i, "first"],
            last_week=stats.at[i, "last"],
            superseded=int(overlaps.superseded[i]),
            conflicting=int(overlaps.conflicting[i]),
            errors=log.counts[(path, "error")],
            warnings=log.counts[(path, "warning")],
        )
        for i, (path, tables) in enumerate(files)
    ]


def _sum_repeated(
    frame: pd.DataFrame, repeated: np.ndarray, keys: list[str], kind: Kind
) -> pd.DataFrame:
    """`frame` with its `repeated` rows summed into one per key: volumes and values summed,
    ASP weighted by volume, else the first value."""
    if not repeated.any():
        return frame
    rows = frame[repeated]
    totals = ["y"]
    if kind == "bookscan":
        volume_priced = rows["volume"].where(rows["asp"].notna())
        rows = rows.assign(_asp_value=rows["asp"] * volume_priced, _asp_volume=volume_priced)
        totals = ["volume", "value", "_asp_value", "_asp_volume"]
    grouped = rows.groupby(keys, sort=False, observed=True)
    summed = grouped.first()  # the first non-blank value of each column
    summed[totals] = grouped[totals].sum(min_count=1)
    if kind == "bookscan":
        asp = summed.pop("_asp_value") / summed.pop("_asp_volume")
        summed["asp"] = asp.where(asp.notna(), summed["asp"])  # all volumes zero: first ASP
    return pd.concat([frame[~repeated], summed.reset_index()], ignore_index=True)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The parsed tables' rows as one frame; a column categorical in every part stays so, with
    the sorted union of their categories."""
    if len(parts) == 1:
        return parts[0]
    shared = {}
    for column in parts[0].columns:
        if all(isinstance(part[column].dtype, pd.CategoricalDtype) for part in parts):
            union = set().union(*(part[column].cat.categories for part in parts))
            shared[column] = pd.CategoricalDtype(pd.Index(sorted(union), dtype=object))
    return pd.concat([part.astype(shared) for part in parts], ignore_index=True)


def _finish(checked: _Checked) -> pd.DataFrame:
    """The checked rows sorted by series and week, origin dropped, categories all in use."""
    keys = _KEYS[checked.kind]
    frame = checked.frame
    for column in [*ORIGIN, FILE]:
        del frame[column]  # in place: a copy of a catalogue's frame costs gigabytes
    for column, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            frame[column] = _used_categories(frame[column].array)
    if not _is_sorted(frame, keys):
        frame = frame.sort_values(keys, kind="stable", ignore_index=True)
    frame.index = pd.RangeIndex(len(frame))
    frame.attrs["freq"] = checked.frame.attrs["freq"]
    return frame


def _used_categories(column: pd.Categorical) -> pd.Categorical:
    """`column` without the categories no row holds (those of rows dropped or superseded)."""
    used = np.bincount(column.codes + 1, minlength=len(column.categories) + 1)[1:] > 0
    if used.all():
        return column
    recode = np.append(np.cumsum(used) - 1, -1).astype(column.codes.dtype)
    return pd.Categorical.from_codes(recode[column.codes], categories=column.categories[used])


def _is_sorted(frame: pd.DataFrame, keys: list[str]) -> bool:
    """Whether `frame` is sorted by series, then week, as sorting would leave it."""
    series, weeks = (frame[key] for key in keys)
    if series.hasnans or weeks.hasnans:
        return False
    codes = (
        series.cat.codes.to_numpy()
        if isinstance(series.dtype, pd.CategoricalDtype)
        else pd.factorize(series, sort=True)[0]
    )
    step = np.diff(codes)
    later = np.diff(weeks.to_numpy().astype("datetime64[ns]").astype(np.int64)) > 0
    return bool((step >= 0).all() and ((step > 0) | later).all())
