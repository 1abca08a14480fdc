"""Alert rules: when a title's forecasts have gone wrong enough to act, and what to do.

Each rule looks at one title's compared weeks, oldest first; "the last N weeks" are its N
most recent compared weeks, and a rule needing N weeks stays silent with fewer. The scaled
error of a week is |actual - forecast| / scale (see `accuracy`), the backtest MASE the
judging bundle's. The thresholds are the settings' `monitoring.alerts` (`AlertRules`, in
`shelfcast.settings`); their defaults:

- `error_above_expectation` (retrain): the scaled error exceeds 1.5x the backtest MASE in
  each of the last 4 weeks;
- `coverage_low` (retrain): under 80% of the actuals fall inside the 95% interval, over at
  least 8 weeks;
- `level_shift` (retrain): each of the last 4 actuals lies outside the 95% interval, all
  above it or all below it;
- `bias` (investigate): |bias| (mean signed error / mean actual) exceeds 0.3 over at least
  8 weeks;
- `worse_than_previous` (roll back): over at least 4 weeks judged by the newest release,
  its model's MAE exceeds 1.2x the MAE of the model it replaced (the previous release's
  version of the title, forecasting the same weeks from its own training end).

A level shift can also be a data problem (a missing sales channel, a re-issued ISBN): the
alert says to check the data before retraining. `shelfcast monitor retrain-if-needed`
retrains the titles whose alerts recommend `retrain`; `roll back` means moving the title's
`champion` back (`shelfcast models rollback`) and packaging again; `investigate` is for a
person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shelfcast.forecasting import metrics
from shelfcast.monitoring.accuracy import accuracy, scaled_errors
from shelfcast.settings import AlertRules

RETRAIN, ROLL_BACK, INVESTIGATE = "retrain", "roll back", "investigate"


@dataclass(frozen=True)
class Alert:
    """One rule fired for one title: what was seen, and the recommended action."""

    isbn: str
    rule: str
    action: str
    message: str
    model_name: str
    model_version: str
    release_id: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_RULES = AlertRules()  # the settings' defaults; reports use `settings.monitoring.alerts`


def title_alerts(
    rows: pd.DataFrame, previous: pd.DataFrame | None = None, rules: AlertRules = DEFAULT_RULES
) -> list[Alert]:
    """Every rule that fires for one title's compared weeks (sorted by week).

    `previous` holds, for the weeks judged by the newest release, the forecasts of the model
    it replaced (`comparison.previous_forecasts`, columns `week_ending`, `previous_mean`,
    `previous_release_id`, `previous_model_version`).
    """
    if rows.empty:
        return []
    last = rows.iloc[-1]
    context = {
        "isbn": str(last["isbn"]),
        "model_name": str(last["model_name"]),
        "model_version": str(last["model_version"]),
        "release_id": str(last["release_id"]),
    }
    found = [
        _error_above_expectation(rows, rules),
        _coverage_low(rows, rules),
        _level_shift(rows, rules),
        _bias(rows, rules),
        _worse_than_previous(rows, previous, rules),
    ]
    return [Alert(**context, **alert) for alert in found if alert is not None]


def _error_above_expectation(rows: pd.DataFrame, rules: AlertRules) -> dict[str, Any] | None:
    n = rules.error_weeks
    if len(rows) < n:
        return None
    tail = rows.iloc[-n:]
    scaled = scaled_errors(tail)
    limit = rules.error_ratio * tail["expected_mase"].to_numpy(dtype=np.float64)
    if not (np.isfinite(limit).all() and (scaled > limit).all()):
        return None
    return {
        "rule": "error_above_expectation",
        "action": RETRAIN,
        "message": (
            f"scaled error above {rules.error_ratio:g}x the backtest MASE "
            f"({limit[-1] / rules.error_ratio:.2f}) in each of the last {n} weeks: "
            + ", ".join(f"{e:.2f}" for e in scaled)
        ),
        "figures": {
            "weeks": _weeks(tail),
            "scaled_errors": _floats(scaled),
            "expected_mase": float(tail["expected_mase"].iloc[-1]),
            "limit": float(limit[-1]),
        },
    }


def _coverage_low(rows: pd.DataFrame, rules: AlertRules) -> dict[str, Any] | None:
    if len(rows) < rules.coverage_weeks:
        return None
    lv = rules.coverage_level
    covered = metrics.coverage(
        rows["actual"].to_numpy(), rows[f"lo_{lv}"].to_numpy(), rows[f"hi_{lv}"].to_numpy()
    )
    if covered >= rules.coverage_min:
        return None
    return {
        "rule": "coverage_low",
        "action": RETRAIN,
        "message": (
            f"{covered:.0f}% of {len(rows)} weeks inside the {lv}% interval "
            f"(expected {lv}%, alert below {rules.coverage_min:g}%)"
        ),
        "figures": {"weeks": len(rows), f"coverage_{lv}": covered, "min": rules.coverage_min},
    }


def _level_shift(rows: pd.DataFrame, rules: AlertRules) -> dict[str, Any] | None:
    n = rules.shift_weeks
    if len(rows) < n:
        return None
    tail = rows.iloc[-n:]
    actual = tail["actual"].to_numpy(dtype=np.float64)
    above = bool((actual > tail["hi_95"].to_numpy()).all())
    below = bool((actual < tail["lo_95"].to_numpy()).all())
    if not (above or below):
        return None
    side = "above" if above else "below"
    mean_actual, mean_forecast = float(actual.mean()), float(tail["mean"].mean())
    return {
        "rule": "level_shift",
        "action": RETRAIN,
        "message": (
            f"each of the last {n} weeks sold {side} the 95% interval (mean {mean_actual:,.0f} "
            f"against {mean_forecast:,.0f} forecast): check the data, then retrain"
        ),
        "figures": {
            "weeks": _weeks(tail),
            "direction": side,
            "actuals": _floats(actual),
            "lo_95": _floats(tail["lo_95"]),
            "hi_95": _floats(tail["hi_95"]),
            "mean_actual": mean_actual,
            "mean_forecast": mean_forecast,
        },
    }


def _bias(rows: pd.DataFrame, rules: AlertRules) -> dict[str, Any] | None:
    if len(rows) < rules.bias_weeks:
        return None
    bias = accuracy(rows)["bias"]
    if not abs(bias) > rules.bias_max:
        return None
    side = "above" if bias > 0 else "below"
    return {
        "rule": "bias",
        "action": INVESTIGATE,
        "message": f"forecasts {abs(bias):.0%} {side} what sold over {len(rows)} weeks",
        "figures": {"weeks": len(rows), "bias": bias, "max": rules.bias_max},
    }


def _worse_than_previous(
    rows: pd.DataFrame, previous: pd.DataFrame | None, rules: AlertRules
) -> dict[str, Any] | None:
    if previous is None or len(previous) < rules.rollback_weeks:
        return None
    judged = rows.merge(previous, on="week_ending", how="inner")
    if len(judged) < rules.rollback_weeks:
        return None
    a = judged["actual"].to_numpy(dtype=np.float64)
    now = metrics.mae(a, judged["mean"].to_numpy())
    before = metrics.mae(a, judged["previous_mean"].to_numpy())
    if not now > rules.rollback_ratio * before:
        return None
    version = str(judged["previous_model_version"].iloc[0])
    release = str(judged["previous_release_id"].iloc[0])
    return {
        "rule": "worse_than_previous",
        "action": ROLL_BACK,
        "message": (
            f"MAE {now:,.1f} over {len(judged)} weeks, against {before:,.1f} for v{version} "
            f"(release {release}) on the same weeks: roll back to v{version}"
        ),
        "figures": {
            "weeks": len(judged),
            "mae": now,
            "previous_mae": before,
            "previous_model_version": version,
            "previous_release_id": release,
        },
    }


def _weeks(rows: pd.DataFrame) -> list[str]:
    return [f"{w:%Y-%m-%d}" for w in pd.to_datetime(rows["week_ending"])]


def _floats(values: Any) -> list[float]:
    return [round(float(v), 4) for v in np.asarray(values, dtype=np.float64)]
