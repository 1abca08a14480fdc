"""Forecasts of many titles at once: what `Bundle.forecast` gives per title, over arrays.

The titles' histories (with any newer actual weeks) are laid side by side (`panel.Panel`);
every model an ensemble combines, and every single model, is grouped with the others of its
family, and each group is forecast by its family's `forecast_panel` as titles x weeks arrays
(a vectorised path where the family has one, else its per-title `forecast`, stacked). Then,
over all titles at once: the checks and clipping of `families.forecast`, the ensembles' mean
or median, the calibrated quantiles (`calibration`, integer-aware for whole-number series)
and the long table. Results equal `Bundle.forecast` per title, with the same errors (naming
the title).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from shelfcast.errors import ForecastError
from shelfcast.forecasting import families
from shelfcast.forecasting.bundle import Bundle, check_request, extended
from shelfcast.forecasting.bundle_table import BundleTable
from shelfcast.forecasting.calibration import (
    SPREAD_LEVEL,
    AnyCalibration,
    calibrated,
    is_whole,
    quantile_column,
)
from shelfcast.forecasting.families import Family, Spec, family_of, update
from shelfcast.forecasting.families.ensemble import EnsembleSpec
from shelfcast.forecasting.intervals import (
    PLAUSIBLE_GROWTH,
    PointForecast,
    clip_and_order,
    combine,
    implausible,
    take,
)
from shelfcast.forecasting.panel import Panel

Actuals = Mapping[str, Sequence[tuple[date, float]]]
CHUNK_TITLES = 4096  # titles whose arrays are computed together


# What a stored model can raise when it cannot forecast: that title's error, never a failure
# of the other titles forecast with it (a damaged model's arrays may be of the wrong shape).
MODEL_FAULTS = (ForecastError, ValueError, ArithmeticError, LookupError, TypeError)


def forecast_table(
    table: BundleTable,
    keys: Sequence[str] | None,
    horizon: int,
    levels: Sequence[int] = (),
    quantiles: Sequence[float] = (),
    actuals: Actuals | None = None,
    failed: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Forecasts of the titles `keys` of `table` (every title when None) in long format: key,
    week_ending, mean, lo_L and hi_L per level, a column per quantile; titles in the order of
    `keys`. KeyError for a key the table does not hold. `failed`: as `forecast_arrays`."""
    check_request(horizon, levels, quantiles)
    chosen = table.keys if keys is None else list(keys)
    missing = [k for k in chosen if k not in table]
    if missing:
        raise KeyError(missing[0])
    _check_actuals(chosen, actuals)
    parts = []
    for i in range(0, max(len(chosen), 1), CHUNK_TITLES):
        # read and forecast `CHUNK_TITLES` at a time: only those bundles are in memory, with
        # their own actual weeks
        chunk = chosen[i : i + CHUNK_TITLES]
        given = None if actuals is None else {k: actuals[k] for k in chunk if k in actuals}
        bundles = table.bundles(chunk)
        parts.append(forecast_bundles(bundles, horizon, levels, quantiles, given, failed))
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class Forecasts:
    """Forecasts of many titles as arrays: title i's row of `week_endings` (days since 1970)
    and of each column (`mean`, `lo_L`, `hi_L`, `pNN`, in `forecast_table`'s order)."""

    keys: list[str]
    week_endings: np.ndarray  # titles x horizon
    columns: dict[str, np.ndarray]  # name -> titles x horizon

    def frame(self) -> pd.DataFrame:
        """The long table: a row per title and week, titles in order."""
        horizon = self.week_endings.shape[1]
        days = self.week_endings.ravel().astype("datetime64[D]").astype("datetime64[ns]")
        frame = pd.DataFrame(
            {
                "key": np.repeat(np.array(self.keys, dtype=object), horizon),
                "week_ending": pd.DatetimeIndex(days),
            }
        )
        for name, value in self.columns.items():
            frame[name] = value.ravel()
        return frame


def forecast_bundles(
    bundles: Sequence[Bundle],
    horizon: int,
    levels: Sequence[int] = (),
    quantiles: Sequence[float] = (),
    actuals: Actuals | None = None,
    failed: dict[str, str] | None = None,
) -> pd.DataFrame:
    """`forecast_table` of bundles already loaded (a server's): `actuals` by bundle key.
    Computed `CHUNK_TITLES` titles at a time, which bounds the arrays' memory."""
    check_request(horizon, levels, quantiles)
    _check_actuals([b.key for b in bundles], actuals)
    parts = [
        forecast_arrays(
            bundles[i : i + CHUNK_TITLES], horizon, levels, quantiles, actuals, failed
        ).frame()
        for i in range(0, max(len(bundles), 1), CHUNK_TITLES)
    ]
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def forecast_arrays(
    bundles: Sequence[Bundle],
    horizon: int,
    levels: Sequence[int] = (),
    quantiles: Sequence[float] = (),
    actuals: Actuals | None = None,
    failed: dict[str, str] | None = None,
) -> Forecasts:
    """`forecast_bundles` as arrays (no table built: what a server answering many titles in
    one request needs). Without `failed`, the first title that cannot be forecast raises its
    error; with it, such titles are left out of the result and `failed[key]` holds each one's
    error message (naming the title), so that they cost the others nothing."""
    check_request(horizon, levels, quantiles)
    problems: dict[int, str] = {}
    updated = []
    for i, b in enumerate(bundles):
        try:
            updated.append(_updated(b, actuals[b.key]) if actuals and b.key in actuals else b)
        except ForecastError as exc:
            if failed is None:
                raise
            problems[i] = str(exc)
            updated.append(b)  # a stand-in, left out below
    bundles = updated
    panel = Panel(tuple(b.history for b in bundles))
    own_levels = sorted(set(levels) | {SPREAD_LEVEL})  # where calibrations read the spread
    if len(bundles) == 1:
        out = _title_forecast(bundles[0], horizon, own_levels, problems, failed is not None)
    else:
        out = _model_forecasts(bundles, panel, horizon, own_levels, problems, failed is not None)
    if problems and failed is not None:
        failed.update({bundles[i].key: reason for i, reason in sorted(problems.items())})
        keep = [i for i in range(len(bundles)) if i not in problems]
        bundles, panel, out = [bundles[i] for i in keep], panel.take(keep), take(out, keep)
    whole = _whole_rows(panel)
    # by calibration (the same object: a catalogue's titles share one) and whole-number flag
    by_calibration: dict[tuple[int, bool], tuple[AnyCalibration | None, list[int]]] = {}
    for i, b in enumerate(bundles):
        key = (id(b.calibration), bool(whole[i]))
        by_calibration.setdefault(key, (b.calibration, []))[1].append(i)
    names = [*(f"{s}_{lv}" for lv in sorted(levels) for s in ("lo", "hi"))]
    names += [quantile_column(q) for q in quantiles]
    filled: dict[str, np.ndarray] = {}
    alone = len(by_calibration) == 1  # one group of every title: no rows to take or to place
    for (_, whole_numbers), (calibration, rows) in by_calibration.items():
        part = out if alone else take(out, rows)
        mean, bounds = calibrated(calibration, part, levels, quantiles, whole_numbers)
        for name, value in {"mean": mean, **bounds}.items():
            if alone:
                filled[name] = value
            else:
                filled.setdefault(name, np.empty_like(out.mean))[rows] = value
    columns = {"mean": filled.get("mean", out.mean)}
    columns.update((name, filled.get(name, out.mean[:0])) for name in names)
    return Forecasts([b.key for b in bundles], panel.future_days(horizon), columns)


def _whole_rows(panel: Panel) -> np.ndarray:
    """Whether each title's history is whole numbers (of one title without laying it out)."""
    if len(panel) == 1:
        (history,) = panel.histories
        return np.array([is_whole(history.values)])
    return np.all(panel.values == np.round(panel.values), axis=1)


def _check_actuals(keys: Sequence[str], actuals: Actuals | None) -> None:
    """ForecastError when `actuals` name a title that is not forecast (nothing is ignored)."""
    unknown = sorted(set(actuals or {}) - set(keys))
    if unknown:
        raise ForecastError(f"{unknown[0]}: actual weeks given for a title not forecast")


def _updated(bundle: Bundle, actuals: Sequence[tuple[date, float]]) -> Bundle:
    """`Bundle.updated`, its errors naming the title."""
    try:
        history = extended(bundle.history, actuals)
    except ForecastError as exc:
        raise ForecastError(f"{bundle.key}: {exc}") from None
    return Bundle(
        update(bundle.model, history),
        history,
        bundle.evaluation,
        bundle.calibration,
        bundle.library_versions,
        bundle.created_at,
    )


def _title_forecast(
    bundle: Bundle,
    horizon: int,
    levels: Sequence[int],
    problems: dict[int, str],
    tolerant: bool = False,
) -> PointForecast:
    """`_model_forecasts` of one title: its `families.forecast` (an ensemble's members
    finished one by one and combined, as the arrays of many titles are), as 1 x weeks
    arrays, without grouping or stacking anything."""
    zeros = np.zeros((1, horizon))
    failed = PointForecast(zeros, dict.fromkeys(levels, zeros), dict.fromkeys(levels, zeros))
    if 0 in problems:  # its actual weeks were refused
        return failed
    try:
        out = families.forecast(bundle.model, bundle.history, horizon, levels)
    except MODEL_FAULTS as exc:
        if not tolerant:
            raise type(exc)(f"{bundle.key}: {exc}") from None
        problems[0] = f"{bundle.key}: {exc}"
        return failed
    return PointForecast(
        out.mean[None],
        {lv: b[None] for lv, b in out.lower.items()},
        {lv: b[None] for lv, b in out.upper.items()},
    )


def _model_forecasts(
    bundles: Sequence[Bundle],
    panel: Panel,
    horizon: int,
    levels: Sequence[int],
    problems: dict[int, str],
    tolerant: bool = False,
) -> PointForecast:
    """`families.forecast` of every bundle's model, as titles x weeks arrays: each model
    (an ensemble's members, one by one) forecast with its family's group, finished, and
    ensembles combined. A title that cannot be forecast raises its error, or, when
    `tolerant`, is recorded in `problems` (row -> message) and its row holds zeros."""
    members: list[tuple[Spec, ...]] = []
    for b in bundles:
        model = b.model
        members.append(model.members if isinstance(model, EnsembleSpec) else (model,))
    slots = max((len(m) for m in members), default=1)
    n = len(bundles)
    parts = [
        PointForecast(
            np.full((n, horizon), np.nan),
            {lv: np.full((n, horizon), np.nan) for lv in levels},
            {lv: np.full((n, horizon), np.nan) for lv in levels},
        )
        for _ in range(slots)
    ]
    groups: dict[str, list[tuple[int, int]]] = defaultdict(list)  # family -> (title, slot)
    for i, specs in enumerate(members):
        for j, spec in enumerate(specs):
            groups[spec.family].append((i, j))
    for family, cells in groups.items():
        rows = np.array([i for i, _ in cells])
        specs = [members[i][j] for i, j in cells]
        sub = panel.take(rows)
        out, bad = _finished(family, specs, sub, horizon, levels, tolerant)
        for k, reason in bad.items():
            problems.setdefault(int(rows[k]), reason)
        for k, (i, j) in enumerate(cells):
            parts[j].mean[i] = out.mean[k]
            for lv in levels:
                parts[j].lower[lv][i], parts[j].upper[lv][i] = out.lower[lv][k], out.upper[lv][k]
    combined = parts[0]
    rules: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, b in enumerate(bundles):
        if isinstance(b.model, EnsembleSpec):
            rules[(b.model.method, len(members[i]))].append(i)
    for (method, k), rows in rules.items():
        mixed = combine([take(parts[j], rows) for j in range(k)], method, levels)
        combined.mean[rows] = mixed.mean
        for lv in levels:
            combined.lower[lv][rows], combined.upper[lv][rows] = mixed.lower[lv], mixed.upper[lv]
    return clip_and_order(combined, levels)


def _finished(
    family: str,
    specs: Sequence[Spec],
    panel: Panel,
    horizon: int,
    levels: Sequence[int],
    tolerant: bool = False,
) -> tuple[PointForecast, dict[int, str]]:
    """The family's forecasts of `panel`'s titles, checked, clipped and ordered as
    `families.forecast` does; a title that fails raises its per-title error, naming it, or,
    when `tolerant`, is returned among the failures (row -> message) with zeros in its row.
    Under the family's `panel_min_rows` titles, each title's own forecast: the array code's
    loops over weeks cost more than the per-title code for few rows."""
    forecaster = family_of(family)
    try:
        if len(specs) < forecaster.panel_min_rows:
            out = Family.forecast_panel(forecaster, specs, panel, horizon, levels)
        else:
            out = forecaster.forecast_panel(specs, panel, horizon, levels)
    except MODEL_FAULTS:
        bad = {}
        for k, (spec, history) in enumerate(zip(specs, panel.histories, strict=True)):
            try:  # which titles, and why
                family_of(family).forecast(spec, history, horizon, levels)
            except MODEL_FAULTS as exc:
                if not tolerant:
                    raise type(exc)(f"{history.key}: {exc}") from None
                bad[k] = f"{history.key}: {exc}"
        if not bad:
            raise
        return _without(family, specs, panel, horizon, levels, bad)
    bad = {
        int(k): f"{panel.histories[k].key}: {family} forecast exceeds {PLAUSIBLE_GROWTH}x the "
        "history's peak"
        for k in np.flatnonzero(implausible(out.mean, panel.peaks()))
    }
    broken = np.zeros(len(specs), dtype=bool)  # where `clip_and_order` finds no finite bound
    for lv in levels:
        broken |= ~np.all(np.isfinite(np.maximum(out.upper[lv], 0.0)), axis=1)
    for k in np.flatnonzero(broken):
        bad.setdefault(int(k), f"{panel.histories[k].key}: forecast is not finite")
    if bad and not tolerant:
        raise ForecastError(next(iter(bad.values())))
    for k in bad:
        _zero(out, k)
    return clip_and_order(out, levels), bad


def _without(
    family: str,
    specs: Sequence[Spec],
    panel: Panel,
    horizon: int,
    levels: Sequence[int],
    bad: dict[int, str],
) -> tuple[PointForecast, dict[int, str]]:
    """`_finished` of the titles not in `bad`, their rows in place, zeros in the others."""
    keep = [k for k in range(len(specs)) if k not in bad]
    zeros = np.zeros((len(specs), horizon))
    out = PointForecast(
        zeros, {lv: zeros.copy() for lv in levels}, {lv: zeros.copy() for lv in levels}
    )
    if keep:
        part, more = _finished(
            family, [specs[k] for k in keep], panel.take(keep), horizon, levels, tolerant=True
        )
        out.mean[keep] = part.mean
        for lv in levels:
            out.lower[lv][keep], out.upper[lv][keep] = part.lower[lv], part.upper[lv]
        bad = {**bad, **{keep[k]: reason for k, reason in more.items()}}
    return out, bad


def _zero(out: PointForecast, row: int) -> None:
    out.mean[row] = 0.0
    for bounds in (*out.lower.values(), *out.upper.values()):
        bounds[row] = 0.0
