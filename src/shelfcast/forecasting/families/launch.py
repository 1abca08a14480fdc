"""Launch curves: a new title's sales week by week since its first, pooled across comparable
titles and scaled by the title's own weeks.

`train_pool` takes every title launched inside the data (its first sale after the data's first
week) with at least `NORM_WEEKS` weeks, divides its weekly sales by their mean over its first
`NORM_WEEKS` weeks, and averages these shapes by age over each group of comparable titles
(`comparables`: category sheet, product class, binding), each group shrunk towards its parent.
A title's forecast is its group's curve times a scale: its sales over its last (at most
`SCALE_WEEKS`) weeks over the curve's sum at those ages, recomputed from the history at every
forecast, so the scale follows each new week.

The spread is the pooled relative error of a curve scaled on k weeks (`rel_sd`, k = 1..13),
from the upper tail of the errors, since a launch's lower bound is near zero anyway. Sales in
whole copies are counts: their variance also holds a count's noise (the mean) and the scale's
own (Poisson's relative variance, 1 over the copies it rests on), and `rel_sd` is what the
errors hold beyond these (`spread`). So a launch that sold 3 copies gets a relatively wider
interval than one that sold 3,000, where one relative error made them alike. At rolling
origins before the sample catalogue's evaluated weeks, with every title's calibration on top,
new titles' 80% / 95% intervals held 79.9% / 96.4% of their weeks with the counts' noise
against 76.9% / 91.1% without (13 title-origins; wQL 31.9 against 32.7), and 85.5% / 94.6%
against 87.0% / 95.3% on 3,046 launches cut 1 to 12 weeks in and forecast 13 weeks ahead
(`benchmarks/launch_coverage.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shelfcast.catalog.segments import NEW_WEEKS
from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import comparables
from shelfcast.forecasting.calibration import is_whole
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast, normal_bounds, z
from shelfcast.forecasting.panel import Panel, day_of

NAME = "launch"
CURVE_WEEKS = 104  # ages the curves cover; older ages take the last
NORM_WEEKS = 26  # a launch's shape is relative to its mean over these first weeks
SCALE_WEEKS = 26  # a title's scale comes from its last weeks, at most this many
MIN_LAUNCHES = 5  # fewer launches in the data than this: no pool


@dataclass(frozen=True)
class LaunchSpec(Spec):
    family: ClassVar[str] = NAME

    launch: str  # ISO date of the title's first week on sale
    group: str  # the comparable titles the curve comes from
    curve: tuple[float, ...]  # relative weekly sales by week since launch
    rel_sd: tuple[float, ...]  # relative error of the curve scaled on k = 1.. weeks
    pool_hash: str
    counts: bool = False  # whole copies: a count's and its scale's noise on top (`spread`)

    version: ClassVar[int] = 2  # 1: without `counts`

    def params(self) -> dict[str, Any]:
        return {**super().params(), "group": self.group, "pool": self.pool_hash}

    @classmethod
    def upgrade(cls, values: dict[str, Any], version: int) -> dict[str, Any]:
        return {**values, "counts": False}


def shape(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A launch's weekly sales over their mean in its first `NORM_WEEKS` weeks, on
    `CURVE_WEEKS` ages, with the ages it has; None when it is too young or never sold then."""
    if len(values) < NORM_WEEKS:
        return None
    norm = values[:NORM_WEEKS].mean()
    if norm <= 0:
        return None
    out = np.zeros(CURVE_WEEKS)
    seen = np.zeros(CURVE_WEEKS, dtype=bool)
    n = min(len(values), CURVE_WEEKS)
    out[:n], seen[:n] = values[:n] / norm, True
    return out, seen


def launch_shapes(
    histories: Sequence[TitleSeries], what: str, at_least: int
) -> tuple[pd.Timestamp, list[TitleSeries], list[tuple[tuple[str, ...], np.ndarray, np.ndarray]]]:
    """The data's first week, the launches seen for `NORM_WEEKS` weeks or more, and each one's
    (groups, `shape`) for `comparables`; ForecastError naming `what` needs them when there
    are fewer than `at_least`."""
    if not histories:
        raise ForecastError(f"{what} need sales histories")
    first = min(h.start for h in histories)
    launches, members = [], []
    for h in (h for h in histories if h.start > first):  # launches seen from their first week
        got = shape(h.values)
        if got is not None:
            launches.append(h)
            members.append((comparables.group_keys(h), *got))
    if len(members) < at_least:
        raise ForecastError(
            f"{what}: {len(members)} launches of {NORM_WEEKS} weeks or more in the data "
            f"(need {at_least})"
        )
    return first, launches, members


def scaled(curve: np.ndarray, observed: np.ndarray, ages: np.ndarray) -> float:
    """The scale that makes the curve's sum at `ages` the `observed` total."""
    expected = float(curve[np.minimum(ages, len(curve) - 1)].sum())
    return float(observed.sum()) / expected if expected > 0 else 0.0


class Launch(Family[LaunchSpec]):
    name = NAME
    spec_type = LaunchSpec
    pooled = True
    pool_version = 3  # 1: `rel_sd` from the errors' size; 2: without a count's noise
    modes = ("new", "non-seasonal")

    def train_pool(self, histories: Sequence[TitleSeries], season_length: int) -> dict[str, Any]:
        first, launches, members = launch_shapes(histories, "launch curves", MIN_LAUNCHES)
        curves, titles = comparables.group_means(members)
        counts = all(is_whole(h.values) for h in launches)
        norms = [float(h.values[:NORM_WEEKS].mean()) for h in launches] if counts else None
        rel_sd = _relative_errors(members, curves, norms)
        content = {
            "first_week": first.date().isoformat(),
            "curves": {k: [round(float(v), 6) for v in c] for k, c in sorted(curves.items())},
            "titles": titles,
            "rel_sd": [round(v, 6) for v in rel_sd],
            "counts": counts,
        }
        return {**content, "hash": comparables.digest(content)}

    def fit(
        self, history: TitleSeries, context: FitContext, like: LaunchSpec | None = None
    ) -> LaunchSpec:
        pool, group = comparables.pooled_group(context.pool, NAME, history, "launch curves")
        if history.start <= pd.Timestamp(pool["first_week"]):
            raise ForecastError(
                f"{history.key} sold in the data's first week: its launch is not in the data"
            )
        return LaunchSpec(
            launch=history.start.date().isoformat(),
            group=group,
            curve=tuple(pool["curves"][group]),
            rel_sd=tuple(pool["rel_sd"]),
            pool_hash=str(pool["hash"]),
            counts=bool(pool.get("counts", False)) and is_whole(history.values),
        )

    def forecast(
        self, spec: LaunchSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        n = len(history)
        if n < 1:
            raise ForecastError("a launch curve needs at least one week on sale")
        curve = np.asarray(spec.curve)
        first_age = (history.start - pd.Timestamp(spec.launch)).days // 7
        ages = first_age + np.arange(n + horizon)
        if first_age < 0:
            raise ForecastError(f"history starts before the launch {spec.launch}")
        recent = slice(max(n - SCALE_WEEKS, 0), n)
        scale = scaled(curve, history.values[recent], ages[recent])
        mean = scale * curve[np.minimum(ages[n:], len(curve) - 1)]
        rel = spec.rel_sd[min(n, len(spec.rel_sd)) - 1]
        sold = float(history.values[recent].sum()) if spec.counts else np.inf
        return normal_bounds(mean, spread(mean, rel, sold), levels)

    def forecast_panel(
        self, specs: Sequence[LaunchSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        """`forecast` of many titles: each title's curve at its ages, every row at once."""
        n = panel.lengths
        if n.min(initial=1) < 1:
            raise ForecastError("a launch curve needs at least one week on sale")
        launch = np.array([day_of(s.launch) for s in specs])
        first_age = (panel.start_days - launch) // 7
        if np.any(first_age < 0):
            spec = specs[int(np.argmax(first_age < 0))]
            raise ForecastError(f"history starts before the launch {spec.launch}")
        lengths = np.array([len(s.curve) for s in specs])
        curves = np.zeros((len(specs), lengths.max()))
        for i, spec in enumerate(specs):
            curves[i, : lengths[i]] = spec.curve
        rows = np.arange(len(specs))[:, None]
        # ages of the panel's columns and of the weeks ahead, from each title's launch
        ages = first_age[:, None] + np.arange(-panel.width, horizon) + n[:, None]
        at = curves[rows, np.minimum(np.maximum(ages, 0), lengths[:, None] - 1)]
        recent = panel.valid & (np.arange(panel.width) >= panel.width - SCALE_WEEKS)
        expected = np.where(recent, at[:, : panel.width], 0.0).sum(axis=1)
        observed = np.where(recent, panel.values, 0.0).sum(axis=1)
        scale = np.where(expected > 0, observed / np.where(expected > 0, expected, 1.0), 0.0)
        mean = scale[:, None] * at[:, panel.width :]
        rel = np.array([s.rel_sd[min(k, len(s.rel_sd)) - 1] for s, k in zip(specs, n, strict=True)])
        sold = np.where([s.counts for s in specs], observed, np.inf)
        return normal_bounds(mean, spread(mean, rel[:, None], sold[:, None]), levels)


def spread(mean: np.ndarray, rel: Any, sold: Any) -> np.ndarray:
    """A launch forecast's standard error: the curve's relative error `rel` times the mean;
    for counts, whose scale rests on `sold` copies (infinite for other series), a count's
    noise (variance the mean) and the scale's own (relative variance 1 / `sold`, Poisson's)."""
    noise = np.where(np.isfinite(sold), mean + mean**2 / np.maximum(sold, 1.0), 0.0)
    return np.sqrt((rel * mean) ** 2 + noise)


def _relative_errors(
    members: Sequence[tuple[tuple[str, ...], np.ndarray, np.ndarray]],
    curves: Mapping[str, np.ndarray],
    norms: Sequence[float] | None,
) -> list[float]:
    """For k = 1..`NEW_WEEKS`: the relative error `rel` of the pooled launches' group curve
    scaled on their first k weeks, over their weeks k+1..`NORM_WEEKS`, for which the 90th
    percentile of their errors (actual - predicted) over `spread` is the normal's (1.28), so
    that the 80% interval's upper bound holds 90% of them (a root mean square is swollen by
    the few launches that took off). Counts (`norms`: each launch's mean over its first
    `NORM_WEEKS` weeks, its shape's unit) are scored in copies, where a count's noise and its
    scale's hold part of the errors: 0 where they hold them all."""
    out = []
    for k in range(1, NEW_WEEKS + 1):
        actual, predicted, sold = [], [], []
        for i, (keys, values, _) in enumerate(members):
            curve = curves[keys[0]]
            projected = scaled(curve, values[:k], np.arange(k)) * curve[k:NORM_WEEKS]
            ok = projected > 0
            unit = norms[i] if norms is not None else 1.0
            actual.append(unit * values[k:NORM_WEEKS][ok])
            predicted.append(unit * projected[ok])
            copies = unit * values[:k].sum() if norms is not None else np.inf
            sold.append(np.full(int(ok.sum()), copies))
        a, p, copies = (np.concatenate(x) if x else np.zeros(0) for x in (actual, predicted, sold))
        out.append(_upper_tail_rel(a, p, copies) if a.size else 1.0)
    return out


def _upper_tail_rel(actual: np.ndarray, predicted: np.ndarray, sold: np.ndarray) -> float:
    """The `rel` whose standardized errors have the normal's 90th percentile: the relative
    errors' 90th percentile over it for other series than counts, else by bisection (to
    1e-4)."""
    if not np.all(np.isfinite(sold)):
        return max(float(np.quantile((actual - predicted) / predicted, 0.9)), 0.0) / z(80)

    def excess(rel: float) -> float:
        errors = (actual - predicted) / spread(predicted, rel, sold)
        return float(np.quantile(errors, 0.9)) - z(80)

    if excess(0.0) <= 0:
        return 0.0
    lo, hi = 0.0, 1.0
    while excess(hi) > 0 and hi < 1e3:
        lo, hi = hi, 2 * hi
    while hi - lo > 1e-4:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return hi


FAMILY = Launch()
