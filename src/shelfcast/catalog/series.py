"""Weekly series per title: the unit every model is fitted on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from shelfcast.errors import ShelfcastError


def weekly_dates(start: pd.Timestamp, periods: int) -> pd.DatetimeIndex:
    """`periods` week endings from `start`, seven days apart."""
    return pd.date_range(start, periods=periods, freq="7D")


@dataclass(frozen=True)
class TitleSeries:
    """A regular weekly series of unit sales for one title (or any long-format series).

    `values[i]` is the volume of the week ending `start + i` weeks; missing weeks are zeros.
    """

    key: str  # ISBN-13, or the `unique_id` of a long-format series
    start: pd.Timestamp  # first week ending
    values: np.ndarray  # float64, one value per week, zero-filled
    freq: str = "W-SAT"  # pandas weekly frequency with its anchor day
    title: str | None = None
    author: str | None = None
    source: str | None = None  # BookScan category sheet
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", np.asarray(self.values, dtype=np.float64))
        if type(self.start) is not pd.Timestamp:
            object.__setattr__(self, "start", pd.Timestamp(self.start))

    def __len__(self) -> int:
        return len(self.values)

    @property
    def dates(self) -> pd.DatetimeIndex:
        """Week endings, built with a fixed 7-day step (anchored ranges are built week by week)."""
        return weekly_dates(self.start, len(self.values))

    @property
    def end(self) -> pd.Timestamp:
        return self.start + pd.Timedelta(weeks=len(self.values) - 1)

    def head(self, n: int) -> TitleSeries:
        """The first `n` weeks (a training window ending before week `n`)."""
        return self.with_values(self.values[:n])

    def with_values(self, values: np.ndarray, start: pd.Timestamp | None = None) -> TitleSeries:
        return TitleSeries(
            key=self.key,
            start=self.start if start is None else start,
            values=values,
            freq=self.freq,
            title=self.title,
            author=self.author,
            source=self.source,
            meta=self.meta,
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"week_ending": self.dates, "volume": self.values})


class SalesLike(Protocol):
    """What the series builder needs of `catalog.reader.SalesData`."""

    frame: pd.DataFrame
    kind: str


_COLUMNS = {"bookscan": ("isbn", "week_ending", "volume"), "long": ("unique_id", "ds", "y")}
_META = ("title", "author", "source")
# Catalogue metadata kept in `TitleSeries.meta` (BookScan columns, canonical names).
META_COLUMNS = ("product_class", "binding", "imprint", "publisher_group", "rrp")


def weekly_series(
    sales: SalesLike,
    *,
    start: str | pd.Timestamp | None = None,
    keys: Sequence[str] | None = None,
) -> list[TitleSeries]:
    """One zero-filled weekly series per ISBN (kind "bookscan") or `unique_id` (kind "long").

    A series runs from its first sale to the catalogue's last week (the latest week in the
    whole frame); a missing week is a week without sales. Rows dated before `start` are
    dropped first (None or '' keeps all), so a series starts at its first sale on or after `start`.
    BookScan series are W-SAT and start at the first week with positive volume; long-format
    series use `frame.attrs["freq"]` (else the weekday their dates share) and start at their
    first observation. Keys without sales (or, long format, rows) from `start` on are left
    out. `keys` picks series in that order, and a key among them without sales is an error;
    otherwise the series come sorted by key.
    """
    start = start or None
    if sales.kind not in _COLUMNS:
        raise ShelfcastError(f"unknown sales data kind {sales.kind!r}: expected bookscan or long")
    frame = sales.frame
    key_col, date_col, value_col = _COLUMNS[sales.kind]
    missing = sorted({key_col, date_col, value_col} - set(frame.columns))
    if missing:
        raise ShelfcastError(f"{sales.kind} sales frame lacks column(s) {missing}")
    if frame.empty:
        return []
    offset = _weekly_offset(frame, date_col) if sales.kind == "long" else _to_weekly("W-SAT")
    anchor = offset.rollforward(pd.Timestamp("2000-01-01"))

    # Arrays of a row each are made once and changed in place where they can be: a catalogue of
    # 100,000 titles has 65 million rows, 520 MB an array.
    anchor_day = np.datetime64(anchor.date(), "D").astype(np.int64)
    week = frame[date_col].to_numpy().astype("datetime64[D]").view(np.int64)
    week -= anchor_day  # days since the anchor, then weeks
    off_grid = np.flatnonzero(week % 7)
    if off_grid.size:
        bad = pd.Timestamp(frame[date_col].iloc[off_grid[0]])
        raise ShelfcastError(
            f"{date_col} {bad:%Y-%m-%d} is not a week ending of {offset.freqstr} "
            f"({off_grid.size} such row(s))"
        )
    week //= 7
    names, row_code = _key_codes(frame[key_col])
    value = frame[value_col].to_numpy(dtype=np.float64)
    last_week = int(week.max())
    rows: np.ndarray | None = None
    if start is not None:
        start_days = (pd.Timestamp(start) - anchor).days
        rows = week >= -(-start_days // 7)
    if keys is not None:
        keys = list(dict.fromkeys(keys))
        wanted = np.isin(names, keys)[row_code]
        rows = wanted if rows is None else rows & wanted
    if rows is None:
        code, week, total = _key_week_totals(row_code, week, value, last_week)
    else:
        code, week, total = _key_week_totals(row_code[rows], week[rows], value[rows], last_week)
    del value, rows
    sold = total > 0 if sales.kind == "bookscan" else np.ones(len(total), dtype=bool)
    firsts = np.flatnonzero(np.r_[True, np.diff(code[sold]) != 0]) if sold.any() else []
    first = pd.Series(week[sold][firsts], index=code[sold][firsts])  # by key code, sorted
    del sold
    if keys is not None:
        index = dict(zip(names[first.index], first.index, strict=True))
        absent = [k for k in keys if k not in index]
        if absent:
            since = "" if start is None else f" on or after {pd.Timestamp(start):%Y-%m-%d}"
            raise ShelfcastError(f"no sales{since} for {len(absent)} key(s): {absent[:5]}")
        first = first.loc[[index[k] for k in keys]]

    slot = np.full(len(names), -1, dtype=np.int64)
    slot[first.index.to_numpy()] = np.arange(len(first))
    code = slot[code]
    week -= first.to_numpy()[code]  # each key-week's place in its series
    keep = (code >= 0) & (week >= 0)
    lengths = last_week - first.to_numpy() + 1
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    if not keep.all():
        code, week, total = code[keep], week[keep], total[keep]
    del keep
    cell = offsets[code]
    cell += week
    del code, week
    flat = np.bincount(cell, weights=total, minlength=int(offsets[-1]))
    del cell, total
    meta = _metadata(frame, names, row_code) if sales.kind == "bookscan" else {}
    return [
        TitleSeries(
            key=key,
            start=anchor + pd.Timedelta(weeks=int(week)),
            values=flat[offsets[i] : offsets[i + 1]].copy(),
            freq=offset.freqstr,
            **meta.get(key, {}),
        )
        for i, (key, week) in enumerate(zip(names[first.index], first, strict=True))
    ]


def _key_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys as sorted text, and each row's index into them (a categorical's codes
    are used as they are: its keys are turned to text once, not once a row)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    names, inverse = np.unique(np.asarray(uniques, dtype=object).astype(str), return_inverse=True)
    return names.astype(object), inverse[codes]


def _key_week_totals(
    code: np.ndarray, week: np.ndarray, value: np.ndarray, last_week: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per key and week, sorted by both, rows repeating a key-week summed."""
    if not len(code):
        return code, week, value
    low = int(week.min())
    span = last_week - low + 1
    cell = code.astype(np.int64)  # a copy, changed in place (the arguments are not)
    cell *= span
    cell += week
    cell -= low
    if not (np.diff(cell) > 0).all():  # already sorted with one row a key-week: no copy
        order = np.argsort(cell, kind="stable")
        cell, value = cell[order], value[order]
        del order
    starts = np.flatnonzero(np.r_[True, np.diff(cell) != 0])
    key_code, key_week = np.divmod(cell[starts], span)
    del cell
    return key_code, key_week + low, np.add.reduceat(value, starts)


def _to_weekly(freq: str) -> pd.offsets.Week:
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError as exc:
        raise ShelfcastError(f"unknown frequency {freq!r}") from exc
    if not isinstance(offset, pd.offsets.Week) or offset.weekday is None or offset.n != 1:
        raise ShelfcastError(f"frequency {freq!r} is not weekly with an anchor day (e.g. W-SUN)")
    return offset


def _weekly_offset(frame: pd.DataFrame, date_col: str) -> pd.offsets.Week:
    """The long frame's weekly frequency: `attrs["freq"]`, else the weekday of all its dates."""
    freq = frame.attrs.get("freq")
    if freq is None:
        weekdays = pd.DatetimeIndex(frame[date_col]).dayofweek.unique()
        if len(weekdays) != 1:
            raise ShelfcastError(
                "long-format dates fall on several weekdays and frame.attrs has no 'freq'"
            )
        freq = f"W-{('MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN')[weekdays[0]]}"
    return _to_weekly(str(freq))


def _metadata(
    frame: pd.DataFrame, names: np.ndarray, row_code: np.ndarray
) -> dict[str, dict[str, object]]:
    """Per key, the last non-blank title, author and source in frame order, and in `meta` the
    last non-blank product class, binding, imprint, publisher group and RRP (as text): what
    pooled models group comparable titles by."""
    fields = [c for c in _META if c in frame.columns]
    extra = [c for c in META_COLUMNS if c in frame.columns]
    if not fields and not extra:
        return {}
    last = frame[fields + extra].groupby(row_code, sort=False, observed=True).last()
    out: dict[str, dict[str, object]] = {}
    for code, row in last.to_dict("index").items():
        text = {c: _text(v) for c, v in row.items()}
        meta = {c: text[c] for c in extra if text[c] is not None}
        out[str(names[code])] = {**{c: text[c] for c in fields}, "meta": meta}
    return out


def _text(value: object) -> str | None:
    if value is None or pd.isna(value) or value == "":  # type: ignore[arg-type]
        return None
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def split_series(
    series: TitleSeries, holdout: int | None = None, *, cutoff: pd.Timestamp | str | None = None
) -> tuple[TitleSeries, TitleSeries]:
    """Split at a calendar week: (weeks ending on or before `cutoff`, the weeks after it).

    `cutoff` is the last training week ending, else `series.end - holdout` weeks; give the
    catalogue's (`holdout_cutoff`) so that every title holds out the same calendar weeks.
    A series that ends on or before the cutoff has an empty test part; one that starts after
    it has an empty training part.
    """
    if cutoff is None:
        if holdout is None:
            raise ShelfcastError("split_series needs a holdout or a cutoff")
        _check_holdout(holdout)
    elif holdout is not None:
        _check_holdout(holdout)
    cut = series.end - pd.Timedelta(weeks=holdout) if cutoff is None else pd.Timestamp(cutoff)
    weeks, rest = divmod((cut - series.start).days, 7)
    if rest:
        raise ShelfcastError(
            f"cutoff {cut:%Y-%m-%d} is not a week ending of {series.key}'s {series.freq} weeks"
        )
    n_train = min(max(weeks + 1, 0), len(series))
    train = series.head(n_train)
    test = series.with_values(
        series.values[n_train:], start=series.start + pd.Timedelta(weeks=n_train)
    )
    return train, test


def holdout_cutoff(series_list: Sequence[TitleSeries], holdout: int) -> pd.Timestamp:
    """The catalogue's last training week: its latest week ending minus `holdout` weeks."""
    _check_holdout(holdout)
    if not series_list:
        raise ShelfcastError("no series to take a holdout cutoff from")
    return max(s.end for s in series_list) - pd.Timedelta(weeks=holdout)


def _check_holdout(holdout: int) -> None:
    if isinstance(holdout, bool) or not isinstance(holdout, int | np.integer) or holdout < 1:
        raise ShelfcastError(f"holdout must be a whole number of weeks >= 1, got {holdout!r}")
