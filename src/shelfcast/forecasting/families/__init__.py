"""Model families: one module per family behind the `Family` protocol, and the one table of them.

The table's order is the order of simplicity: ties between candidates go to the earlier one.
Adding a family is a module implementing `Family` and one line here (docs/architecture.md,
"Adding a model family"). Importing this package imports no fitting library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting.families import (
    adida,
    autotheta,
    combo,
    croston,
    dhr,
    ensemble,
    ets,
    gbm,
    imapa,
    intermittent_combo,
    launch,
    naive,
    profile,
    sarima,
    snaive,
    theta,
    tsb,
    zero,
)
from shelfcast.forecasting.families.base import (
    Family,
    FitContext,
    Spec,
    SpecError,
    register,
    spec_from_dict,
)
from shelfcast.forecasting.families.base import family_named as family_of
from shelfcast.forecasting.intervals import PointForecast, finished, peak_of

FAMILIES: dict[str, Family[Any]] = register(
    [
        naive.FAMILY,
        snaive.FAMILY,
        zero.FAMILY,
        croston.FAMILY,
        tsb.FAMILY,
        adida.FAMILY,
        imapa.FAMILY,
        intermittent_combo.FAMILY,
        launch.FAMILY,
        sarima.FAMILY,
        dhr.FAMILY,
        theta.FAMILY,
        profile.FAMILY,
        autotheta.FAMILY,
        ets.FAMILY,
        gbm.FAMILY,
        combo.FAMILY,
        ensemble.FAMILY,
    ]
)


def forecast(
    spec: Spec, history: TitleSeries, horizon: int, levels: Sequence[int]
) -> PointForecast:
    """Forecast `horizon` weeks after `history` from a fitted spec.

    Means and bounds are clipped at zero and ordered: lo_95 <= lo_80 <= mean <= hi_80 <= hi_95;
    a mean above `intervals.PLAUSIBLE_GROWTH` times the history's peak is a ForecastError.
    """
    family = family_of(spec.family)
    out = family.forecast(spec, history, horizon, levels)
    if family.returns_finished:
        return out
    return finished(out, peak_of(history.values), levels, spec.family)


def update(spec: Spec, history: TitleSeries) -> Spec:
    """The spec for `history`, a longer history than it was fitted or updated on."""
    return family_of(spec.family).update(spec, history)


__all__ = [
    "FAMILIES",
    "Family",
    "FitContext",
    "Spec",
    "SpecError",
    "family_of",
    "forecast",
    "spec_from_dict",
    "update",
]
