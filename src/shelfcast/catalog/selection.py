"""Title selection: the titles worth a seasonal (period-52) model, and why.

A title is eligible when it has

- enough history: at least `min_weeks` weeks since its first sale (after the start filter);
- enough volume: a mean of at least `min_mean_volume` units a week over its last 104 weeks,
  and a sale within the catalogue's last `max_weeks_since_sale` weeks;
- measurable annual seasonality: STL seasonal strength at least `min_seasonal_strength` and
  lag-52 autocorrelation at least `min_acf52`.

Both seasonality statistics are computed on log1p(volume) of the last five years (260 weeks,
fewer for a shorter series, at least 104). Seasonal strength is
F_s = max(0, 1 - Var(R) / Var(S + R)) (Hyndman & Athanasopoulos, Forecasting: Principles and
Practice, 3rd ed., section 4.3) from a robust STL decomposition with period 52, configured as
R's `stl(robust = TRUE)`: seasonal window 7, one inner and 15 outer iterations, LOESS jumps of
a tenth of each window. Robust fitting puts one-off shocks (a launch peak, the 2020 lockdown)
into R rather than S.

The default thresholds: a mean of 20 a week (about a thousand copies a year) leaves out titles
whose weeks are mostly zeros or ones, where a seasonal model has little to fit; F_s >= 0.5 lies
above the 99th percentile of F_s on 260 weeks of white noise (mean 0.27, 90th percentile
0.37, 99th 0.45); acf52 >= 0.25 is four standard errors (1/sqrt(260) = 0.06) above noise.
Both are needed: F_s alone is unreliable on short series (0.41 on average for 104 weeks of
white noise, and close to 1 for a two-year series with a trend, each week of the year having
only two values to average), while the autocorrelation alone also rewards a plain trend.

Eligible titles are ranked by seasonal strength x log1p(recent mean volume): a clear
seasonal pattern counts most, and among similarly seasonal titles the bigger sellers rank
first. The top `max_titles` are selected; the `always_include` titles (the settings' default
test ISBNs, `selection.default_test_isbns`) are selected whenever they are in the data, eligible
or not, and take their places from the same `max_titles`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ShelfcastError

PERIOD = 52
RECENT_WEEKS = 104  # window of the volume statistics
SEASONAL_WINDOW = 260  # window of the seasonality statistics: the last five years
# STL smoother windows (statsmodels' defaults for period 52: trend 101, low-pass 53) and
# R's jumps, a tenth of each window.
_SEASONAL_WINDOW = 7
_TREND_JUMP = 11
_LOW_PASS_JUMP = 6

STAT_COLUMNS = [
    "key",
    "title",
    "weeks",
    "total_volume",
    "mean_volume_recent",
    "zero_share",
    "seasonal_strength",
    "acf52",
    "last_sale",
]


@dataclass(frozen=True)
class SelectionCriteria:
    """Thresholds of eligibility and the size of the selection (see the module docstring).
    `max_titles` is the settings' `selection.max_seasonal_books` where Shelfcast selects."""

    max_titles: int
    min_weeks: int = 104
    min_mean_volume: float = 20.0
    max_weeks_since_sale: int = 13
    min_seasonal_strength: float = 0.5
    min_acf52: float = 0.25
    always_include: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_weeks < 2 * PERIOD:
            raise ShelfcastError(
                f"min_weeks must be at least {2 * PERIOD} (two years to measure seasonality), "
                f"got {self.min_weeks}"
            )
        if self.max_titles < 1:
            raise ShelfcastError(f"max_titles must be at least 1, got {self.max_titles}")
        if self.max_weeks_since_sale < 1:
            raise ShelfcastError(
                f"max_weeks_since_sale must be at least 1, got {self.max_weeks_since_sale}"
            )
        if self.min_mean_volume < 0:
            raise ShelfcastError(f"min_mean_volume must be >= 0, got {self.min_mean_volume}")
        object.__setattr__(self, "always_include", tuple(self.always_include))


@dataclass(frozen=True)
class TitleSelection:
    """The selected keys, best first, and the statistics and verdict behind every title."""

    selected: list[str]
    table: pd.DataFrame  # STAT_COLUMNS + score, eligible, selected, forced, reason; a row a title


def seasonal_strength(values: np.ndarray) -> float:
    """F_s of a series (already on the scale to measure, e.g. log1p) by robust STL, period 52.

    NaN for fewer than two periods; 0 for a constant series.
    """
    from statsmodels.tsa.seasonal import STL  # not a base dependency: training-side only

    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2 * PERIOD:
        return math.nan
    if np.ptp(x) == 0:
        return 0.0
    stl = STL(
        x,
        period=PERIOD,
        seasonal=_SEASONAL_WINDOW,
        robust=True,
        trend_jump=_TREND_JUMP,
        low_pass_jump=_LOW_PASS_JUMP,
    )
    fit = stl.fit(inner_iter=1, outer_iter=15)
    remainder = fit.resid
    total = np.var(fit.seasonal + remainder)
    return 0.0 if total == 0 else max(0.0, 1.0 - float(np.var(remainder)) / float(total))


def acf52(values: np.ndarray) -> float:
    """Sample autocorrelation at lag 52; NaN for fewer than two periods, 0 if constant."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2 * PERIOD:
        return math.nan
    d = x - x.mean()
    denominator = float(d @ d)
    return 0.0 if denominator == 0 else float(d[PERIOD:] @ d[:-PERIOD]) / denominator


def title_statistics(series_list: Sequence[TitleSeries]) -> pd.DataFrame:
    """One row per series: history, volume and seasonality statistics (STAT_COLUMNS).

    `mean_volume_recent` and `zero_share` cover the last 104 weeks; `seasonal_strength` and
    `acf52` are measured on log1p(volume) of the last 260 weeks (NaN under 104 weeks);
    `last_sale` is the last week ending with positive volume (NaT if none).
    """
    rows = []
    for s in series_list:
        v = s.values
        recent = v[-RECENT_WEEKS:]
        window = np.log1p(np.maximum(v[-SEASONAL_WINDOW:], 0.0))
        sold = np.flatnonzero(v > 0)
        rows.append(
            {
                "key": s.key,
                "title": s.title,
                "weeks": len(v),
                "total_volume": float(v.sum()),
                "mean_volume_recent": float(recent.mean()) if len(v) else math.nan,
                "zero_share": float((recent == 0).mean()) if len(v) else math.nan,
                "seasonal_strength": seasonal_strength(window),
                "acf52": acf52(window),
                "last_sale": s.start + pd.Timedelta(weeks=int(sold[-1])) if sold.size else pd.NaT,
            }
        )
    table = pd.DataFrame(rows, columns=STAT_COLUMNS)
    table["last_sale"] = pd.to_datetime(table["last_sale"])
    return table


def select_titles(
    series_list: Sequence[TitleSeries], criteria: SelectionCriteria
) -> TitleSelection:
    """Rank the eligible titles and pick at most `criteria.max_titles` (see module docstring)."""
    c = criteria
    table = title_statistics(series_list)
    duplicated = table["key"][table["key"].duplicated()]
    if len(duplicated):
        raise ShelfcastError(f"duplicate series keys: {sorted(set(duplicated))[:5]}")
    catalogue_end = max((s.end for s in series_list), default=pd.NaT)
    recent_from = catalogue_end - pd.Timedelta(weeks=c.max_weeks_since_sale - 1)
    failures: list[list[str]] = [[] for _ in range(len(table))]
    checks = [
        (table["weeks"] >= c.min_weeks,
         lambda r: f"history {r.weeks} < {c.min_weeks} weeks"),
        (table["mean_volume_recent"] >= c.min_mean_volume,
         lambda r: f"mean volume {r.mean_volume_recent:.1f} < {c.min_mean_volume:g}"),
        (table["last_sale"] >= recent_from,
         lambda r: f"no sale in the last {c.max_weeks_since_sale} weeks"),
        (table["seasonal_strength"] >= c.min_seasonal_strength,
         lambda r: f"seasonal strength {_num(r.seasonal_strength)} < {c.min_seasonal_strength:g}"),
        (table["acf52"] >= c.min_acf52,
         lambda r: f"acf52 {_num(r.acf52)} < {c.min_acf52:g}"),
    ]  # fmt: skip
    for passed, why in checks:
        for i in np.flatnonzero(~passed.to_numpy()):
            failures[i].append(why(table.iloc[i]))
    table["score"] = table["seasonal_strength"] * np.log1p(
        table["mean_volume_recent"].clip(lower=0)
    )
    table["eligible"] = [not f for f in failures]

    forced = [k for k in dict.fromkeys(c.always_include) if k in set(table["key"])]
    order = table.sort_values(["score", "key"], ascending=[False, True], na_position="last")
    ranked = [k for k in order["key"][order["eligible"]] if k not in forced]
    chosen = set(forced) | set(ranked[: max(c.max_titles - len(forced), 0)])
    selected = [k for k in order["key"] if k in chosen]
    table["selected"] = table["key"].isin(chosen)
    table["forced"] = table["key"].isin(forced)

    rank = {k: i + 1 for i, k in enumerate(order["key"][order["eligible"]])}
    reasons = []
    for i, row in enumerate(table.itertuples(index=False)):
        if row.forced and failures[i]:
            reasons.append(f"forced: seed default title ({'; '.join(failures[i])})")
        elif failures[i]:
            reasons.append("; ".join(failures[i]))
        elif row.selected:
            seed = "; seed default title" if row.forced else ""
            reasons.append(
                f"rank {rank[row.key]}: seasonal strength {row.seasonal_strength:.2f}{seed}"
            )
        else:
            reasons.append(f"rank {rank[row.key]} beyond the {c.max_titles} titles taken")
    table["reason"] = reasons
    return TitleSelection(selected=selected, table=table)


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"
