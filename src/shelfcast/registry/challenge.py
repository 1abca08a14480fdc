"""A new fit against the champion: the evidence the promotion gate decides on.

The gate compares like with like: the new version's holdout scores (its selected family
fitted before the holdout weeks) against the champion's forecast of the same weeks from the new
history before them (the champion's bundle forecasts them from its own parameters, no
refit). Reading the champion is the caller's: `incumbent_model` and
`incumbent_backtest_mase` are called only when the gate needs them (each may be a request
to the tracking server).
"""

from __future__ import annotations

from collections.abc import Callable

from shelfcast.errors import ForecastError, ShelfcastError
from shelfcast.forecasting import metrics
from shelfcast.forecasting.bundle import Bundle
from shelfcast.forecasting.families import Spec
from shelfcast.forecasting.fit import TitleFit
from shelfcast.registry import gate
from shelfcast.registry.gate import GateDecision
from shelfcast.registry.values import number


def holdout_score(fit: TitleFit, name: str, metric: str = "mase") -> float | None:
    """Candidate `name`'s holdout `metric` in `fit`, None when undefined."""
    return number(fit.holdout.get(name, {}).get(metric))


def holdout_weeks(fit: TitleFit) -> int:
    """How many newest weeks the fit held out (0: none)."""
    return int(fit.bundle.evaluation.get("holdout", {}).get("weeks", 0) or 0)


def score_on_newest_window(
    model: Spec, fit: TitleFit, season_length: int
) -> tuple[float, float, int]:
    """A model spec scored on the new fit's holdout weeks, as the new fit's selected family was:
    state from the new history minus those weeks, forecast them, MASE and MAE."""
    weeks = holdout_weeks(fit)
    history = fit.bundle.history
    if weeks < 1 or len(history) <= weeks:
        raise ForecastError("the new fit has no holdout window to compare on")
    train = history.head(len(history) - weeks)
    actual = history.values[len(train) :]
    bundle = Bundle(model=model, history=train, library_versions={}, created_at="")
    mean = bundle.forecast(weeks)["mean"].to_numpy()
    return (
        metrics.mase(actual, mean, train.values, season_length),
        metrics.mae(actual, mean),
        weeks,
    )


def evidence(
    fit: TitleFit,
    incumbent_model: Callable[[], Spec],
    incumbent_backtest_mase: Callable[[], float | None] | None = None,
    *,
    season_length: int,
) -> gate.Evidence:
    """What the gate needs to judge `fit` against the champion.

    `incumbent_model` loads the champion's model spec; a champion that cannot be loaded or
    scored (ShelfcastError, KeyError, ValueError) is `NotScored`; transport errors raise.
    Without a holdout window, the backtest MASEs (the champion's from
    `incumbent_backtest_mase`).
    """
    weeks = holdout_weeks(fit)
    if not weeks or fit.selected not in fit.holdout:
        old = incumbent_backtest_mase() if incumbent_backtest_mase else None
        return gate.OnBacktest(number(fit.selected_mase), old)
    try:
        model = incumbent_model()
        if model == fit.bundle.model:  # e.g. a rerun on unchanged data: nothing to gain
            return gate.SameModel()
        old_mase, old_mae, weeks = score_on_newest_window(model, fit, season_length)
    except (ShelfcastError, KeyError, ValueError) as exc:  # not transport errors: they raise
        return gate.NotScored(weeks, str(exc))
    window = fit.bundle.history.dates[-weeks:]
    return gate.OnWindow(
        weeks=weeks,
        first=window[0].date(),
        last=window[-1].date(),
        challenger_mase=holdout_score(fit, fit.selected),
        incumbent_mase=old_mase,
        challenger_mae=holdout_score(fit, fit.selected, "mae"),
        incumbent_mae=old_mae,
    )


def decide(
    fit: TitleFit,
    incumbent_model: Callable[[], Spec] | None,
    incumbent_version: str | None,
    min_improvement: float,
    incumbent_backtest_mase: Callable[[], float | None] | None = None,
    *,
    season_length: int,
) -> GateDecision:
    """The promotion gate for a new fit against the current champion.

    `incumbent_model` loads the champion's model spec (None: there is no champion). The new
    version wins when its holdout MASE is below (1 - min_improvement) times the champion's
    MASE on the same weeks, the champion forecasting them from the new history before them
    (the rules in full: `gate`).
    """
    if incumbent_model is None or incumbent_version is None:
        return gate.decide(None, None, min_improvement)
    found = evidence(fit, incumbent_model, incumbent_backtest_mase, season_length=season_length)
    return gate.decide(incumbent_version, found, min_improvement)
