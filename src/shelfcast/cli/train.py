"""`shelfcast train`: the ZenML training pipeline: train, track, register, promote."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from shelfcast.cli.common import (
    DataOption,
    EnvOption,
    console,
    err,
    progress_bar,
    reports_errors,
    split_values,
)

if TYPE_CHECKING:
    from shelfcast.settings import Settings
    from shelfcast.training.run import TrainingSummary

STEP_LABELS = {
    "load_data": "Fingerprinting the data",
    "validate_data": "Reading and validating",
    "build_series": "Building weekly series",
    "select_titles": "Selecting titles",
    "train_titles": "Training titles",
    "evaluate": "Evaluating",
    "register": "Registering in MLflow",
}


@reports_errors
def train(
    data: DataOption = None,
    isbn: Annotated[
        list[str] | None,
        typer.Option("--isbn", help="Titles to train (repeat or comma-separate)."),
    ] = None,
    max_titles: Annotated[
        int | None,
        typer.Option(
            min=1, help="Selected titles at most (default: selection.max_seasonal_books)."
        ),
    ] = None,
    all_titles: Annotated[
        bool, typer.Option("--all", help="Every title with sales, not only the selected ones.")
    ] = False,
    env: EnvOption = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes fitting titles (default: every core).")
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(help="Fit titles on this Dask cluster (scheduler address, tcp://host:8786)."),
    ] = None,
    cache: Annotated[
        bool, typer.Option(help="Reuse ZenML's cached steps when data and code are unchanged.")
    ] = True,
    verbose: Annotated[bool, typer.Option(help="Show ZenML's own log lines.")] = False,
) -> None:
    """Run the ZenML training pipeline: validate the data, backtest and fit every selected
    title, log the runs to MLflow, register each title's model and let the promotion gate move
    its `champion` alias.

    Runs on ZenML's default local stack under the project folder, set up on first use. A rerun
    on unchanged data is served from ZenML's cache and registers nothing new.

    Example: `shelfcast train --isbn 9780722532935 --isbn 9780241003008 --env testing`
    """
    from shelfcast.settings import load_settings

    settings = load_settings(
        environment=env,
        training={"workers": workers, "dask_scheduler": dask},
        data={"paths": tuple(data) if data else None},
    )
    summary = train_with_progress(
        settings,
        isbns=split_values(isbn) or None,
        max_titles=max_titles,
        all_titles=all_titles,
        verbose=verbose,
        use_cache=cache,
    )
    print_summary(summary)
    if summary.failed or any(t.reason.startswith("not registered") for t in summary.trained):
        raise typer.Exit(1)


def train_with_progress(settings: Settings, **options: Any) -> TrainingSummary:
    """`run_training` with a progress bar per pipeline step and for the titles."""
    from shelfcast.training.run import run_training

    with progress_bar() as bar:
        tasks: dict[str, Any] = {}
        steps = bar.add_task("Pipeline", total=len(STEP_LABELS), current="starting ZenML")

        def progress(stage: str, done: int, total: int, current: str) -> None:
            if stage == "sample":
                bar.update(steps, current=f"writing the sample catalogue to {current}")
            elif stage == "step":
                if current in STEP_LABELS:
                    finished = list(STEP_LABELS).index(current)
                    bar.update(steps, completed=finished, current=STEP_LABELS[current])
            else:
                label = "Training titles" if stage == "train" else "Registering titles"
                if stage not in tasks:
                    tasks[stage] = bar.add_task(label, total=total, current="")
                bar.update(tasks[stage], completed=done, total=total, current=current)

        summary = run_training(settings, progress=progress, **options)
        bar.update(steps, completed=len(STEP_LABELS), current="done")
    return summary


def _num(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.2f}"


def print_summary(summary: Any) -> None:
    """The titles, their champions beside the baseline, what was registered and promoted."""
    cached = " (from ZenML's cache: nothing new registered)" if summary.cached else ""
    table = Table(title=f"{len(summary.trained)} title(s) trained{cached}")
    table.add_column("ISBN", no_wrap=True)
    table.add_column("title", max_width=24, no_wrap=True, overflow="ellipsis")
    table.add_column("champion", no_wrap=True)
    for name in ("MASE", "naive", "holdout"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("champion alias", overflow="fold")
    for t in summary.trained:
        if t.version is None:
            alias = f"[red]{t.reason}[/red]"
        elif t.promoted:
            alias = f"[green]moved to v{t.version}[/green] ({t.reason})"
        else:
            alias = f"stays on v{t.champion_version} ({t.reason})"
        table.add_row(
            t.isbn,
            t.title or "",
            t.champion or "",
            _num(t.backtest_mase),
            _num(t.baseline_mase),
            _num(t.holdout_mase),
            f"v{t.version}" if t.version else "",
            alias,
        )
    for t in summary.failed:
        table.add_row(t.isbn, t.title or "", "[red]failed[/red]", "", "", "", "", t.error or "")
    console.print(table)
    console.print(
        "MASE: the champion's mean backtest MASE; naive: the seasonal-naive baseline's; "
        "holdout: the champion's MASE on the held-out weeks. Versions of the registered "
        "models arima_book_<ISBN>; the new version always gets the `challenger` alias."
    )
    times = summary.timings()
    new = "" if summary.registered else " (cached run: versions shown are the earlier run's)"
    console.print(
        f"Registered versions: {summary.registered_versions}   "
        f"champion aliases moved: {summary.aliases_moved}{new}"
    )
    console.print(
        f"ZenML run: {summary.run_name}"
        + (f"   cached steps: {', '.join(summary.cached_steps)}" if summary.cached_steps else "")
    )
    console.print(
        f"MLflow: {summary.tracking_uri}   experiment {summary.experiment_name} "
        f"(id {summary.experiment_id})   parent run {summary.parent_run_id}"
    )
    console.print(
        f"Data: {summary.data_source}   fingerprint {summary.fingerprint[:19]}...   "
        + (f"fitted on {summary.executor}" if summary.executor else "fits from ZenML's cache")
    )
    console.print(
        f"Time: {times['total']:.1f} s (ZenML {times['zenml']:.1f} s, data {times['data']:.1f} s, "
        f"training {times['training']:.1f} s, MLflow {times['mlflow']:.1f} s)"
    )
    env = " ".join(f"{k}={v}" for k, v in summary.zenml_environment.items())
    err.print(f"[dim]See the runs: {env} zenml pipeline runs list[/dim]", soft_wrap=True)
