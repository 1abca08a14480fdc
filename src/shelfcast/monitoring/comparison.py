"""What was forecast for each week of actual sales, and which release forecast it.

A release's forecast for a title is its bundle's forecast from the bundle's last training
week: deterministic, recomputed from the checksum-verified bundles (the prediction log is not
needed), so an actual week `w` after the bundle's last week `e` is horizon `h = (w - e) / 7`.
When several releases hold the title, each actual week is judged against the **newest release
(by creation time) whose model for the title was trained on data ending before that week**.
Weeks no release had forecast (inside every model's training data, or more than
`MAX_HORIZON` weeks after it) are left out and counted as uncovered.

Each compared week carries the judging bundle's model family and the title's demand segment
as that bundle records it (`Bundle.segment`), and its error scale: the in-sample MAE of the
seasonal-naive forecast (period 52) over the bundle's history, the scale of MASE, and the
bundle's backtest MASE, the error the title was expected to have.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shelfcast.catalogue_releases import CatalogueRows, read_catalogue
from shelfcast.forecasting import metrics
from shelfcast.forecasting.bundle import MAX_HORIZON, Bundle, selected_family
from shelfcast.releases import Release, ReleaseModel, load_bundles

# The intervals monitoring records: the comparison table's lo_/hi_ columns, which reports
# and the accuracy measures read (coverage_80, coverage_95). Part of the stored format, not a
# setting: forecasts default to the settings' `serving.levels`.
LEVELS = (80, 95)
BOUNDS = [f"{side}_{level}" for level in LEVELS for side in ("lo", "hi")]
COLUMNS = [
    "isbn",
    "week_ending",
    "release_id",
    "model_name",
    "model_version",
    "model_family",
    "segment",
    "horizon",
    "actual",
    "mean",
    *BOUNDS,
    "scale",
    "expected_mase",
]

Progress = Callable[[int, int], None]  # models loaded so far, models to load
# A catalogue release's table, evaluations included.
CatalogueReader = Callable[[Release], CatalogueRows]


@dataclass(frozen=True)
class Judge:
    """A release's model of one title, ready to forecast."""

    release: Release
    model: ReleaseModel
    bundle: Bundle
    season_length: int  # of the MASE scale: the settings' `training.season_length`

    @property
    def end(self) -> pd.Timestamp:
        return self.bundle.history.end

    @property
    def scale(self) -> float:
        return metrics.seasonal_naive_scale(self.bundle.history.values, self.season_length)

    @property
    def expected_mase(self) -> float:
        """The selected family's mean backtest MASE, from the bundle (else from the manifest)."""
        evaluation = self.bundle.evaluation
        selected = selected_family(evaluation) or self.bundle.family
        value = evaluation.get("backtest", {}).get("mean", {}).get(selected, {}).get("mase")
        if value is None:
            value = self.model.backtest_mase
        return math.nan if value is None else float(value)


def whole_catalogue(release: Release) -> CatalogueRows:
    """A catalogue release's table with its evaluations, from a local store."""
    return read_catalogue(release, columns=None)


def load_judges(
    releases: Sequence[Release],
    isbns: Sequence[str],
    season_length: int,
    progress: Progress | None = None,
    catalogue: CatalogueReader = whole_catalogue,
) -> dict[str, list[Judge]]:
    """Per ISBN, its models in `releases`, newest release first, scaling errors by a
    `season_length` seasonal-naive forecast. Each model version's files are read (and
    verified) once, however many releases hold it; a catalogue release's rows come from its
    table, as `catalogue` reads it."""
    wanted = set(isbns)
    newest_first = sorted(releases, key=lambda r: (r.created, r.release_id), reverse=True)
    needed: dict[tuple[str, str], tuple[Release, ReleaseModel]] = {}
    for release in newest_first:
        for model in release.models:
            if model.isbn in wanted:
                needed.setdefault((release.store, model.path), (release, model))
    bundles: dict[tuple[str, str], Bundle] = {}
    by_release: dict[str, list[ReleaseModel]] = {}
    for release, model in needed.values():
        by_release.setdefault(release.release_id, []).append(model)
    owners = {r.release_id: r for r in newest_first}
    total = len(needed)
    for release_id, models in by_release.items():
        release = owners[release_id]
        done = len(bundles)
        part = dataclasses.replace(release, models=tuple(models))
        loaded = load_bundles(
            part, None if progress is None else lambda n, d=done: progress(d + n, total)
        )
        for model in models:
            bundles[(release.store, model.path)] = loaded[model.name]
    judges: dict[str, list[Judge]] = {}
    for release in newest_first:
        if release.catalogue is not None:
            models = _catalogue_models(catalogue(release), wanted, bundles)
        else:
            models = [m for m in release.models if m.isbn in wanted]
        for model in models:
            bundle = bundles[(release.store, model.path)]
            judge = Judge(release, model, bundle, season_length)
            judges.setdefault(model.isbn, []).append(judge)
    return judges


def _catalogue_models(
    rows: CatalogueRows, wanted: set[str], bundles: dict[tuple[str, str], Bundle]
) -> list[ReleaseModel]:
    """The wanted titles of a catalogue release's table as release models, their bundles
    read into `bundles` (under `<catalogue path>/<ISBN>`: one table holds each once)."""
    release = rows.release
    folder = release.catalogue.path if release.catalogue else ""
    keys = [k for k in rows.table.keys if k in wanted]
    models = []
    for key, bundle in zip(keys, rows.table.bundles(keys), strict=True):
        model = ReleaseModel(
            name=rows.model_name,
            version=rows.versions[rows.table.row(key)],
            isbn=key,
            title=bundle.history.title or "",
            model_family=bundle.family,
            path=f"{folder}/{key}",
            files={},
            run_id=None,
            backtest_mase=None,
            segment=bundle.segment.name,
        )
        bundles.setdefault((release.store, model.path), bundle)
        models.append(model)
    return models


def compare(actuals: pd.DataFrame, judges: dict[str, list[Judge]]) -> pd.DataFrame:
    """One row per actual week that a release had forecast (`COLUMNS`), by ISBN and week."""
    rows = []
    for isbn, weeks in actuals.groupby("isbn", sort=True):
        candidates = judges.get(str(isbn), [])
        chosen = np.array([_judge_for(pd.Timestamp(w), candidates) for w in weeks["week_ending"]])
        for position in sorted(set(chosen[chosen >= 0].tolist())):
            rows.append(_forecast_rows(candidates[position], weeks[chosen == position]))
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values(["isbn", "week_ending"], ignore_index=True)[COLUMNS]


def _judge_for(week: pd.Timestamp, candidates: Sequence[Judge]) -> int:
    """The position of the judge of `week` among `candidates` (newest first), else -1."""
    for position, judge in enumerate(candidates):
        days = (week - judge.end).days
        if days % 7 == 0 and 1 <= days // 7 <= MAX_HORIZON:
            return position
    return -1


def _forecast_rows(judge: Judge, weeks: pd.DataFrame) -> pd.DataFrame:
    horizons = ((weeks["week_ending"] - judge.end).dt.days // 7).to_numpy(dtype=np.int64)
    forecast = judge.bundle.forecast(int(horizons.max()), LEVELS)
    picked = forecast.iloc[horizons - 1].reset_index(drop=True)
    return pd.DataFrame(
        {
            "isbn": judge.model.isbn,
            "week_ending": weeks["week_ending"].to_numpy(),
            "release_id": judge.release.release_id,
            "model_name": judge.model.name,
            "model_version": judge.model.version,
            "model_family": judge.model.model_family,
            "segment": judge.bundle.segment.name,
            "horizon": horizons,
            "actual": weeks["volume"].to_numpy(dtype=np.float64),
            **{c: picked[c].to_numpy() for c in ("mean", *BOUNDS)},
            "scale": judge.scale,
            "expected_mase": judge.expected_mase,
        }
    )


PREVIOUS_COLUMNS = ["isbn", "week_ending", "previous_release_id", "previous_model_version"]


def previous_forecasts(comparisons: pd.DataFrame, judges: dict[str, list[Judge]]) -> pd.DataFrame:
    """For each title, the weeks judged by its newest judging release, as forecast by the
    model that release replaced: the newest older release holding another version of the
    title, trained on data ending before those weeks. Columns `PREVIOUS_COLUMNS` and
    `previous_mean`; titles without such a model are left out."""
    parts = []
    for isbn, rows in comparisons.groupby("isbn", sort=True):
        newest = str(rows["release_id"].iloc[-1])
        weeks = rows[rows["release_id"] == newest]
        candidates = judges.get(str(isbn), [])
        position = next(i for i, j in enumerate(candidates) if j.release.release_id == newest)
        current = candidates[position]
        first = pd.Timestamp(weeks["week_ending"].iloc[0])
        last = pd.Timestamp(weeks["week_ending"].iloc[-1])
        older = candidates[position + 1 :]
        replaced = next(
            (
                j
                for j in older
                if j.model.version != current.model.version
                and j.end < first
                and (last - j.end).days // 7 <= MAX_HORIZON
            ),
            None,
        )
        if replaced is None:
            continue
        horizons = ((weeks["week_ending"] - replaced.end).dt.days // 7).to_numpy(np.int64)
        forecast = replaced.bundle.forecast(int(horizons.max()), LEVELS)
        parts.append(
            pd.DataFrame(
                {
                    "isbn": str(isbn),
                    "week_ending": weeks["week_ending"].to_numpy(),
                    "previous_release_id": replaced.release.release_id,
                    "previous_model_version": replaced.model.version,
                    "previous_mean": forecast["mean"].to_numpy()[horizons - 1],
                }
            )
        )
    if not parts:
        columns = [*PREVIOUS_COLUMNS, "previous_mean"]
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(parts, ignore_index=True)
