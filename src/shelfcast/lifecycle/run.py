"""The whole lifecycle in one call: train, register and gate -> package the champions ->
deploy the release to an endpoint -> test it -> ask it for a sample forecast. With every
title (`--all`) the catalogue model's champion table is the release
(`lifecycle.package.package_catalogue`).

`shelfcast run` and the seed's `deploy/01_train_pipeline_and_create_endpoints.py` are this.
Rerunning it on unchanged data is quick and changes nothing: training comes from ZenML's
cache, the same champions are the same release, and an endpoint already serving that
release is left as it is. `plan_lifecycle` is the dry run (Vertex AI): it says what each
stage would do and plans the deploy's Vertex AI calls, calling nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shelfcast.errors import ShelfcastError
from shelfcast.lifecycle.deploy import (
    DeployResult,
    backend,
    check_endpoint,
    deploy_release,
    plan_of,
)
from shelfcast.lifecycle.package import PackageOptions, package_release
from shelfcast.lifecycle.progress import Progress, step
from shelfcast.lifecycle.train import TrainOptions, TrainResult, train_titles
from shelfcast.settings import Settings

if TYPE_CHECKING:
    from shelfcast.endpoints.base import Endpoint
    from shelfcast.packaging import PackageResult
    from shelfcast.releases import Release

SAMPLE_HORIZON = 8
PLANNED_RELEASE_ID = "r-planned"  # the release a dry run stands in for packaging's


@dataclass(frozen=True)
class LifecycleOptions:
    """`train`: the titles and how; `endpoint`: where to deploy (default: the settings');
    `test_endpoint`: smoke-test the endpoint after the deploy even when nothing changed."""

    train: TrainOptions = field(default_factory=TrainOptions)
    endpoint: str | None = None
    test_endpoint: bool = False


@dataclass(frozen=True)
class LifecycleResult:
    """What one run did, stage by stage, and the seconds each stage took."""

    training: TrainResult
    package: PackageResult
    deploy: DeployResult
    tests: tuple[str, ...]  # the endpoint test's checks (empty unless asked for)
    sample: Mapping[str, Any]  # the endpoint's answer for one title
    seconds: Mapping[str, float]

    @property
    def endpoint(self) -> Endpoint:
        return self.deploy.rollout.endpoint

    @property
    def release(self) -> Release:
        return self.package.release


@dataclass(frozen=True)
class LifecyclePlan:
    """A dry run: what each stage would do, and the deploy's planned Vertex AI calls."""

    stages: tuple[tuple[str, str], ...]  # (stage, what it would do)
    deploy: DeployResult


def run_lifecycle(
    settings: Settings,
    options: LifecycleOptions | None = None,
    progress: Progress | None = None,
) -> LifecycleResult:
    """Train, register and gate -> package -> deploy -> (test) -> a sample forecast."""
    options = options or LifecycleOptions()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    training = train_titles(settings, options.train, progress)
    if not training.trained:
        raise ShelfcastError("no title could be trained; nothing to package or deploy")
    seconds["train"] = time.perf_counter() - started

    started = time.perf_counter()
    # --all: the catalogue model's champion table as one release of a few checksummed files
    packaged = package_release(
        settings, PackageOptions(catalogue=options.train.all_titles), progress=progress
    )
    seconds["package"] = time.perf_counter() - started

    started = time.perf_counter()
    release = packaged.release
    name = options.endpoint or settings.endpoints.name
    deployed = deploy_release(settings, release, name, progress=progress)
    seconds["deploy"] = time.perf_counter() - started

    tests: tuple[str, ...] = ()
    if options.test_endpoint:
        started = time.perf_counter()
        tests = check_endpoint(settings, name, progress=progress)
        seconds["test"] = time.perf_counter() - started

    isbn = _sample_isbn(settings, options, release)
    step(progress, "sample", f"Asking {name} for a {SAMPLE_HORIZON}-week forecast of {isbn}")
    instance = {"isbn": isbn, "horizon": SAMPLE_HORIZON, "level": list(settings.serving.levels)}
    sample = backend(settings).predict(name, [instance]).predictions[0]
    if "error" in sample:
        raise ShelfcastError(f"the endpoint refused the sample forecast: {sample['error']}")
    return LifecycleResult(training, packaged, deployed, tests, sample, seconds)


def _sample_isbn(settings: Settings, options: LifecycleOptions, release: Release) -> str:
    """The title to ask for: one asked for, else a test ISBN, among the release's smoke-test
    titles (a catalogue release's sample), else the first of those."""
    preferred = [*options.train.isbns, *settings.selection.default_test_isbns]
    isbns = [m.isbn for m in release.smoke_titles]
    return ([i for i in preferred if i in isbns] or isbns)[0]


def plan_lifecycle(
    settings: Settings,
    options: LifecycleOptions | None = None,
    progress: Progress | None = None,
) -> LifecyclePlan:
    """What `run_lifecycle` would do on the settings' Vertex AI backend, calling nothing:
    training, registering and packaging are described (a dry run changes nothing, so no
    release is made) and the deploy of a stand-in release `r-planned` of the titles is
    planned call by call. `NotApplicable` on the local backend."""
    from shelfcast import registry
    from shelfcast.endpoints import rollout
    from shelfcast.releases import RELEASES, Release, ReleaseModel
    from shelfcast.training.sources import selection_criteria

    options = options or LifecycleOptions()
    planner = backend(settings, dry_run=True)
    name = options.endpoint or settings.endpoints.name
    chosen = options.train
    isbns = tuple(dict.fromkeys(chosen.isbns or settings.selection.default_test_isbns))
    if chosen.isbns:
        titles = ", ".join(isbns)
    elif chosen.all_titles:
        titles = "every title with sales"
    else:
        most = selection_criteria(settings, chosen.max_titles).max_titles
        titles = f"the seasonal selection (at most {most} titles, with {', '.join(isbns)})"
    root = settings.artifact_root.rstrip("/")
    release = Release(
        release_id=PLANNED_RELEASE_ID,
        created="",
        store=root,
        uri=f"{root}/{RELEASES}/{PLANNED_RELEASE_ID}",
        models=tuple(
            ReleaseModel(
                name=registry.model_name(isbn),
                version="<champion>",
                isbn=isbn,
                title="",
                model_family="",
                path=f"models/{registry.model_name(isbn)}/<champion>",
                files={},
                run_id=None,
                backtest_mase=None,
            )
            for isbn in isbns
        ),
    )
    gain = settings.registry.promotion_min_improvement
    margin = f" by more than {gain:.0%}" if gain > 0 else ""
    stages = (
        (
            "train",
            f"book_sales_training on the active ZenML stack of {settings.home}: {titles}; "
            f"runs tracked in MLflow at {settings.tracking_uri} "
            f"(experiment {settings.experiment_name})",
        ),
        (
            "register and gate",
            "each title's new version registered as arima_book_<ISBN> with the alias "
            "challenger; the promotion gate moves champion to it when its MASE on the newest "
            f"held-out weeks beats the champion's on the same weeks{margin}",
        ),
        (
            "package",
            f"every champion -> an immutable release in {root} (written by the real run; "
            f"the plan below stands {PLANNED_RELEASE_ID} in for it)",
        ),
        (
            "deploy",
            f"the release -> endpoint {name} on Vertex AI (project {settings.gcp.project}, "
            f"region {settings.gcp.region}): smoke test on {name}-staging, then traffic",
        ),
        ("test", f"forecast every title through {name} and check each answer"),
    )

    def say(message: str) -> None:
        step(progress, "deploy", message)

    planned = rollout.deploy_release(planner, name, release, progress=say)
    return LifecyclePlan(stages, DeployResult(release, planned, plan_of(planner)))
