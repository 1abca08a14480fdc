"""`shelfcast run`: the whole lifecycle on the embedded defaults, end to end."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from shelfcast.cli.common import EnvOption, console, err, progress_bar, reports_errors, split_values
from shelfcast.cli.endpoints import print_rollout, progress_lines
from shelfcast.cli.serve import forecast_table
from shelfcast.cli.train import print_summary, train_with_progress
from shelfcast.errors import ShelfcastError

if TYPE_CHECKING:
    from shelfcast.endpoints.rollout import RolloutResult
    from shelfcast.packaging import PackageResult
    from shelfcast.settings import Settings
    from shelfcast.training.run import TrainingSummary

SAMPLE_HORIZON = 8


@dataclass(frozen=True)
class Lifecycle:
    """What one `shelfcast run` did, stage by stage."""

    training: TrainingSummary
    package: PackageResult
    rollout: RolloutResult
    sample: dict[str, Any]
    seconds: dict[str, float]


def run_lifecycle(settings: Settings, isbns: list[str] | None = None) -> Lifecycle:
    """Train, register and promote -> package the champions -> deploy -> ask for a forecast."""
    from shelfcast.endpoints.base import backend_for
    from shelfcast.endpoints.rollout import deploy_release
    from shelfcast.packaging import package

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    training = train_with_progress(settings, isbns=isbns)
    if not training.trained:
        raise ShelfcastError("no title could be trained; nothing to package or deploy")
    seconds["train"] = time.perf_counter() - started

    started = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task("Packaging", total=None, current="")

        def show(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage.capitalize(), completed=done, total=total)

        packaged = package(settings, progress=show)
    seconds["package"] = time.perf_counter() - started

    started = time.perf_counter()
    backend = backend_for(settings)
    release = packaged.release
    name = settings.endpoints.name
    with progress_lines(f"Deploying {release.release_id} to {name}") as progress:
        rollout = deploy_release(backend, name, release, progress=progress)
    seconds["deploy"] = time.perf_counter() - started

    first = next(iter(isbns or settings.selection.default_test_isbns), release.models[0].isbn)
    title = release.model(first) if first in {m.isbn for m in release.models} else release.models[0]
    levels = list(settings.serving.levels)
    answer = backend.predict(
        name, [{"isbn": title.isbn, "horizon": SAMPLE_HORIZON, "level": levels}]
    )
    sample = answer.predictions[0]
    if "error" in sample:
        raise ShelfcastError(f"the endpoint refused the sample forecast: {sample['error']}")
    return Lifecycle(training, packaged, rollout, sample, seconds)


@reports_errors
def run(
    isbn: Annotated[
        list[str] | None,
        typer.Option("--isbn", help="Titles to train (default: the selected titles)."),
    ] = None,
    env: EnvOption = None,
) -> None:
    """Everything on the embedded defaults: the sample catalogue -> train -> register ->
    promote -> package a release -> deploy it to the local endpoint -> smoke test -> a
    sample forecast. Nothing to start by hand, no cloud account.

    Rerunning it is safe and fast: training comes from ZenML's cache, unchanged champions
    are the same release, and a release that already serves is left as it is.

    Example: `shelfcast run`
    """
    from shelfcast.settings import load_settings

    settings = load_settings(environment=env)
    outcome = run_lifecycle(settings, split_values(isbn) or None)
    print_summary(outcome.training)
    print_rollout(outcome.rollout, outcome.package.release)
    console.print(forecast_table(outcome.sample, settings.serving.levels))
    _print_overview(settings, outcome)


def _print_overview(settings: Settings, outcome: Lifecycle) -> None:
    release = outcome.package.release
    endpoint = outcome.rollout.endpoint
    table = Table(title="shelfcast run", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    trained = outcome.training.trained
    table.add_row("titles", f"{len(trained)} trained, {len(release.models)} in the release")
    families: dict[str, int] = {}
    for t in trained:
        families[t.champion or "?"] = families.get(t.champion or "?", 0) + 1
    table.add_row("champions", ", ".join(f"{k} {v}" for k, v in sorted(families.items())))
    mase = [t.backtest_mase for t in trained if t.backtest_mase == t.backtest_mase]
    naive = [t.baseline_mase for t in trained if t.baseline_mase == t.baseline_mase]
    if mase and naive:
        table.add_row(
            "backtest MASE",
            f"{sum(mase) / len(mase):.3f} (seasonal naive {sum(naive) / len(naive):.3f})",
        )
    status = "new" if outcome.package.created else "unchanged"
    table.add_row("release", f"{release.release_id} ({status}) {release.uri}")
    table.add_row("endpoint", f"{endpoint.name}: {endpoint.url or '-'} ({outcome.rollout.action})")
    table.add_row(
        "seconds",
        ", ".join(f"{stage} {value:.1f}" for stage, value in outcome.seconds.items()),
    )
    console.print(table)
    isbn = outcome.sample["isbn"]
    err.print(
        "Next:\n"
        f"  shelfcast predict --isbn {isbn}\n"
        f"  shelfcast endpoints describe {endpoint.name}\n"
        "  shelfcast models list\n"
        f"  shelfcast releases show {release.release_id}\n"
        "  shelfcast dashboard"
    )
