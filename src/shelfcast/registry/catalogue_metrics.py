"""Per-title and run-level metrics of a catalogue version.

`metrics.parquet` holds a row per title of the version's table (`METRIC_COLUMNS`): its
segment and family, backtest MASE beside the baseline's, and the selected family's scores on
the holdout weeks (fitted before them), read from the bundle's evaluation. The version's run
logs `summary_metrics` of that table: per segment and over all titles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from shelfcast.forecasting.bundle import Bundle
from shelfcast.forecasting.segment_accuracy import ALL, segment_accuracy

METRIC_COLUMNS = [
    "isbn",
    "segment",
    "family",
    "selected",
    "backtest_mase",
    "baseline_mase",
    "weeks",  # holdout weeks
    "actual",  # units sold in them
    "mae",
    "mase",
    "wape",
    "wql",
    "coverage_80",
    "coverage_95",
    "version",  # the version that fitted the row
]


def title_metrics(bundle: Bundle, version: str) -> dict[str, Any]:
    """A fitted bundle's row of `metrics.parquet`: its backtest and holdout scores."""
    ev = bundle.evaluation
    selected = ev.get("selected")
    means = ev.get("backtest", {}).get("mean", {})
    holdout = ev.get("holdout", {})
    held = holdout.get(selected, {}) if selected else {}
    weeks = int(holdout.get("weeks", 0) or 0)
    values = bundle.history.values
    row = {
        "isbn": bundle.key,
        "segment": bundle.segment.name,
        "family": bundle.family,
        "selected": selected,
        "backtest_mase": means.get(selected, {}).get("mase"),
        "baseline_mase": means.get(ev.get("baseline"), {}).get("mase"),
        "weeks": weeks,
        "actual": float(values[-weeks:].sum()) if 0 < weeks <= len(values) else 0.0,
        **{name: held.get(name) for name in ("mae", "mase", "wape", "wql")},
        "coverage_80": held.get("coverage_80"),
        "coverage_95": held.get("coverage_95"),
        "version": version,
    }
    return {k: (math.nan if v is None else v) for k, v in row.items()}


def metrics_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=METRIC_COLUMNS)
    for column in METRIC_COLUMNS[4:-1]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def summary_metrics(metrics: pd.DataFrame) -> dict[str, float]:
    """Run-level metrics of a catalogue version from its per-title metrics: per segment and
    over all titles, MASE, WAPE, wQL, interval coverage and title counts, on the holdout weeks
    of the titles scored there (`forecasting.segment_accuracy`'s aggregation; wQL as a ratio
    of sums like WAPE)."""
    scored = metrics[metrics["weeks"] > 0].dropna(subset=["mae", "coverage_80", "coverage_95"])
    titles = scored.to_dict("records")
    out: dict[str, float] = {}
    if not titles:
        return out
    wql = _weighted_wql(scored)
    for row in segment_accuracy(titles):
        name = str(row["segment"])
        for key in ("titles", "mase", "wape", "coverage_80", "coverage_95"):
            value = float(row[key])
            if math.isfinite(value):
                out[f"{name}/{key}"] = value
        if name in wql:
            out[f"{name}/wql"] = wql[name]
    return out


def _weighted_wql(scored: pd.DataFrame) -> Mapping[str, float]:
    """wQL per segment and over all: each title's wQL weighted by its units sold."""
    has = scored[scored["wql"].notna() & (scored["actual"] > 0)]
    loss = has["wql"] * has["actual"]
    out = {
        str(segment): float(loss[group.index].sum() / group["actual"].sum())
        for segment, group in has.groupby("segment")
    }
    if len(has):
        out[ALL] = float(loss.sum() / has["actual"].sum())
    return out
