"""Forecasts: one title's answer from an endpoint, and titles fitted without the pipeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from shelfcast.views.common import Col, console, make_table

if TYPE_CHECKING:
    from shelfcast.lifecycle.forecast import FitForecastResult


def forecast_table(
    prediction: Mapping[str, Any], levels: Sequence[int], out: Console | None = None
) -> Table:
    """One prediction of a server's response: a row per week, its mean, intervals and
    quantiles (`p10`, ...: the first narrow tables leave out)."""
    weeks = prediction["weeks"]
    quantiles = [key for key in weeks[0] if key.startswith("p")] if weeks else []
    columns = [Col("week ending"), Col("mean", justify="right")]
    columns += [Col(f"{lv}% interval", justify="right") for lv in levels]
    columns += [Col(q, justify="right", drop=1) for q in quantiles]
    rows = [
        (
            week["week_ending"],
            f"{week['mean']:,.0f}",
            *(f"{week[f'lo_{lv}']:,.0f} - {week[f'hi_{lv}']:,.0f}" for lv in levels),
            *(f"{week[q]:,.0f}" for q in quantiles),
        )
        for week in weeks
    ]
    title = f"{prediction['model_name']} v{prediction['model_version']}"
    return make_table(columns, rows, title=title, out=out)


def print_fits(result: FitForecastResult, out: Console | None = None) -> None:
    """The titles forecast, those skipped with why, and the titles and models per segment."""
    out = out or console
    horizon = result.horizon
    columns = [
        Col("ISBN / id"),
        Col("title", wrap=True, drop=3, max_width=24),
        Col("segment", drop=2),
        Col("selected"),
        Col("MASE", justify="right"),
        Col("naive", justify="right"),
        Col("holdout", justify="right", drop=1),
        Col(f"next {horizon}w", justify="right"),
        Col("note", wrap=True),
    ]
    rows: list[Sequence[Any]] = []
    for fit in result.fits:
        holdout = fit.holdout.get(fit.selected, {}).get("mase", float("nan"))
        rows.append(
            (
                fit.key,
                fit.bundle.history.title or "",
                result.segments[fit.key],
                fit.selected,
                f"{fit.selected_mase:.2f}",
                f"{fit.baseline_mase:.2f}",
                f"{holdout:.2f}",
                f"{fit.bundle.forecast(horizon)['mean'].sum():,.0f}",
                fit.fallback or fit.bundle.evaluation.get("reason") or "",
            )
        )
    for prediction in result.announced:
        rows.append(
            (
                prediction.isbn,
                prediction.title or "",
                result.segments[prediction.isbn],
                "prepublication",
                "-",
                "-",
                "-",
                f"{prediction.frame['mean'].sum():,.0f}",
                prediction.reason,
            )
        )
    forecast = len(result.fits) + len(result.announced)
    title = f"{forecast} title(s) forecast {horizon} weeks ahead"
    out.print(make_table(columns, rows, title=title, out=out))
    out.print(
        "MASE: mean backtest MASE of the selected family; naive: the seasonal-naive baseline's; "
        "holdout: the selected family's MASE on the held-out weeks."
    )
    if result.skipped:
        print_skipped(result, out)
    print_segments(result, out)


def print_skipped(result: FitForecastResult, out: Console | None = None) -> None:
    """Every title asked for and not forecast, with why."""
    out = out or console
    columns = [
        Col("ISBN / id"),
        Col("title", wrap=True, drop=1, max_width=24),
        Col("segment"),
        Col("why not forecast", wrap=True),
    ]
    rows = [(s.key, s.title or "", s.segment, s.reason) for s in result.skipped]
    title = f"[yellow]{len(result.skipped)} title(s) not forecast[/yellow]"
    out.print(make_table(columns, rows, title=title, out=out))


def print_segments(result: FitForecastResult, out: Console | None = None) -> None:
    """Per segment: the titles asked for, forecast and skipped, and the models chosen."""
    out = out or console
    columns = [
        Col("segment"),
        Col("titles", justify="right"),
        Col("forecast", justify="right"),
        Col("skipped", justify="right"),
        Col("models chosen", wrap=True),
    ]
    rows = [
        (
            s.segment,
            f"{s.titles:,}",
            f"{s.forecast:,}",
            f"[yellow]{s.skipped:,}[/yellow]" if s.skipped else "0",
            ", ".join(f"{model} {n}" for model, n in s.models.items()),
        )
        for s in result.by_segment
    ]
    out.print(make_table(columns, rows, title="By segment", out=out))
