"""Ensemble candidates: the mean or median of a title's best `k` candidates by backtest.

An ensemble is scored by the same backtest as every other candidate, without fitting anything
more: at each origin its members are the `k` candidates ranked best on the *other* origins
(leave one origin out, so that an origin never picks the members it scores; with a single
origin, that origin), combined from the forecasts the backtest already made. Its final members
are the `k` best over every origin. Names read `<method>_top<k>`: `median_top3`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from shelfcast.forecasting.backtest import Backtest, score_forecast
from shelfcast.forecasting.families import FAMILIES, combo, ensemble, intermittent_combo
from shelfcast.forecasting.intervals import PointForecast, combine

DEFAULT = ("mean_top2", "mean_top3", "median_top3", "median_top5")
NOT_MEMBERS = (combo.NAME, intermittent_combo.NAME, ensemble.NAME)  # combinations already
_NAME = re.compile(r"^(mean|median)_top([2-9])$")


def parse(name: str) -> tuple[str, int]:
    """(method, k) of an ensemble candidate's name; ValueError when it is not one."""
    match = _NAME.match(name)
    if not match:
        raise ValueError(f"{name!r} is not an ensemble (expected mean_topK or median_topK, K 2-9)")
    return match.group(1), int(match.group(2))


def ranking(table: pd.DataFrame, exclude: pd.Timestamp | None = None) -> list[str]:
    """Candidates that can be members, forecast at every origin, best first by mean MASE (MAE
    where no MASE is defined) over the origins other than `exclude`; ties by family order."""
    rows = table[table["candidate"].map(lambda c: c in FAMILIES and c not in NOT_MEMBERS)]
    n_origins = table["origin"].nunique()
    complete = rows.groupby("candidate")["origin"].nunique() == n_origins
    rows = rows[rows["candidate"].isin(complete[complete].index)]
    if exclude is not None and n_origins > 1:
        rows = rows[rows["origin"] != exclude]
    if rows.empty:
        return []
    column = "mase" if rows["mase"].notna().all() else "mae"
    means = rows.groupby("candidate")[column].mean().dropna()
    order = {name: i for i, name in enumerate(FAMILIES)}
    return sorted(means.index, key=lambda c: (round(float(means[c]), 12), order[c]))


def add_ensembles(
    bt: Backtest, names: Sequence[str], season_length: int, levels: Sequence[int]
) -> None:
    """Score each ensemble in `names` at every origin of `bt`, in place: rows in its table,
    forecasts in its forecasts. An ensemble with fewer than `k` candidates to combine at some
    origin is left out, with the reason in `bt.failures`."""
    if bt.table.empty:
        return
    rows = []
    for name in names:
        method, k = parse(name)
        forecasts: dict[pd.Timestamp, PointForecast] = {}
        for origin in sorted(bt.actuals):
            members = ranking(bt.table, exclude=origin)[:k]
            if len(members) < k:
                bt.failures[name] = f"origin {origin.date()}: fewer than {k} candidates"
                break
            parts = [bt.forecasts[m][origin] for m in members]
            forecasts[origin] = combine(parts, method, levels)
        else:
            for origin, fc in forecasts.items():
                actual, insample = bt.actuals[origin], bt.insample[origin]
                scores = score_forecast(actual, fc, insample, season_length, levels)
                rows.append({"candidate": name, "origin": origin, **scores})
            bt.forecasts[name] = forecasts
    if rows:
        bt.table = pd.concat([bt.table, pd.DataFrame(rows)], ignore_index=True)


def members(bt: Backtest, name: str) -> list[str]:
    """The final members of ensemble `name`: the best `k` over every origin."""
    return ranking(bt.table)[: parse(name)[1]]


def is_ensemble(name: str) -> bool:
    return bool(_NAME.match(name))
