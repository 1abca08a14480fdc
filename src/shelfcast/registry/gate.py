"""The promotion gate: whether a new version takes `champion`, from plain data alone.

The evidence is gathered elsewhere (`challenge.py` scores the incumbent champion; the
training run reads it from MLflow); this module only decides, and says why in the words the
version tags record. The rules:

- No champion yet: the new version takes it.
- The new version's model is the champion's (a rerun on unchanged data): kept.
- The champion could not be scored on the newest window (its bundle is missing or broken):
  replaced.
- Both scored on the same newest weeks: the new version wins when its MASE is below
  (1 - min_improvement) times the champion's; MAE decides when either MASE is undefined
  (a flat history); when neither is defined the champion is kept.
- The new fit has no holdout window: the same rule on both versions' backtest MASE; kept
  when either is missing.

Ties keep the champion (the new score must be strictly below the bar). A negative
`min_improvement` lowers the bar below a tie: a retrain after an alert uses it
(`monitoring.retrain`), so that a tie goes to the version that has seen the newest sales.
Missing scores may be None or NaN (or infinite): both count as undefined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shelfcast.registry.values import number


@dataclass(frozen=True)
class GateDecision:
    """Whether a new version takes `champion`, and why (the text of the version tags)."""

    promote: bool
    reason: str
    challenger_score: float | None = None
    incumbent_score: float | None = None
    metric: str = "mase"


@dataclass(frozen=True)
class OnWindow:
    """Both versions' errors on the newest `weeks` weeks (`first`..`last`), each forecast
    from the history before them."""

    weeks: int
    first: date
    last: date
    challenger_mase: float | None
    incumbent_mase: float | None
    challenger_mae: float | None = None
    incumbent_mae: float | None = None


@dataclass(frozen=True)
class OnBacktest:
    """No window in common (the new fit has no holdout): each version's backtest MASE."""

    challenger_mase: float | None
    incumbent_mase: float | None


@dataclass(frozen=True)
class SameModel:
    """The new version's model is the champion's, parameter for parameter."""


@dataclass(frozen=True)
class NotScored:
    """The champion could not be scored on the newest `weeks` weeks; `error` says why."""

    weeks: int
    error: str


Evidence = OnWindow | OnBacktest | SameModel | NotScored

NO_CHAMPION = GateDecision(True, "no champion yet")


def decide(
    incumbent_version: str | None, evidence: Evidence | None, min_improvement: float
) -> GateDecision:
    """The gate's decision for a new version against champion `incumbent_version` (None:
    there is none) on `evidence`; `min_improvement` is the relative gain the new one needs."""
    if incumbent_version is None or evidence is None:
        return NO_CHAMPION
    factor = 1.0 - min_improvement
    label = f"champion v{incumbent_version}"
    need = f" (needs < {factor:.3g} x)" if min_improvement else ""
    if isinstance(evidence, SameModel):
        return GateDecision(False, f"same model as {label} (identical parameters); kept")
    if isinstance(evidence, NotScored):
        return GateDecision(
            True,
            f"{label} could not be scored on the newest {evidence.weeks} weeks "
            f"({evidence.error}); replaced",
        )
    if isinstance(evidence, OnBacktest):
        new, old = number(evidence.challenger_mase), number(evidence.incumbent_mase)
        if new is None or old is None:
            return GateDecision(
                False, f"no holdout window and no backtest MASE to compare with {label}; kept"
            )
        return _compare(
            new,
            old,
            factor,
            "backtest_mase",
            f"no holdout window; backtest MASE {{}} {{}} {label}'s {{}}{need}",
        )
    span = f"the newest {evidence.weeks} weeks ({evidence.first}..{evidence.last})"
    metric = "mase"
    new, old = number(evidence.challenger_mase), number(evidence.incumbent_mase)
    if new is None or old is None:  # MASE undefined (flat history): compare MAE instead
        metric = "mae"
        new, old = number(evidence.challenger_mae), number(evidence.incumbent_mae)
    if new is None or old is None:
        return GateDecision(False, f"{metric.upper()} undefined on {span}; {label} kept")
    return _compare(
        new, old, factor, metric, f"{metric.upper()} {{}} {{}} {label}'s {{}} on {span}{need}"
    )


def _compare(new: float, old: float, factor: float, metric: str, template: str) -> GateDecision:
    """Promote when `new` < `old` x `factor`; `template` takes the new score, verb and old score."""
    better = new < old * factor
    verb = "beats" if better else "does not beat"
    return GateDecision(better, template.format(f"{new:.4g}", verb, f"{old:.4g}"), new, old, metric)
