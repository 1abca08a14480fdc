"""A global gradient-boosted forest: one LightGBM model trained across all titles (a pool),
forecasting each title from its own recent history, served in numpy.

`train_pool` builds rows from every title's history (origins every `ORIGIN_STRIDE` weeks, one row
per step 1..H_MAX, subsampled to about `TARGET_ROWS`; features and target relative to the
title's recent level, `gbm_features`) and fits one direct multi-horizon regressor on them. `fit`
copies the pool's forest into the title's spec with the title's one-step error variance, and
`forecast` evaluates the forest on the features at the end of the history (`trees.predict`).
LightGBM is imported inside `train_pool` only: fitting a title and forecasting need numpy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import gbm_features, trees
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast, normal_bounds, take
from shelfcast.forecasting.panel import Panel

NAME = "gbm"
MIN_WEEKS = gbm_features.LEVEL_WEEKS  # weeks of history at the earliest origin
ORIGIN_STRIDE = 4  # weeks between a title's training origins (before subsampling)
TARGET_ROWS = 200_000  # training rows kept, subsampled evenly across titles and origins
MIN_ROWS = 2_000  # fewer training rows than this is too little data for a pool
SIGMA_WEEKS = 52  # one-step errors over the title's last weeks give its variance
MIN_SIGMA2 = 0.01
SEED = 20240601
PARAMS: Mapping[str, Any] = {
    "objective": "regression",  # squared error on volume / scale: the point forecast is a mean
    "learning_rate": 0.08,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": SEED,
    "verbose": -1,
}
# 120 trees of 15 leaves keep a spec near 67 KB of JSON; 31 leaves, 200-250 rounds or a lower
# learning rate scored the same WAPE at rolling origins of the sample catalogue.
ROUNDS = 120


@dataclass(frozen=True)
class GbmPool:
    """What `train_pool` returns and `fit` finds in `context.pool["gbm"]`: plain values only."""

    forest: trees.Forest
    layout_version: int  # gbm_features.LAYOUT_VERSION the forest was trained on
    content_hash: str  # of the forest and layout, naming this pool in specs and runs
    n_titles: int
    n_rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GbmPool:
        """The pool from `to_dict`'s values (read back from JSON: lists become tuples)."""
        forest = {k: tuple(v) if isinstance(v, list) else v for k, v in data["forest"].items()}
        return cls(
            forest=trees.Forest(**forest),
            layout_version=int(data["layout_version"]),
            content_hash=str(data["content_hash"]),
            n_titles=int(data["n_titles"]),
            n_rows=int(data["n_rows"]),
        )


def content_hash(forest: trees.Forest, layout_version: int) -> str:
    text = json.dumps({"layout": layout_version, **asdict(forest)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GbmSpec(Spec):
    family: ClassVar[str] = NAME

    layout_version: int  # of the features the forest reads
    pool_hash: str
    sigma2: float  # mean squared one-step error of the pooled forest on this title
    sizes: tuple[int, ...]  # the forest (trees.Forest's fields)
    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    decision: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    leaf_value: tuple[float, ...]
    n_features: int

    @cached_property
    def forest(self) -> trees.Forest:
        return trees.Forest(
            self.sizes,
            self.feature,
            self.threshold,
            self.decision,
            self.left,
            self.right,
            self.leaf_value,
            self.n_features,
        )

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "layout_version": self.layout_version,
            "pool": self.pool_hash,
            "trees": len(self.sizes),
        }


def training_rows(
    histories: Sequence[TitleSeries], target_rows: int = TARGET_ROWS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, targets (volume / scale) and weights (sqrt(scale)) from every history long
    enough: origins every `ORIGIN_STRIDE` weeks (staggered across titles), steps 1..H_MAX
    inside the history, kept at random (fixed seed) to about `target_rows` rows.

    Weighting rows by the square root of their scale puts bigger titles' errors (which weigh
    in unit totals such as WAPE) between equal weights (every title alike) and the scale itself
    (squared errors in copies); it scored best at a rolling origin before the holdout."""
    grids = []
    for i, series in enumerate(histories):
        n = len(series)
        if n <= MIN_WEEKS:
            continue
        origins = np.arange(MIN_WEEKS + i % ORIGIN_STRIDE, n, ORIGIN_STRIDE)
        t, s = np.meshgrid(origins, np.arange(1, gbm_features.H_MAX + 1), indexing="ij")
        inside = t + s <= n
        grids.append((series, t[inside], s[inside]))
    total = sum(len(t) for _, t, _ in grids)
    if total == 0:
        return np.zeros((0, len(gbm_features.FEATURES))), np.zeros(0), np.zeros(0)
    keep = min(1.0, target_rows / total)
    rng = np.random.default_rng(SEED)
    xs, ys, ws = [], [], []
    for series, t, s in grids:
        chosen = rng.random(len(t)) < keep
        if not chosen.any():
            continue
        t, s = t[chosen], s[chosen]
        x, scale = gbm_features.features(series.values, series.start, t, s)
        xs.append(x)
        ys.append(series.values[t - 1 + s] / scale)
        ws.append(np.sqrt(scale))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ws)


def pool_of(context: FitContext) -> GbmPool:
    pool = context.pool.get(NAME)
    if pool is None:
        raise ForecastError(
            "gbm is trained across titles: the fit context has no gbm pool (train_pool first)"
        )
    if isinstance(pool, Mapping):
        pool = GbmPool.from_dict(pool)
    if pool.layout_version != gbm_features.LAYOUT_VERSION:
        raise ForecastError(
            f"the gbm pool reads feature layout {pool.layout_version}, this code builds "
            f"layout {gbm_features.LAYOUT_VERSION}: train the pool again"
        )
    return pool


class Gbm(Family[GbmSpec]):
    name = NAME
    spec_type = GbmSpec
    pooled = True
    pool_version = gbm_features.LAYOUT_VERSION

    def train_pool(self, histories: Sequence[TitleSeries], season_length: int) -> GbmPool:
        """One forest across all `histories`. ForecastError when there is too little data."""
        import lightgbm  # training only: the serving image has no LightGBM

        if season_length != gbm_features.SEASON:
            raise ForecastError(f"gbm's features assume a 52-week year, not {season_length}")
        x, y, w = training_rows(histories)
        if len(y) < MIN_ROWS:
            raise ForecastError(
                f"gbm pool: {len(y)} training rows from {len(histories)} histories "
                f"(need {MIN_ROWS}; histories need more than {MIN_WEEKS} weeks)"
            )
        names = list(gbm_features.FEATURES)
        data = lightgbm.Dataset(x, y, weight=w, feature_name=names, free_raw_data=True)
        booster = lightgbm.train(dict(PARAMS), data, num_boost_round=ROUNDS)
        forest = trees.rounded(trees.from_lightgbm(booster.dump_model()))
        n_titles = sum(len(h) > MIN_WEEKS for h in histories)
        layout = gbm_features.LAYOUT_VERSION
        return GbmPool(forest, layout, content_hash(forest, layout), n_titles, len(y))

    def fit(
        self, history: TitleSeries, context: FitContext, like: GbmSpec | None = None
    ) -> GbmSpec:
        """The pool's forest, and this title's mean squared one-step error over its last year."""
        pool = pool_of(context)
        n = len(history)
        if n <= MIN_WEEKS:
            raise ForecastError(f"gbm needs more than {MIN_WEEKS} weeks of history, got {n}")
        origins = np.arange(max(MIN_WEEKS, n - SIGMA_WEEKS), n)
        x, scale = gbm_features.features(
            history.values, history.start, origins, np.ones_like(origins)
        )
        errors = history.values[origins] - trees.predict(pool.forest, x) * scale
        sigma2 = max(float(np.mean(errors**2)), MIN_SIGMA2)
        return GbmSpec(
            layout_version=pool.layout_version,
            pool_hash=pool.content_hash,
            sigma2=sigma2,
            **asdict(pool.forest),
        )

    def forecast(
        self, spec: GbmSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        return take(self.forecast_panel([spec], Panel((history,)), horizon, levels), 0)

    def forecast_panel(
        self, specs: Sequence[GbmSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        """The forest of each title's pool on the features at the end of its history: one
        evaluation per forest for every title and step."""
        for spec in specs:
            if spec.layout_version != gbm_features.LAYOUT_VERSION:
                raise ForecastError(
                    f"gbm spec reads feature layout {spec.layout_version}, this code builds "
                    f"{gbm_features.LAYOUT_VERSION}"
                )
        if panel.lengths.min(initial=1) < 1:
            raise ForecastError("gbm forecasts need at least one week of history")
        steps = np.arange(1, horizon + 1)
        mean = np.empty((len(specs), horizon))
        forests: dict[str, list[int]] = {}
        for i, spec in enumerate(specs):
            forests.setdefault(spec.pool_hash, []).append(i)
        for rows in forests.values():
            titles = np.repeat(rows, horizon)
            x, scale = gbm_features.panel_features(
                panel.values,
                panel.lengths,
                panel.start_days,
                titles,
                panel.lengths[titles],
                np.tile(steps, len(rows)),
            )
            predicted = trees.predict(specs[rows[0]].forest, x) * scale
            mean[rows] = np.maximum(predicted, 0.0).reshape(len(rows), horizon)
        # The same spread at every step: a direct model's errors, relative to its one-step
        # errors, did not grow with the step at rolling origins of the sample catalogue (80%
        # bounds held 81-87% of weeks 1-13 and 81-86% of weeks 14-52; growing like sqrt(h),
        # 97%). Conformal calibration corrects what is left.
        sigma = np.sqrt([spec.sigma2 for spec in specs])
        se = np.broadcast_to(sigma[:, None], mean.shape)
        return normal_bounds(mean, se, levels)


FAMILY = Gbm()
