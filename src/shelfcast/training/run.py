"""`run_training`: run the ZenML pipeline from settings and summarise what it did.

Used by `shelfcast train`, the seed's `pipelines/zenml_pipeline.py` and the pipeline benchmark.
ZenML is imported only inside `run_training`, after `setup_zenml` has pointed it at the
project folder.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shelfcast.errors import ShelfcastError
from shelfcast.settings import Settings
from shelfcast.training.artifacts import config_to_dict, registry_settings
from shelfcast.training.executors import ExecutorChoice
from shelfcast.training.sources import (
    DataSources,
    history_start,
    resolve_sources,
    selection_criteria,
)

if TYPE_CHECKING:
    from shelfcast.forecasting.fit import FitConfig

PIPELINE_NAME = "book_sales_training"
# Steps whose own code is counted as training and as MLflow logging in the timings.
TRAIN_STEP = "train_titles"
REGISTER_STEP = "register"
CATALOGUE_STEP = "register_catalogue"  # in place of `register` for the catalogue model
EXPENSIVE_STEPS = ("train_titles", "evaluate", "register")

ProgressHook = Callable[[str, int, int, str], None]


class TrainingFailed(ShelfcastError):
    """The pipeline run failed; the message names the step and its error."""


@dataclass
class TitleSummary:
    """One title's outcome: its selected family beside the baseline, and what was registered."""

    isbn: str
    title: str | None = None
    selected: str | None = None  # the selected model family; None if the title failed
    backtest_mase: float = math.nan
    baseline_mase: float = math.nan  # the seasonal-naive baseline's backtest MASE
    holdout_mase: float = math.nan
    model_name: str | None = None
    version: str | None = None
    promoted: bool = False  # `champion` alias moved to this version
    reason: str = ""  # why it was (not) promoted
    champion_version: str | None = None  # the version `champion` points at after the run
    error: str | None = None


@dataclass
class StepSummary:
    name: str
    status: str  # completed, cached, failed, ...
    seconds: float | None  # the step's own code (None when cached)
    wall: float  # from start to end, materializing inputs and outputs included


@dataclass
class TrainingSummary:
    """What a training run did. `registered` is False when the register step was cached:
    then the titles' versions are those registered by the run that computed them."""

    run_name: str
    run_id: str
    status: str
    fingerprint: str
    data_source: str
    executor: str  # where titles were fitted; "" when the fits came from ZenML's cache
    titles: list[TitleSummary]
    steps: list[StepSummary]
    tracking_uri: str | None = None
    experiment_name: str | None = None
    experiment_id: str | None = None
    parent_run_id: str | None = None
    registered: bool = False
    # the catalogue version registered (model_name, version: None when nothing was refitted,
    # base_version, counts, timings); None for a model per title
    catalogue: dict[str, Any] | None = None
    seconds: float = 0.0  # wall time of run_training, ZenML start-up included
    # wall seconds of run_training's phases: sources (finding, perhaps writing the sample
    # catalogue), setup (importing and setting up ZenML), pipeline (the run), summary
    phases: dict[str, float] = field(default_factory=dict)
    zenml_environment: dict[str, str] = field(default_factory=dict)

    @property
    def trained(self) -> list[TitleSummary]:
        return [t for t in self.titles if t.error is None]

    @property
    def failed(self) -> list[TitleSummary]:
        return [t for t in self.titles if t.error is not None]

    @property
    def cached_steps(self) -> list[str]:
        return [s.name for s in self.steps if s.status == "cached"]

    @property
    def cached(self) -> bool:
        """Training, evaluation and registration all came from the cache."""
        cached = [REGISTER_STEP if s == CATALOGUE_STEP else s for s in self.cached_steps]
        return all(name in cached for name in EXPENSIVE_STEPS)

    @property
    def registered_versions(self) -> int:
        """New model versions registered by this run."""
        return sum(t.version is not None for t in self.trained) if self.registered else 0

    @property
    def aliases_moved(self) -> int:
        """`champion` aliases moved by this run."""
        return sum(t.promoted for t in self.trained) if self.registered else 0

    def timings(self) -> dict[str, float]:
        """Seconds: total; ZenML (importing, setting up, running the pipeline around the
        steps' own code: bookkeeping, artifacts in and out, reading the run back); data (finding
        the data, writing the sample catalogue on first use, and the data steps' own code);
        training and MLflow (the train and register steps' own code)."""
        own = {s.name: s.seconds or 0.0 for s in self.steps}
        training = own.get(TRAIN_STEP, 0.0)
        registry = own.get(REGISTER_STEP, 0.0) + own.get(CATALOGUE_STEP, 0.0)
        sources = self.phases.get("sources", 0.0)
        data = sum(own.values()) - training - registry + sources
        return {
            "total": self.seconds,
            "zenml": max(self.seconds - sum(own.values()) - sources, 0.0),
            "data": data,
            "training": training,
            "mlflow": registry,
        }

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            cached=self.cached,
            cached_steps=self.cached_steps,
            registered_versions=self.registered_versions,
            aliases_moved=self.aliases_moved,
            timings=self.timings(),
        )
        return out


def fit_options(settings: Settings) -> dict[str, Any]:
    """The `FitConfig` fields the settings decide, as JSON: the seed's split (a
    `backtest.split_size`-week horizon and holdout), `backtest.n_origins` origins, the season,
    the interval levels and the training window. The others keep `FitConfig`'s defaults,
    applied in the train step (so that a cached run need not load the forecasting core)."""
    return {
        "horizon": settings.backtest.split_size,
        "holdout": settings.backtest.split_size,
        "n_origins": settings.backtest.n_origins,
        "season_length": settings.training.season_length,
        "levels": list(settings.serving.levels),
        "max_train_weeks": settings.training.max_train_weeks,
    }


def fit_config(settings: Settings, **changes: Any) -> FitConfig:
    """The `FitConfig` of `settings` (`fit_options`), with `changes` to any field."""
    from shelfcast.forecasting.fit import FitConfig

    values = {**fit_options(settings), **changes}
    return FitConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def run_training(
    settings: Settings,
    *,
    isbns: Sequence[str] | None = None,
    max_titles: int | None = None,
    all_titles: bool = False,
    config: FitConfig | None = None,
    progress: ProgressHook | None = None,
    verbose: bool = False,
    use_cache: bool = True,
    catalogue: bool = False,
    full: bool = False,
) -> TrainingSummary:
    """Run `book_sales_training` on `settings` and summarise it.

    Titles: `isbns` if given, else every series (`all_titles`), else the seasonal selection of
    at most `max_titles` (default `selection.max_seasonal_books`) with the default test ISBNs.
    `config` overrides the fit configuration derived from the settings. `progress(stage, done,
    total, current)` hears of the sample catalogue being written ("sample"), steps starting
    ("step"), titles fitted ("train") and registered ("register"). `use_cache=False` runs
    every step again (for example after the MLflow store was replaced: a cached run does not
    register again). `catalogue` registers a version of the catalogue model, refitting the
    titles whose data or settings changed (all with `full`). Raises `TrainingFailed` (or the
    step's own `ShelfcastError`, e.g. `DataValidationError`) when the run fails.
    """
    from shelfcast.training.zenml_env import setup_zenml, zenml_environment

    started = time.perf_counter()
    sources = resolve_sources(
        settings,
        on_write_sample=lambda path: progress("sample", 0, 0, str(path)) if progress else None,
    )
    phases = {"sources": time.perf_counter() - started}
    setup_zenml(settings, verbose=verbose)

    from shelfcast.training import steps
    from shelfcast.training.pipeline import book_sales_training

    choice = ExecutorChoice(
        workers=settings.training.workers, dask_scheduler=settings.training.dask_scheduler
    )
    criteria = selection_criteria(settings, max_titles)
    parameters = {
        "sales_files": list(sources.sales),
        "isbn_list": sources.isbn_list,
        "start_date": history_start(settings),
        "isbns": list(dict.fromkeys(isbns)) if isbns else None,
        "max_titles": criteria.max_titles,
        "always_include": list(criteria.always_include),
        "all_titles": all_titles,
        "fit_config": config_to_dict(config) if config else fit_options(settings),
        "executor": {"workers": choice.workers, "dask_scheduler": choice.dask_scheduler},
        "settings": registry_settings(settings),
        "catalogue": catalogue,
        "full": full,
    }
    phases["setup"] = time.perf_counter() - started - phases["sources"]
    call_started = time.perf_counter()
    with steps.local_run(progress) as local:
        try:
            pipeline = book_sales_training
            if not use_cache:
                pipeline = pipeline.with_options(enable_cache=False)
            response = pipeline(**parameters)
        except ShelfcastError:
            raise
        except Exception as exc:
            if isinstance(local.failure, ShelfcastError):
                raise local.failure from None  # a DataValidationError keeps its problems
            cause = local.failure or exc
            raise TrainingFailed(
                f"the training pipeline failed: {type(cause).__name__}: {cause}"
            ) from cause
    if response is None:
        raise TrainingFailed("the training pipeline did not start (no run was returned)")
    phases["pipeline"] = time.perf_counter() - call_started
    summary = summarise(response.id, sources, choice)
    summary.seconds = time.perf_counter() - started
    phases["summary"] = summary.seconds - sum(phases.values())
    summary.phases = phases
    summary.zenml_environment = zenml_environment(settings)
    return summary


def summarise(run_id: Any, sources: DataSources, choice: ExecutorChoice) -> TrainingSummary:
    """Read a finished run back from the ZenML store."""
    from zenml.client import Client

    run = Client().get_pipeline_run(run_id)
    status = str(run.status.value)
    steps = {name: step for name, step in run.steps.items()}
    if status != "completed":
        failed = [n for n, s in steps.items() if str(s.status.value) == "failed"]
        raise TrainingFailed(f"pipeline run {run.name} ended {status} (failed: {failed})")
    step_summaries = [_step_summary(name, step) for name, step in steps.items()]
    evaluation = steps["evaluate"].outputs["evaluation"][0].load()
    register = CATALOGUE_STEP if CATALOGUE_STEP in steps else REGISTER_STEP
    registration = steps[register].outputs["registration"][0].load()
    fingerprint = steps["load_data"].outputs["fingerprint"][0].load()
    by_isbn = {str(r.get("isbn")): r for r in registration.get("registrations", [])}
    failures = registration.get("failures", {})
    titles = [
        _title_summary(row, by_isbn.get(str(row["isbn"]), {}), failures.get(str(row["isbn"])))
        for row in _rows(evaluation)
    ]
    train = steps[TRAIN_STEP]
    if str(train.status.value) == "cached":
        executor = ""  # the fits came from ZenML's cache
    else:
        executor = str(train.run_metadata.get("executor") or choice.describe())
    return TrainingSummary(
        run_name=run.name,
        run_id=str(run.id),
        status=status,
        fingerprint=fingerprint,
        data_source=sources.describe(),
        executor=executor,
        titles=titles,
        steps=step_summaries,
        tracking_uri=registration.get("tracking_uri"),
        experiment_name=registration.get("experiment_name"),
        experiment_id=registration.get("experiment_id"),
        parent_run_id=registration.get("parent_run_id"),
        registered=str(steps[register].status.value) == "completed",
        catalogue=registration.get("catalogue"),
    )


def _step_summary(name: str, step: Any) -> StepSummary:
    status = str(step.status.value)
    seconds = step.run_metadata.get("seconds") if status == "completed" else None
    wall = 0.0
    if step.start_time and step.end_time:
        wall = max((step.end_time - step.start_time).total_seconds(), 0.0)
    return StepSummary(
        name=name,
        status=status,
        seconds=float(seconds) if isinstance(seconds, int | float) else None,
        wall=wall,
    )


def _rows(frame: Any) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _title_summary(
    row: dict[str, Any], registration: dict[str, Any], not_registered: str | None
) -> TitleSummary:
    def number(value: Any) -> float:
        return math.nan if value is None else float(value)

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return TitleSummary(
        isbn=str(row["isbn"]),
        title=text(row.get("title")),
        selected=text(row.get("selected")),
        backtest_mase=number(row.get("backtest_mase")),
        baseline_mase=number(row.get("baseline_mase")),
        holdout_mase=number(row.get("holdout_mase")),
        model_name=text(registration.get("model_name")),
        version=text(registration.get("version")),
        promoted=bool(registration.get("promoted", False)),
        reason=f"not registered: {not_registered}"
        if not_registered
        else str(registration.get("reason") or ""),
        champion_version=text(registration.get("champion_version")),
        error=text(row.get("error")),
    )
