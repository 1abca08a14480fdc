"""A young title's seasonality from comparable titles: the Theta method on its sales divided by
a seasonal profile pooled across established titles of the same category and format.

A title under two years old has too few weeks to estimate its own yearly pattern. `train_pool`
takes every history with at least `MIN_WEEKS` weeks and a mean of `MIN_MEAN` a week over
them, computes its multiplicative index for each week of the calendar year (ratio to a centred
2x52 moving average over its last `PROFILE_WEEKS` weeks), and averages the log indices by group
of comparable titles (`comparables`), each group shrunk towards its parent. The fit divides the
title's history by its group's profile on the calendar, fits Theta (`theta.fit_theta`) and
multiplies the forecast back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from shelfcast.catalog.series import TitleSeries, weekly_dates
from shelfcast.errors import ForecastError
from shelfcast.forecasting import comparables, seasonal_index
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.families.theta import MIN_WEEKS as THETA_WEEKS
from shelfcast.forecasting.families.theta import fit_theta, theta_reseasoned
from shelfcast.forecasting.intervals import PointForecast

NAME = "profile"
WEEKS = 52
MIN_WEEKS = 104  # titles the profiles are pooled from have two seasons at least
PROFILE_WEEKS = 156  # the last three years of each
MIN_MEAN = 2.0  # copies a week: slower titles' indices are mostly noise
MIN_TITLES = 5


@dataclass(frozen=True)
class ProfileSpec(Spec):
    family: ClassVar[str] = NAME

    alpha: float
    level0: float
    drift: float
    sigma2: float
    profile: tuple[float, ...]  # 52 indices by week of the calendar year
    group: str
    pool_hash: str

    def params(self) -> dict[str, Any]:
        return {**super().params(), "group": self.group, "pool": self.pool_hash}


def calendar_indices(history: TitleSeries) -> np.ndarray | None:
    """Log multiplicative indices by week of the year (`comparables.week_of_year`) from the
    last `PROFILE_WEEKS` weeks, centred on zero; None for a short or slow history."""
    values = history.values[-PROFILE_WEEKS:]
    if len(values) < MIN_WEEKS or values.mean() < MIN_MEAN:
        return None
    kernel = np.r_[0.5, np.ones(WEEKS - 1), 0.5] / WEEKS
    trend = np.convolve(values, kernel, mode="valid")
    offset = WEEKS // 2
    inside = values[offset : offset + len(trend)]
    ok = trend > 0
    ratio = np.log(np.maximum(inside[ok] / trend[ok], seasonal_index.MIN_INDEX))
    dates = history.dates[-len(values) :]
    woy = comparables.week_of_year(dates[offset : offset + len(trend)])[ok]
    counts = np.bincount(woy, minlength=WEEKS)
    if np.any(counts == 0):
        return None
    log_idx = np.bincount(woy, weights=ratio, minlength=WEEKS) / counts
    return log_idx - log_idx.mean()


class Profile(Family[ProfileSpec]):
    name = NAME
    spec_type = ProfileSpec
    pooled = True
    modes = ("non-seasonal",)

    def train_pool(self, histories: Sequence[TitleSeries], season_length: int) -> dict[str, Any]:
        members = []
        for h in histories:
            found = calendar_indices(h)
            if found is not None:
                members.append((comparables.group_keys(h), found, np.ones(WEEKS, dtype=bool)))
        if len(members) < MIN_TITLES:
            raise ForecastError(
                f"seasonal profiles: {len(members)} titles with {MIN_WEEKS} weeks and "
                f"{MIN_MEAN:g} a week (need {MIN_TITLES})"
            )
        log_profiles, titles = comparables.group_means(members)
        profiles = {k: np.exp(v - v.mean()) for k, v in log_profiles.items()}
        content = {
            "profiles": {k: [round(float(x), 6) for x in p] for k, p in sorted(profiles.items())},
            "titles": titles,
        }
        return {**content, "hash": comparables.digest(content)}

    def fit(
        self, history: TitleSeries, context: FitContext, like: ProfileSpec | None = None
    ) -> ProfileSpec:
        if len(history) < THETA_WEEKS:
            raise ForecastError(f"profile needs at least {THETA_WEEKS} weeks, got {len(history)}")
        pool, group = comparables.pooled_group(context.pool, NAME, history, "seasonal profiles")
        profile = np.asarray(pool["profiles"][group])
        z = history.values / profile[comparables.week_of_year(history.dates)]
        alpha, level0, drift, sigma2 = fit_theta(z)
        return ProfileSpec(
            alpha=alpha,
            level0=level0,
            drift=drift,
            sigma2=sigma2,
            profile=tuple(float(x) for x in profile),
            group=group,
            pool_hash=str(pool["hash"]),
        )

    def forecast(
        self, spec: ProfileSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        profile = np.asarray(spec.profile)
        dates = history.dates
        future = weekly_dates(history.end, horizon + 1)[1:]
        z = history.values / profile[comparables.week_of_year(dates)]
        return theta_reseasoned(spec, z, profile[comparables.week_of_year(future)], horizon, levels)


FAMILY = Profile()
