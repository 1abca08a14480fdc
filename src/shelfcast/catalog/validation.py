"""Checks of raw sales cells: parsing them into canonical columns and locating every problem."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shelfcast.catalog.isbn import isbn13_check_digit, normalize_isbn
from shelfcast.errors import DataValidationError, Problem

MAX_LISTED = 50  # problems of one kind listed per sheet and column before a one-line summary

BOOKSCAN_HEADERS = {
    "isbn": "ISBN",
    "title": "Title",
    "author": "Author",
    "interval": "Interval",
    "week_ending": "End Date",
    "volume": "Volume",
    "value": "Value",
    "asp": "ASP",
    "rrp": "RRP",
    "binding": "Binding",
    "imprint": "Imprint",
    "publisher_group": "Publisher Group",
    "product_class": "Product Class",
    "source": "Source",
}
LONG_HEADERS = {"unique_id": "unique_id", "ds": "ds", "y": "y"}
METADATA_HEADERS = {"publication_date": "Publication Date"}  # title metadata, beyond BookScan's
HEADER_ALIASES = {"Pub Date": "publication_date"}  # other headers of a canonical column
BOOKSCAN_REQUIRED = ("isbn", "week_ending", "volume")
LONG_REQUIRED = ("unique_id", "ds", "y")
BOOKSCAN_COLUMNS = list(BOOKSCAN_HEADERS)  # the canonical frame's columns, in order
LONG_COLUMNS = list(LONG_HEADERS)
ORIGIN = ["_table", "_pos"]  # which table, and which of its rows, each parsed row came from

_TEXT_COLUMNS = ("title", "author", "interval", "binding", "imprint", "publisher_group")
_ANCHORS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_SATURDAY = 5
_OK, _BLANK, _NOT_13_DIGITS, _WRONG_CHECK_DIGIT = range(4)
Cells = np.ndarray | pd.Categorical  # a column's raw cells; text read from parquet is categorical
_DAY_NS = 86_400 * 10**9
_SERIAL_ORIGIN = pd.Timestamp("1899-12-30")  # day 0 of Excel's serial dates
_MAX_SERIAL = 2958465  # 9999-12-31
_SERIAL_TEXT = re.compile(r"^\d+(\.\d+)?$")
_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d %b %Y", "%d-%b-%Y", "%d %B %Y")
_NOT_NUMBER = re.compile(r"[,\s£$€]")
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
DATE_FORMS = "dd/mm/yyyy, yyyy-mm-dd or an Excel date"


@dataclass
class FileSummary:
    """What was found in one input file."""

    path: str
    sheets: list[str]
    rows: int  # data rows read, blank rows not counted
    titles: int  # distinct valid ISBNs (or series ids)
    weeks: int  # distinct valid weeks
    first_week: pd.Timestamp | None
    last_week: pd.Timestamp | None
    superseded: int  # rows dropped because a later file holds the same ISBN-week
    conflicting: int  # of those, rows whose volume differed from the kept one
    errors: int  # every error found, including those beyond the listed ones
    warnings: int


@dataclass
class ValidationReport:
    """Every problem found in a set of sales files, and a summary of each file."""

    problems: list[Problem]
    files: list[FileSummary]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def superseded(self) -> int:
        """Rows dropped because a later file holds the same ISBN-week."""
        return sum(f.superseded for f in self.files)

    @property
    def conflicting(self) -> int:
        """Rows dropped for a later file's row with another volume."""
        return sum(f.conflicting for f in self.files)


class ProblemLog:
    """Problems found so far: at most `MAX_LISTED` of a kind, with the full count per file."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.problems: list[Problem] = []
        self.counts: Counter[tuple[str | None, str]] = Counter()

    def severity(self, warning: bool) -> str:
        """Warnings count as errors under `strict`."""
        return "warning" if warning and not self.strict else "error"

    def add(
        self,
        message: str,
        *,
        file: str | None = None,
        sheet: str | None = None,
        column: str | None = None,
        warning: bool = False,
    ) -> None:
        severity = self.severity(warning)
        self.problems.append(Problem(message, file, sheet, None, column, None, severity))
        self.counts[(file, severity)] += 1

    def add_rows(
        self,
        *,
        file: str,
        sheet: str | None,
        column: str,
        rows: np.ndarray,
        values: np.ndarray,
        problem: str,
        detail: Callable[[int], str] | None = None,
        warning: bool = False,
    ) -> None:
        """One problem per row (the `i`-th worded `detail(i)` if given), the first few listed."""
        severity = self.severity(warning)
        self.counts[(file, severity)] += len(rows)
        for i in range(min(len(rows), MAX_LISTED)):
            message = detail(i) if detail else problem
            value = display(values[i])
            self.problems.append(
                Problem(message, file, sheet, int(rows[i]), column, value, severity)
            )
        if len(rows) > MAX_LISTED:
            more = f"{problem}: {len(rows) - MAX_LISTED:,} more rows not listed"
            self.problems.append(Problem(more, file, sheet, None, column, None, severity))


@dataclass
class Table:
    """The raw cells of one sheet, csv or parquet file, blank rows removed."""

    file: str
    sheet: str | None
    cells: dict[str, Cells]  # recognised columns only, under canonical names
    headers: dict[str, str]  # canonical name -> header as written
    rows: np.ndarray  # the row number a person sees for each row of `cells` (header is row 1)
    default_source: str

    @property
    def kind(self) -> Literal["bookscan", "long"]:
        is_long = self.headers.keys() & LONG_HEADERS.keys()
        return (
            "long" if is_long and not self.headers.keys() & set(BOOKSCAN_REQUIRED) else "bookscan"
        )

    def header(self, column: str) -> str:
        return self.headers.get(column) or {**BOOKSCAN_HEADERS, **LONG_HEADERS}[column]

    def missing(self, required: Iterable[str], log: ProblemLog) -> bool:
        """Report each required column that is missing; True if any is."""
        absent = [c for c in required if c not in self.headers]
        for column in absent:
            log.add(
                "missing required column",
                file=self.file,
                sheet=self.sheet,
                column=self.header(column),
            )
        return bool(absent)

    def flag(
        self,
        log: ProblemLog,
        positions: np.ndarray,
        column: str,
        problem: str,
        detail: Callable[[int], str] | None = None,
        warning: bool = False,
    ) -> None:
        """Report the rows at `positions` (into `cells`); `detail(i)` words the `i`-th of them."""
        log.add_rows(
            file=self.file,
            sheet=self.sheet,
            column=self.header(column),
            rows=self.rows[positions],
            values=self.cells[column][positions[:MAX_LISTED]],
            problem=problem,
            detail=detail,
            warning=warning,
        )

    def where(self, position: int, other: Table) -> str:
        """The row at `position`, named as seen from a problem located in `other`."""
        place = f"row {self.rows[position]}"
        if self.sheet is not None and (self.sheet, self.file) != (other.sheet, other.file):
            place = f"sheet {self.sheet!r}, {place}"
        return place if self.file == other.file else f"{self.file}, {place}"


def display(value: object) -> str | None:
    """A cell value as a person would read it back."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value == value.replace(hour=0, minute=0, second=0):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _distinct(cells: Cells) -> tuple[np.ndarray, list[object]]:
    """Each cell's code into the distinct values (-1 for missing), so each is parsed once: a
    categorical's own codes, else those of factorizing the cells."""
    if isinstance(cells, pd.Categorical):
        return cells.codes, list(cells.categories)
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    return codes, list(uniques)


def _spread(codes: np.ndarray, per_value: Iterable[object], missing: object, dtype: object):
    """Results computed per distinct value, laid out over the cells; missing cells get `missing`."""
    return np.array([*per_value, missing], dtype=dtype)[codes]


def _laid_out(
    codes: np.ndarray, per_value: Iterable[object], missing: object, categorical: bool
) -> Cells:
    """Text computed per distinct value, laid out over the cells as a categorical or objects."""
    if categorical:
        return _categorical(codes, per_value, missing)
    return _spread(codes, per_value, missing, object)


def _categorical(
    codes: np.ndarray, per_value: Iterable[object], missing: object = None
) -> pd.Categorical:
    """Results computed per distinct value as a categorical over the cells (missing where None),
    missing cells get `missing`; categories sorted, so equal data give equal columns."""
    values = np.array([*per_value, missing], dtype=object)
    new_codes, categories = pd.factorize(values, sort=True, use_na_sentinel=True)
    small = new_codes.astype(np.min_scalar_type(-max(len(categories), 1)))
    return pd.Categorical.from_codes(small[codes], categories=pd.Index(categories, dtype=object))


def _is_blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _text(value: object) -> str | None:
    text = display(value)
    return (text.strip() or None) if text is not None else None


def _day_name(weekday: float) -> str:
    return pd.Timestamp(2024, 1, 1 + int(weekday)).day_name()  # 2024-01-01 is a Monday


def _date_value(value: object) -> np.datetime64 | None:
    """A date from a cell: a date, an Excel serial number, or dd/mm/yyyy or ISO text."""
    if isinstance(value, str):
        text = value.strip()
        if _SERIAL_TEXT.match(text):
            return _date_value(float(text))
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            parsed = next(filter(None, (_strptime(text, f) for f in _DATE_FORMATS)), None)
        return _date_value(parsed) if parsed else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        if not 1 <= value <= _MAX_SERIAL:
            return None
        value = _SERIAL_ORIGIN + pd.Timedelta(days=int(value))
    if isinstance(value, dt.date | np.datetime64):
        try:
            return pd.Timestamp(value).tz_localize(None).normalize().to_datetime64()
        except (ValueError, OverflowError):
            return None
    return None


def _strptime(text: str, form: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, form)
    except ValueError:
        return None


def parse_dates(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dates (datetime64[ns], NaT where blank or unparseable) and the mask of blank cells."""
    if isinstance(cells, np.ndarray) and cells.dtype.kind == "M":  # typed (parquet, workbook)
        dates = cells.astype("datetime64[ns]", copy=False)
        if (dates.view(np.int64) % _DAY_NS).any():  # times of day: the dates alone
            dates = dates.astype("datetime64[D]").astype("datetime64[ns]")
        return dates, np.isnat(dates)
    codes, values = _distinct(cells)
    dates = _spread(codes, (_date_value(v) for v in values), None, "datetime64[ns]")
    return dates, _spread(codes, (_is_blank(v) for v in values), True, bool)


def _number_value(value: object) -> float:
    """A finite number from a cell (text may have thousands separators); NaN otherwise."""
    if isinstance(value, bool):
        return np.nan
    try:
        number = float(_NOT_NUMBER.sub("", value) if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return np.nan
    return number if np.isfinite(number) else np.nan


def parse_numbers(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numbers (NaN where blank or not a number) and the mask of blank cells."""
    if pd.api.types.is_numeric_dtype(cells) and not pd.api.types.is_bool_dtype(cells):
        numbers = cells.astype(np.float64, copy=False)  # float cells: no copy
        return numbers, np.isnan(numbers)
    numbers = np.full(len(cells), np.nan)
    blank = np.zeros(len(cells), dtype=bool)
    rest = _plain_numbers(cells, numbers)
    codes, values = _distinct(cells[rest])
    numbers[rest] = _spread(codes, (_number_value(v) for v in values), np.nan, np.float64)
    blank[rest] = _spread(codes, (_is_blank(v) for v in values), True, bool)
    return numbers, blank


def _plain_numbers(cells: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Parse the cells that are text of plain finite numbers (`12`, `8.99`, `1e3`: most cells of
    a csv file) into `numbers` at once; the positions of the others are returned."""
    if pd.api.types.infer_dtype(cells, skipna=True) != "string":
        return np.arange(len(cells))
    text = pa.array(cells, type=pa.string(), from_pandas=True)
    plain = pc.fill_null(pc.match_substring_regex(text, _PLAIN_NUMBER), False)
    parsed = pc.cast(pc.filter(text, plain), pa.float64()).to_numpy()  # rounds as float() does
    is_plain = plain.to_numpy(zero_copy_only=False)
    numbers[is_plain] = np.where(np.isfinite(parsed), parsed, np.nan)  # 1e999: not a number
    return np.flatnonzero(~is_plain)


def parse_text(cells: Cells) -> np.ndarray:
    """Stripped text, None where blank; whole numbers read back without `.0`."""
    codes, values = _distinct(cells)
    return _spread(codes, map(_text, values), None, object)


def _isbn_problem(isbn: str) -> int:
    if not isbn:
        return _BLANK
    if len(isbn) != 13 or not isbn.isdigit():
        return _NOT_13_DIGITS
    return _OK if isbn13_check_digit(isbn[:12]) == isbn[12] else _WRONG_CHECK_DIGIT


def check_isbns(table: Table, log: ProblemLog, *, warning: bool = False) -> np.ndarray:
    """Normalised ISBN-13s, None where blank or invalid (each such row reported)."""
    codes, valid = _valid_isbns(table, log, warning)
    return _spread(codes, valid, None, object)


def _isbn_column(table: Table, log: ProblemLog, categorical: bool) -> Cells:
    """`check_isbns` (invalid ISBNs reported as errors), as a categorical or objects."""
    codes, valid = _valid_isbns(table, log, warning=False)
    return _laid_out(codes, valid, None, categorical)


def _valid_isbns(table: Table, log: ProblemLog, warning: bool) -> tuple[np.ndarray, list]:
    """Each cell's code into the distinct ISBN cells, and per code the normalised ISBN-13 or
    None where blank or invalid (each such row reported)."""
    codes, values = _distinct(table.cells["isbn"])
    normal = [normalize_isbn(v) for v in values]
    checks = [_isbn_problem(isbn) for isbn in normal]
    problem = _spread(codes, checks, _BLANK, np.int8)
    table.flag(log, np.flatnonzero(problem == _BLANK), "isbn", "blank ISBN", warning=warning)
    bad = np.flatnonzero(problem == _NOT_13_DIGITS)
    table.flag(log, bad, "isbn", "ISBN is not 13 digits", warning=warning)
    wrong = np.flatnonzero(problem == _WRONG_CHECK_DIGIT)
    table.flag(
        log,
        wrong,
        "isbn",
        "wrong ISBN check digit",
        detail=lambda i: (
            f"wrong ISBN check digit (expected {isbn13_check_digit(normal[codes[wrong[i]]][:12])})"
        ),
        warning=warning,
    )
    return codes, [
        isbn if check == _OK else None for isbn, check in zip(normal, checks, strict=True)
    ]


def _check_dates(table: Table, log: ProblemLog, column: str) -> np.ndarray:
    dates, blank = parse_dates(table.cells[column])
    table.flag(log, np.flatnonzero(blank), column, "blank date")
    table.flag(log, np.flatnonzero(np.isnat(dates) & ~blank), column, f"not a date ({DATE_FORMS})")
    return dates


def _check_amounts(table: Table, log: ProblemLog, column: str) -> np.ndarray:
    numbers, blank = parse_numbers(table.cells[column])
    table.flag(log, np.flatnonzero(blank), column, "blank cell; a number is required")
    table.flag(log, np.flatnonzero(np.isnan(numbers) & ~blank), column, "not a number")
    table.flag(log, np.flatnonzero(numbers < 0), column, "negative number")
    return numbers


def _optional_numbers(table: Table, log: ProblemLog, column: str) -> np.ndarray:
    if column not in table.cells:
        return np.full(len(table.rows), np.nan)
    numbers, blank = parse_numbers(table.cells[column])
    bad = np.flatnonzero(np.isnan(numbers) & ~blank)
    table.flag(log, bad, column, "not a number; left blank", warning=True)
    return numbers


def optional_text(table: Table, column: str) -> np.ndarray:
    if column not in table.cells:
        return np.full(len(table.rows), None, dtype=object)
    return parse_text(table.cells[column])


def _text_column(table: Table, column: str, categorical: bool, default: str | None = None) -> Cells:
    """`optional_text` with blank or absent cells `default`, as a categorical or objects."""
    if column not in table.cells:
        codes, values = np.full(len(table.rows), -1, np.int8), []
    else:
        codes, values = _distinct(table.cells[column])
    return _laid_out(codes, ((_text(v) or default) for v in values), default, categorical)


def bookscan_frame(
    table: Table, log: ProblemLog, index: int, *, categorical: bool = False
) -> pd.DataFrame:
    """The table's rows as canonical BookScan columns; invalid cells become None/NaT/NaN (NaN
    in text columns made `categorical`)."""
    columns: dict[str, Cells] = {"isbn": _isbn_column(table, log, categorical)}
    week_ending = columns["week_ending"] = _check_dates(table, log, "week_ending")
    weekday = pd.DatetimeIndex(week_ending).dayofweek.to_numpy()
    off = np.flatnonzero(~np.isnat(week_ending) & (weekday != _SATURDAY))
    table.flag(
        log,
        off,
        "week_ending",
        "week ending is not a Saturday",
        detail=lambda i: f"week ending is a {_day_name(weekday[off[i]])}, not a Saturday",
    )
    columns["volume"] = _check_amounts(table, log, "volume")
    columns.update({c: _optional_numbers(table, log, c) for c in ("value", "asp", "rrp")})
    texts = (*_TEXT_COLUMNS, "product_class")
    columns.update({c: _text_column(table, c, categorical) for c in texts})
    columns["source"] = _text_column(table, "source", categorical, table.default_source)
    frame = pd.DataFrame({c: columns[c] for c in BOOKSCAN_COLUMNS}, copy=False)  # no stacking
    return with_origin(frame, index)


def long_frame(
    table: Table, log: ProblemLog, index: int, *, categorical: bool = False
) -> pd.DataFrame:
    """The table's rows as `unique_id`, `ds`, `y`; invalid cells become None/NaT/NaN."""
    codes, values = _distinct(table.cells["unique_id"])
    ids = _laid_out(codes, map(_text, values), None, categorical)
    table.flag(log, np.flatnonzero(pd.isna(ids)), "unique_id", "blank unique_id")
    ds = _check_dates(table, log, "ds")
    frame = pd.DataFrame({"unique_id": ids, "ds": ds, "y": _check_amounts(table, log, "y")})
    return with_origin(frame, index)


def with_origin(frame: pd.DataFrame, index: int) -> pd.DataFrame:
    """`frame` (new, so changed in place rather than copied) with its `ORIGIN` columns."""
    frame["_table"] = np.full(len(frame), index, dtype=np.int32)
    frame["_pos"] = np.arange(len(frame), dtype=np.int32 if len(frame) < 2**31 else np.int64)
    return frame


def sorted_codes(column: pd.Series) -> tuple[np.ndarray, int]:
    """Each row's code into the column's distinct values in sorted order (-1 where missing),
    and their number; a categorical's own codes (its categories are sorted)."""
    if (
        isinstance(column.dtype, pd.CategoricalDtype)
        and column.cat.categories.is_monotonic_increasing
    ):
        return column.cat.codes.to_numpy(), len(column.cat.categories)
    codes, uniques = pd.factorize(column, sort=True)
    return codes, len(uniques)


def repeated_keys(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """The mask of rows whose `keys` another row shares, none of them missing. Rows sorted by
    their keys, one a key (as read from a catalogue file), are checked without hashing."""
    combined = np.zeros(len(frame), dtype=np.int64)
    present = np.ones(len(frame), dtype=bool)
    size = 1
    for key in keys:
        codes, count = sorted_codes(frame[key])
        size *= count + 1
        if size >= 2**62:  # too many combinations for one number
            repeated = frame.duplicated(keys, keep=False).to_numpy()
            return repeated & frame[keys].notna().all(axis=1).to_numpy()
        combined = combined * (count + 1) + (codes + 1)  # missing: 0
        present &= codes >= 0
    if (np.diff(combined) > 0).all():
        return np.zeros(len(frame), dtype=bool)
    return pd.Series(combined).duplicated(keep=False).to_numpy() & present


def flag_duplicates(
    frame: pd.DataFrame, keys: list[str], tables: Sequence[Table], log: ProblemLog
) -> np.ndarray:
    """Report each row repeating the keys of an earlier one; returns the mask of all such rows."""
    repeated = repeated_keys(frame, keys)
    if not repeated.any():
        return repeated
    rows = frame.loc[repeated, [*keys, *ORIGIN]]
    first = rows.groupby(keys, sort=False, observed=True)[ORIGIN].transform("first")
    later = rows.duplicated(keys, keep="first").to_numpy()
    isbn = keys[0] == "isbn"
    what = "duplicate ISBN and week ending" if isbn else "duplicate unique_id and ds"
    problem = what if log.strict else f"{what}; {'volumes' if isbn else 'values'} summed"
    for k, part in rows[later].groupby("_table", sort=False):
        table = tables[int(k)]
        origin = first.loc[part.index].to_numpy()
        weeks = part[keys[1]].to_numpy()

        def detail(i: int, table: Table = table, origin: np.ndarray = origin, weeks=weeks) -> str:
            seen = tables[origin[i, 0]].where(origin[i, 1], table)
            return f"{problem} (same as {seen}, week {pd.Timestamp(weeks[i]):%Y-%m-%d})"

        table.flag(log, part["_pos"].to_numpy(), keys[0], problem, detail=detail, warning=True)
    return repeated


def flag_weekdays(frame: pd.DataFrame, tables: Sequence[Table], log: ProblemLog) -> str | None:
    """The weekly frequency of the most common weekday of `ds`; rows on other days are reported."""
    ds = frame["ds"].dropna()
    if ds.empty:
        return None
    days = ds.dt.dayofweek
    anchor = int(days.mode().iloc[0])
    freq, name = f"W-{_ANCHORS[anchor]}", _day_name(anchor)
    off = frame.loc[days.index[days != anchor], ["_table", "_pos", "ds"]]
    for k, part in off.groupby("_table", sort=False):
        wrong = part["ds"].dt.dayofweek.to_numpy()
        tables[int(k)].flag(
            log,
            part["_pos"].to_numpy(),
            "ds",
            f"ds is not a {name} like most rows ({freq})",
            detail=lambda i, w=wrong: (
                f"ds is a {_day_name(w[i])}; most rows are on a {name} ({freq})"
            ),
        )
    return freq


def infer_weekly_freq(dates: Iterable[object]) -> str:
    """The pandas weekly frequency ("W-SAT", "W-SUN", ...) anchored on the weekday all dates share.

    Raises `DataValidationError` if the dates fall on more than one weekday, or there are none.
    """
    index = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(dates)))).dropna()
    days = sorted(set(index.dayofweek))
    if len(days) != 1:
        found = ", ".join(_day_name(d) for d in days) or "no dates"
        raise DataValidationError([Problem(f"weekly dates must share one weekday; found {found}")])
    return f"W-{_ANCHORS[days[0]]}"


def blank_cells(cells: Cells) -> np.ndarray:
    """The mask of cells that are missing, empty or whitespace."""
    if isinstance(cells, np.ndarray) and cells.dtype.kind in "fiumM":
        return pd.isna(cells)
    codes, values = _distinct(cells)
    return _spread(codes, (_is_blank(v) for v in values), True, bool)
