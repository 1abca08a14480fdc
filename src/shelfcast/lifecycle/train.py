"""Train, register and gate: the ZenML training pipeline, and what it did to each title.

`train_titles(settings, options, progress)` runs `book_sales_training` on the active ZenML stack of
the project folder (`shelfcast.training.run.run_training`): validate the data, backtest and
fit every title, log the runs to MLflow, register each title's version with the alias
`challenger`, and let the promotion gate move `champion`. The result says per title what
the gate did in this run. A rerun on unchanged data is served from ZenML's cache: nothing is
registered and no alias moves, and each title's champion is read from the registry as it
is now (the cached registration is the earlier run's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shelfcast.lifecycle.progress import Progress, count
from shelfcast.settings import Settings

if TYPE_CHECKING:
    from shelfcast.forecasting.fit import FitConfig
    from shelfcast.training.run import TitleSummary, TrainingSummary

# The pipeline's steps, in order, and what each does in words.
STEP_LABELS = {
    "load_data": "fingerprinting the data",
    "validate_data": "reading and validating the data",
    "build_series": "building weekly series",
    "select_titles": "selecting titles",
    "train_titles": "training titles",
    "evaluate": "evaluating",
    "register": "registering in MLflow",
}
# The catalogue model's steps: the place in STEP_LABELS each takes, and what it does.
CATALOGUE_STEPS = {
    "plan_catalogue": ("select_titles", "finding the titles whose data or settings changed"),
    "register_catalogue": ("register", "registering the catalogue version in MLflow"),
}

# What the promotion gate did to a title in this run.
PROMOTED = "promoted"  # a new version was registered and took `champion`
KEPT = "kept"  # a new version was registered; `champion` stayed where it was
UNCHANGED = "unchanged"  # cached run: nothing registered, `champion` as the registry has it
NOT_REGISTERED = "not registered"  # trained, but registering it failed (or it is missing)
FAILED = "failed"  # the title could not be trained


@dataclass(frozen=True)
class TrainOptions:
    """Which titles to train and how. Titles: `isbns`, else every title (`all_titles`), else
    the seasonal selection of at most `max_titles` (default: the setting) with the test ISBNs.
    Every title registers into the catalogue model, refitting only the titles whose data or
    settings changed (`full`: all of them); a selection registers a model per title."""

    isbns: tuple[str, ...] = ()
    max_titles: int | None = None
    all_titles: bool = False
    full: bool = False  # refit every title of the catalogue, changed or not
    use_cache: bool = True  # False runs every step again (e.g. after the MLflow store was replaced)
    verbose: bool = False  # ZenML's own log lines
    config: FitConfig | None = field(default=None, compare=False)  # overrides the settings' fits


@dataclass(frozen=True)
class TitleOutcome:
    """One title: its selected family beside the baseline, and what the gate did."""

    isbn: str
    title: str | None
    family: str | None  # the family the backtest selected; None if the title failed
    backtest_mase: float
    baseline_mase: float  # the seasonal-naive baseline's backtest MASE
    holdout_mase: float
    model_name: str | None
    version: str | None  # the version trained from these data (on a cached run: the earlier run's)
    gate: str  # PROMOTED, KEPT, UNCHANGED, NOT_REGISTERED or FAILED
    reason: str  # why (the gate's reason, or the failure)
    champion_version: str | None  # the version `champion` points at after the run

    @property
    def decision(self) -> str:
        """What happened to `champion`, in words."""
        champion = f"v{self.champion_version}" if self.champion_version else None
        if self.gate == PROMOTED:
            return f"moved to v{self.version} ({self.reason})"
        if self.gate == KEPT:
            return f"stays on {champion or 'no version'} ({self.reason})"
        if self.gate == UNCHANGED:
            if champion is None:
                return "unchanged: no champion yet"
            return f"unchanged: {champion} stays champion"
        return self.reason


@dataclass(frozen=True)
class TrainResult:
    """What a training run did: the pipeline run as read back from ZenML, and each title."""

    summary: TrainingSummary
    titles: tuple[TitleOutcome, ...]

    @property
    def trained(self) -> tuple[TitleOutcome, ...]:
        return tuple(t for t in self.titles if t.gate != FAILED)

    @property
    def failed(self) -> tuple[TitleOutcome, ...]:
        return tuple(t for t in self.titles if t.gate == FAILED)

    @property
    def cached(self) -> bool:
        """Training, evaluation and registration all came from ZenML's cache."""
        return self.summary.cached

    @property
    def registered_versions(self) -> int:
        """New model versions registered by this run."""
        if self.catalogue is not None:
            return int(self.summary.registered and self.catalogue.get("version") is not None)
        return self.summary.registered_versions

    @property
    def catalogue(self) -> dict | None:
        """The catalogue version registered (`TrainingSummary.catalogue`); None per title."""
        return self.summary.catalogue

    @property
    def aliases_moved(self) -> int:
        """`champion` aliases moved by this run."""
        return sum(t.gate == PROMOTED for t in self.titles)

    @property
    def ok(self) -> bool:
        """Every title was trained and is in the registry."""
        return not any(t.gate in (FAILED, NOT_REGISTERED) for t in self.titles)


def train_titles(
    settings: Settings,
    options: TrainOptions | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Run the training pipeline on `settings` (see the module docstring).

    Raises `TrainingFailed`, or the step's own `ShelfcastError` (a `DataValidationError`
    keeps every problem), when the run fails.
    """
    from shelfcast.training.run import run_training

    options = options or TrainOptions()
    steps = len(STEP_LABELS)
    count(progress, "train.pipeline", "Training pipeline", 0, steps, "starting ZenML")

    def hook(stage: str, done: int, total: int, current: str) -> None:
        if progress is None:
            return
        if stage == "sample":
            count(
                progress,
                "train.pipeline",
                "Training pipeline",
                0,
                steps,
                f"writing the sample catalogue to {current}",
            )
        elif stage == "step":
            place, label = CATALOGUE_STEPS.get(current, (current, STEP_LABELS.get(current)))
            if label is not None:
                done = list(STEP_LABELS).index(place)
                count(progress, "train.pipeline", "Training pipeline", done, steps, label)
        elif stage == "train":
            count(progress, "train.titles", "Training titles", done, total, current)
        else:
            count(progress, "train.register", "Registering titles in MLflow", done, total, current)

    summary = run_training(
        settings,
        isbns=list(dict.fromkeys(options.isbns)) or None,
        max_titles=options.max_titles,
        all_titles=options.all_titles,
        config=options.config,
        progress=hook,
        verbose=options.verbose,
        use_cache=options.use_cache,
        catalogue=options.all_titles,
        full=options.full,
    )
    count(progress, "train.pipeline", "Training pipeline", steps, steps, "done")
    return TrainResult(summary, _outcomes(settings, summary))


def _outcomes(settings: Settings, summary: TrainingSummary) -> tuple[TitleOutcome, ...]:
    if summary.registered or summary.catalogue is not None:
        return tuple(_outcome(t) for t in summary.titles)
    # The register step came from ZenML's cache: its registrations are the earlier run's, and
    # the gate decided nothing now. Say where `champion` is, as the registry has it now.
    champions = _champions(settings) if summary.trained else {}
    return tuple(_cached_outcome(t, champions, settings.tracking_uri) for t in summary.titles)


def _outcome(t: TitleSummary) -> TitleOutcome:
    if t.error is not None:
        gate, reason = FAILED, t.error
    elif t.version is None or t.reason.startswith("not registered"):
        gate, reason = NOT_REGISTERED, t.reason or "not registered"
    else:
        gate, reason = (PROMOTED if t.promoted else KEPT), t.reason
    return _make(t, gate, reason, t.champion_version)


def _cached_outcome(
    t: TitleSummary, champions: dict[str, str | None], tracking_uri: str
) -> TitleOutcome:
    if t.error is not None:
        return _make(t, FAILED, t.error, None)
    name = t.model_name
    if t.version is None or name is None or name not in champions:
        return _make(
            t,
            NOT_REGISTERED,
            f"not registered: not in the registry at {tracking_uri} (cached run: "
            "train again with --no-cache to register it)",
            None,
        )
    return _make(t, UNCHANGED, "cached run: the gate decided nothing new", champions[name])


def _make(t: TitleSummary, gate: str, reason: str, champion: str | None) -> TitleOutcome:
    return TitleOutcome(
        isbn=t.isbn,
        title=t.title,
        family=t.selected,
        backtest_mase=t.backtest_mase,
        baseline_mase=t.baseline_mase,
        holdout_mase=t.holdout_mase,
        model_name=t.model_name,
        version=t.version,
        gate=gate,
        reason=reason,
        champion_version=champion,
    )


def _champions(settings: Settings) -> dict[str, str | None]:
    """Registered model name -> its `champion` version (None without one)."""
    from shelfcast import registry

    frame = registry.list_models(settings)
    found: dict[str, str | None] = {}
    for name, champion in zip(frame["name"], frame["champion"], strict=True):
        found[str(name)] = None if champion is None or champion != champion else str(champion)
    return found


def mean_mase(titles: Sequence[TitleOutcome]) -> tuple[float, float] | None:
    """The selected families' and the baseline's mean backtest MASE over `titles`, when known."""
    mase = [t.backtest_mase for t in titles if not math.isnan(t.backtest_mase)]
    naive = [t.baseline_mase for t in titles if not math.isnan(t.baseline_mase)]
    if not (mase and naive):
        return None
    return sum(mase) / len(mase), sum(naive) / len(naive)
