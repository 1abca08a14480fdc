"""Forecasts without an endpoint: fitted here from sales data (no pipeline, no registry),
or from a release's models (`lifecycle.batch`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shelfcast.errors import ShelfcastError
from shelfcast.lifecycle.batch import BatchResult, batch_forecast, select_models, table_bytes
from shelfcast.lifecycle.data import load_sales
from shelfcast.lifecycle.progress import Progress, count
from shelfcast.settings import Settings
from shelfcast.training.sources import history_start, selection_criteria

if TYPE_CHECKING:
    from shelfcast.forecasting import TitleFit

TABLE_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class FitOptions:
    """Fit, backtest and forecast: `isbns`, else every title (`all_titles`, and always for
    long-format data), else the seasonal selection of at most `max_titles`."""

    out: str  # .csv or .parquet
    data: tuple[str, ...] = ()  # sales files; default: the settings' data, else the sample
    isbns: tuple[str, ...] = ()
    all_titles: bool = False
    horizon: int | None = None  # default: the settings' serving.horizon
    levels: tuple[int, ...] | None = None  # default: serving.levels
    quantiles: tuple[float, ...] | None = None  # default: serving.quantiles
    start: str | None = None  # weeks before are ignored; '' keeps all; default: data.start_date
    max_titles: int | None = None  # default: selection.max_seasonal_books
    workers: int | None = None
    bundles: Path | None = None  # also write each title's bundle under this folder

    def __post_init__(self) -> None:
        if Path(self.out).suffix not in TABLE_SUFFIXES:
            raise ShelfcastError(f"--out must end in .csv or .parquet, got {self.out!r}")


@dataclass(frozen=True)
class FitForecastResult:
    """The fits (in input order), the titles that failed (with why), and the files written."""

    fits: tuple[TitleFit, ...]
    errors: Mapping[str, str]
    horizon: int
    out: str
    plots: Path  # one interactive chart per title
    bundles: Path | None


@dataclass(frozen=True)
class ReleaseForecastOptions:
    """Batch forecasts from a release's models: every title (`all_titles`), `isbns`, or the
    instances of a Vertex AI batch input file (`input_uri`, JSONL)."""

    release: str  # id or URI
    out: str  # local path or URI
    isbns: tuple[str, ...] = ()
    all_titles: bool = False
    input_uri: str | None = None
    fmt: str | None = None  # parquet, csv or jsonl; default: by `out`'s extension
    horizon: int | None = None  # default: the settings' serving.horizon
    levels: tuple[int, ...] | None = None  # default: serving.levels
    quantiles: tuple[float, ...] | None = None  # default: serving.quantiles

    def __post_init__(self) -> None:
        if not (self.all_titles or self.isbns or self.input_uri):
            raise ShelfcastError("with --release, give --all, --isbn or --input")
        if self.input_uri and (self.all_titles or self.isbns):
            raise ShelfcastError("--input names its own titles: drop --all/--isbn")


@dataclass(frozen=True)
class ReleaseForecastResult:
    release_id: str
    batch: BatchResult


def forecast_titles(
    settings: Settings, options: FitOptions, progress: Progress | None = None
) -> FitForecastResult:
    """Fit, backtest and forecast titles from sales data; write the forecasts (long format:
    key, week_ending, mean, lo_L and hi_L per level, pQ per quantile, model), a chart per
    title beside them and, if asked, the bundles. `ShelfcastError` when no
    series could be forecast."""
    import pandas as pd

    from shelfcast.atomic import write_atomic
    from shelfcast.catalog.selection import select_titles
    from shelfcast.catalog.series import weekly_series
    from shelfcast.forecasting import fit_titles, write_bundle
    from shelfcast.forecasting.calibration import quantile_column
    from shelfcast.plots import title_figure, write_html
    from shelfcast.training.run import fit_config

    horizon = options.horizon or settings.serving.horizon
    levels = options.levels or settings.serving.levels
    quantiles = settings.serving.quantiles if options.quantiles is None else options.quantiles
    sales = load_sales(settings, options.data, progress=progress)
    keys = list(dict.fromkeys(options.isbns))
    series = weekly_series(sales, start=history_start(settings, options.start), keys=keys or None)
    if not keys and sales.kind == "bookscan" and not options.all_titles:
        criteria = selection_criteria(settings, options.max_titles)
        chosen = set(select_titles(series, criteria).selected)
        series = [s for s in series if s.key in chosen]
    if not series:
        raise ShelfcastError("no series to forecast")
    config = fit_config(settings, horizon=horizon, levels=levels)
    done = 0

    def advance(s: Any, _fit: TitleFit | None) -> None:
        nonlocal done
        done += 1
        count(progress, "forecast.fit", "Fitting titles", done, len(series), s.key)

    count(progress, "forecast.fit", "Fitting titles", 0, len(series))
    fits, errors = fit_titles(series, config, workers=options.workers, progress=advance)
    if not fits:
        raise ShelfcastError(f"every series failed: {errors}")
    key_column = "isbn" if sales.kind == "bookscan" else "unique_id"
    out = Path(options.out)
    plots = out.with_name(out.stem + "_plots")
    frames = []
    for n, fit in enumerate(fits, start=1):
        frame = fit.bundle.forecast(horizon, levels, quantiles=quantiles)
        count(progress, "forecast.write", "Writing charts and bundles", n, len(fits), fit.key)
        write_html(title_figure(fit, frame), plots / f"{fit.key}.html")
        if options.bundles:
            write_bundle(fit.bundle, options.bundles / fit.key)
        frames.append(frame.assign(**{key_column: fit.key, "model": fit.selected}))
    result = pd.concat(frames, ignore_index=True)
    columns = [key_column, "week_ending", "mean"]
    columns += [f"{b}_{lv}" for lv in levels for b in ("lo", "hi")]
    columns += [quantile_column(q) for q in sorted(set(quantiles))] + ["model"]
    fmt = "parquet" if out.suffix == ".parquet" else "csv"
    write_atomic(out, table_bytes(result[columns], fmt))
    return FitForecastResult(tuple(fits), dict(errors), horizon, str(out), plots, options.bundles)


def forecast_release(
    settings: Settings, options: ReleaseForecastOptions, progress: Progress | None = None
) -> ReleaseForecastResult:
    """Batch forecasts from the release's models into `options.out` (see `lifecycle.batch`).
    Instances answered with an error are counted in the result (JSONL only)."""
    from shelfcast.releases import open_release

    release = open_release(settings.artifact_root, options.release)
    chosen = select_models(release, list(options.isbns))
    result = batch_forecast(
        chosen,
        options.out,
        fmt=options.fmt,
        horizon=options.horizon or settings.serving.horizon,
        levels=options.levels or settings.serving.levels,
        quantiles=settings.serving.quantiles if options.quantiles is None else options.quantiles,
        input_uri=options.input_uri,
        progress=progress,
    )
    return ReleaseForecastResult(chosen.release_id, result)
