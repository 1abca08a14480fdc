"""How one title is backtested, from the length of its history.

A title with at least two seasons is backtested with the seasonal candidates, a shorter one
with the non-seasonal candidates, and a new title (under `NEW_WEEKS` weeks since its first
sale) with the candidates made for launches, from `MIN_NEW_TRAIN` weeks on; a new title too
young for any origin gets its `default` (the launch curve) without a backtest. The requested
holdout, backtest horizon and number of origins shrink with a short history, in that order of
sacrifice: first the horizon (down to `MIN_HORIZON` weeks, keeping every origin and the
holdout), then the holdout, then origins. The plan says what it changed and why, and the bundle
records it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shelfcast.catalog.segments import NEW_WEEKS

MIN_HORIZON = 4  # the shortest backtest horizon worth scoring
MIN_NONSEASONAL_TRAIN = 8  # weeks every non-seasonal candidate needs at an origin
MIN_NEW_TRAIN = 2  # weeks a launch curve is scaled on at a new title's first origin
SEASONS_FOR_SEASONAL = 2  # seasons of history before seasonal candidates are tried


@dataclass(frozen=True)
class Plan:
    """One title's backtest: its mode, candidates and baseline, horizon, origins, holdout,
    and the model its segment assigns, if any."""

    mode: str  # "seasonal", "non-seasonal", "new" or "inactive" (not backtested)
    season_length: int  # 1 but in the seasonal mode
    candidates: tuple[str, ...]
    baseline: str
    horizon: int
    n_origins: int
    holdout: int
    min_train: int  # the fewest weeks any origin fits on
    reason: str  # what was changed from the request, and why; "" when nothing
    default: str  # fitted when no candidate can be backtested: the baseline, or launch
    # The model the title's segment assigns, selected whatever the backtest scores; None when
    # the backtest selects.
    assigned: str | None = None

    @property
    def seasonal(self) -> bool:
        return self.mode == "seasonal"

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "season_length": self.season_length,
            "candidates": list(self.candidates),
            "baseline": self.baseline,
            "horizon": self.horizon,
            "origins": self.n_origins,
            "holdout": self.holdout,
            "reason": self.reason,
        }


def min_seasonal_train(season_length: int) -> int:
    """The fewest weeks a seasonal candidate fits on at an origin: a season and a half."""
    return season_length + season_length // 2


def plan_backtest(
    n_weeks: int,
    *,
    horizon: int,
    n_origins: int,
    holdout: int,
    season_length: int,
    seasonal_candidates: Sequence[str],
    nonseasonal_candidates: Sequence[str],
    seasonal_baseline: str,
    nonseasonal_baseline: str,
    new_candidates: Sequence[str] = (),
    new_default: str | None = None,
) -> Plan:
    """The backtest for a history of `n_weeks` weeks, given the requested horizon, origins and
    holdout. Every plan has at least one origin when the history allows it; a history too short
    for any has `n_origins == 0` and says so in `reason`."""
    seasonal = season_length > 1 and n_weeks >= SEASONS_FOR_SEASONAL * season_length
    new = not seasonal and bool(new_candidates) and n_weeks < NEW_WEEKS
    mode = "seasonal" if seasonal else "new" if new else "non-seasonal"
    notes: list[str] = []
    if new:
        notes.append(f"{n_weeks} weeks since the first sale: a new title, launch candidates")
    elif season_length > 1 and not seasonal:
        notes.append(
            f"{n_weeks} weeks is under {SEASONS_FOR_SEASONAL} seasons of {season_length}: "
            "non-seasonal candidates"
        )
    if seasonal:
        min_train = min_seasonal_train(season_length)
    else:
        min_train = MIN_NEW_TRAIN if new else MIN_NONSEASONAL_TRAIN
    budget = max(n_weeks - min_train, 0)
    h, k, hold = horizon, n_origins, min(holdout, horizon)
    if hold != holdout:
        notes.append(f"holdout {hold} weeks (the backtest horizon)")
    if hold + k * h > budget:
        h = max(min(horizon, budget // (k + (1 if hold else 0))), 1)
        hold = min(hold, h)
        if h < MIN_HORIZON:
            h, hold = min(horizon, MIN_HORIZON), 0
            k = min(n_origins, budget // h)
        notes.append(
            f"{n_weeks} weeks leave {budget} after the first {min_train} to fit on: "
            f"{k} origin(s) of {h} weeks, holdout {hold}"
        )
    candidates = (
        seasonal_candidates if seasonal else new_candidates if new else nonseasonal_candidates
    )
    baseline = seasonal_baseline if seasonal else nonseasonal_baseline
    return Plan(
        mode=mode,
        season_length=season_length if seasonal else 1,
        candidates=tuple(candidates),
        baseline=baseline,
        horizon=h,
        n_origins=k,
        holdout=hold,
        min_train=min_train,
        reason="; ".join(notes),
        default=(new_default or baseline) if new else baseline,
    )
