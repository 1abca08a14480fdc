"""A training run: each title's selected family beside the baseline, and what the gate did."""

from __future__ import annotations

import math

from rich.console import Console

from shelfcast.lifecycle.train import FAILED, KEPT, NOT_REGISTERED, PROMOTED, TrainResult
from shelfcast.views.common import Col, console, err, make_table

LEGEND = (
    "MASE: the selected family's mean backtest MASE; naive: the seasonal-naive baseline's; "
    "holdout: "
    "the selected family's MASE on the held-out weeks. Versions of the registered models "
    "arima_book_<ISBN>; a new version always gets the `challenger` alias."
)


def _num(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.2f}"


def _gate(t) -> str:
    if t.gate == PROMOTED:
        return f"[green]{t.decision}[/green]"
    if t.gate in (FAILED, NOT_REGISTERED):
        return f"[red]{t.reason}[/red]"
    if t.gate == KEPT:
        return t.decision
    return f"[dim]{t.decision}[/dim]"


def print_training(result: TrainResult, out: Console | None = None, log: Console | None = None):
    """The titles table, the legend, and the run's facts (versions, aliases, ZenML, MLflow,
    data, time); the command to see the runs goes to `log` (stderr)."""
    out, log = out or console, log or err
    summary = result.summary
    cached = " (from ZenML's cache: nothing new registered)" if result.cached else ""
    columns = [
        Col("ISBN"),
        Col("title", wrap=True, drop=2, max_width=24),
        Col("selected"),
        Col("MASE", justify="right"),
        Col("naive", justify="right"),
        Col("holdout", justify="right", drop=1),
        Col("version"),
        Col("champion alias", wrap=True),
    ]
    rows = [
        (
            t.isbn,
            t.title or "",
            t.family or "[red]failed[/red]",
            _num(t.backtest_mase),
            _num(t.baseline_mase),
            _num(t.holdout_mase),
            f"v{t.version}" if t.version else "",
            _gate(t),
        )
        for t in result.titles
    ]
    title = f"{len(result.trained)} title(s) trained{cached}"
    out.print(make_table(columns, rows, title=title, out=out))
    out.print(LEGEND)
    times = summary.timings()
    new = "" if summary.registered else " (cached run: versions shown are the earlier run's)"
    out.print(
        f"Registered versions: {result.registered_versions}   "
        f"champion aliases moved: {result.aliases_moved}{new}"
    )
    if result.catalogue is not None:
        out.print(catalogue_line(result.catalogue))
    out.print(
        f"ZenML run: {summary.run_name}"
        + (f"   cached steps: {', '.join(summary.cached_steps)}" if summary.cached_steps else "")
    )
    out.print(
        f"MLflow: {summary.tracking_uri}   experiment {summary.experiment_name} "
        f"(id {summary.experiment_id})   parent run {summary.parent_run_id}"
    )
    out.print(
        f"Data: {summary.data_source}   fingerprint {summary.fingerprint[:19]}...   "
        + (f"fitted on {summary.executor}" if summary.executor else "fits from ZenML's cache")
    )
    out.print(
        f"Time: {times['total']:.1f} s (ZenML {times['zenml']:.1f} s, data {times['data']:.1f} s, "
        f"training {times['training']:.1f} s, MLflow {times['mlflow']:.1f} s)"
    )
    env = " ".join(f"{k}={v}" for k, v in summary.zenml_environment.items())
    log.print(
        f"[dim]See the runs: {env} {zenml_command()} pipeline runs list[/dim]", soft_wrap=True
    )


def catalogue_line(catalogue: dict) -> str:
    """What a catalogue registration did, in one line."""
    counts = catalogue.get("counts", {})
    version = catalogue.get("version")
    made = (
        f"v{version}"
        if version
        else f"no new version (nothing refitted; v{catalogue.get('base_version')} stays)"
    )
    pools = catalogue.get("pools") or {}
    kept = ""
    if pools:
        origin = f"reused from v{pools['reused_from']}, " if pools.get("reused_from") else ""
        kept = f"; pools {origin}trained in v{pools.get('trained_in')}"
    return (
        f"Catalogue {catalogue.get('model_name')}: {made}   titles {counts.get('titles', 0)}, "
        f"refitted {counts.get('fitted', 0)} (promoted {counts.get('promoted', 0)}, kept "
        f"{counts.get('kept', 0)}), carried over {counts.get('carried', 0)}, failed "
        f"{counts.get('failed', 0)}{kept}"
    )


def zenml_command() -> str:
    """The `zenml` command beside the running Python (on PATH only when its venv is active)."""
    from shelfcast.views.commands import program

    return program("zenml")
