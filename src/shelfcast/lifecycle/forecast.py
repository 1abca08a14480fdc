"""Forecasts without an endpoint: fitted here from sales data (no pipeline, no registry),
or from a release's models (`lifecycle.batch`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shelfcast.errors import ForecastError, ShelfcastError
from shelfcast.lifecycle.batch import BatchResult, batch_forecast, table_bytes
from shelfcast.lifecycle.catalogue import (
    Catalogue,
    SegmentSummary,
    SkippedTitle,
    TitleFilter,
    read_catalogue,
    skipped_rows,
    summarise_segments,
)
from shelfcast.lifecycle.data import load_sales, load_titles
from shelfcast.lifecycle.progress import Progress, count
from shelfcast.settings import Settings
from shelfcast.training.sources import history_start

if TYPE_CHECKING:
    from shelfcast.forecasting import TitleFit
    from shelfcast.forecasting.prepublication import Announced, Prediction

PREPUBLICATION = "prepublication"  # the model column of titles forecast from metadata

TABLE_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class FitOptions:
    """Fit, backtest and forecast every title of the data, or those `wanted` picks (ISBNs,
    segments, the best-selling `max_titles`: `lifecycle.catalogue.TitleFilter`)."""

    out: str  # .csv or .parquet
    data: tuple[str, ...] = ()  # sales files; default: the settings' data, else the sample
    wanted: TitleFilter = field(default_factory=TitleFilter)
    isbn_list: str | None = None  # the title list; default: the settings' or the sample's
    horizon: int | None = None  # default: the settings' serving.horizon
    levels: tuple[int, ...] | None = None  # default: serving.levels
    quantiles: tuple[float, ...] | None = None  # default: serving.quantiles
    start: str | None = None  # weeks before are ignored; '' keeps all; default: data.start_date
    workers: int | None = None
    bundles: Path | None = None  # also write each title's bundle under this folder

    def __post_init__(self) -> None:
        if Path(self.out).suffix not in TABLE_SUFFIXES:
            raise ShelfcastError(f"--out must end in .csv or .parquet, got {self.out!r}")


@dataclass(frozen=True)
class FitForecastResult:
    """The fits (in catalogue order), every title asked for but not forecast (with why), the
    titles and models per segment, and the files written (`skipped_file` when any)."""

    fits: tuple[TitleFit, ...]
    announced: tuple[Prediction, ...]  # titles not yet on sale, forecast from their metadata
    skipped: tuple[SkippedTitle, ...]
    segments: Mapping[str, str]  # key -> segment name, of every title asked for
    by_segment: tuple[SegmentSummary, ...]
    horizon: int
    out: str
    skipped_file: str | None
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
    """Fit, backtest and forecast the titles asked for; write the forecasts (long format:
    key, week_ending, mean, lo_L and hi_L per level, pQ per quantile, model, segment), a chart
    per title beside them and, if asked, the bundles. Every title asked for and not forecast
    (no sales from the start date on, a failed fit) is in the result and in
    `<out stem>_skipped.csv` beside the forecasts. `ShelfcastError` when none was forecast."""
    import pandas as pd

    from shelfcast.atomic import write_atomic
    from shelfcast.forecasting import fit_titles, write_bundle
    from shelfcast.forecasting.calibration import quantile_column
    from shelfcast.plots import title_figure, write_html
    from shelfcast.training.run import fit_config

    horizon = options.horizon or settings.serving.horizon
    levels = options.levels or settings.serving.levels
    quantiles = settings.serving.quantiles if options.quantiles is None else options.quantiles
    sales = load_sales(settings, options.data, isbn_list=options.isbn_list, progress=progress)
    listed = load_titles(settings, options.data, options.isbn_list)
    catalogue = read_catalogue(sales, history_start(settings, options.start), listed)
    keys = catalogue.narrow(options.wanted)
    if not keys:
        within = (
            f" of segment {' or '.join(options.wanted.segments)}" if options.wanted.segments else ""
        )
        raise ShelfcastError(f"no title{within} in the data ({len(catalogue.keys)} titles)")
    series = [catalogue.series[k] for k in keys if k in catalogue.series]
    config = fit_config(settings, horizon=horizon, levels=levels)
    done = 0

    def advance(s: Any, _fit: TitleFit | None) -> None:
        nonlocal done
        done += 1
        count(progress, "forecast.fit", "Fitting titles", done, len(series), s.key)

    count(progress, "forecast.fit", "Fitting titles", 0, len(series))
    fits, errors = fit_titles(series, config, workers=options.workers, progress=advance)
    reasons = {k: catalogue.missing[k] for k in keys if k in catalogue.missing}
    reasons |= {k: f"fit failed: {why}" for k, why in errors.items()}
    coming = [catalogue.announced[k] for k in keys if k in catalogue.announced]
    announced, failed = forecast_announced(catalogue, coming, horizon, levels, quantiles)
    reasons |= failed
    skipped = tuple(catalogue.skipped(k, reasons[k]) for k in keys if k in reasons)
    out = Path(options.out)
    skipped_path = out.with_name(out.stem + "_skipped.csv")
    if skipped:
        frame = skipped_rows(skipped, catalogue.key_column)
        write_atomic(skipped_path, frame.to_csv(index=False).encode())
    else:
        skipped_path.unlink(missing_ok=True)  # a former run's list would no longer be true
    if not fits and not announced:
        first = "; ".join(f"{s.key}: {s.reason}" for s in skipped[:3])
        raise ShelfcastError(
            f"no title could be forecast ({len(skipped)} skipped: {first}"
            + (f"; ... all in {skipped_path})" if len(skipped) > 3 else ")")
        )
    segments = {k: catalogue.segments[k].name for k in keys}
    plots = out.with_name(out.stem + "_plots")
    frames = []
    for n, fit in enumerate(fits, start=1):
        frame = fit.bundle.forecast(horizon, levels, quantiles=quantiles)
        count(progress, "forecast.write", "Writing charts and bundles", n, len(fits), fit.key)
        write_html(title_figure(fit, frame), plots / f"{fit.key}.html")
        if options.bundles:
            write_bundle(fit.bundle, options.bundles / fit.key)
        frames.append(
            frame.assign(
                **{
                    catalogue.key_column: fit.key,
                    "model": fit.selected,
                    "segment": segments[fit.key],
                }
            )
        )
    for prediction in announced:
        frames.append(
            prediction.frame.assign(
                **{
                    catalogue.key_column: prediction.isbn,
                    "model": PREPUBLICATION,
                    "segment": segments[prediction.isbn],
                }
            )
        )
    result = pd.concat(frames, ignore_index=True)
    columns = [catalogue.key_column, "week_ending", "mean"]
    columns += [f"{b}_{lv}" for lv in levels for b in ("lo", "hi")]
    columns += [quantile_column(q) for q in sorted(set(quantiles))] + ["model", "segment"]
    fmt = "parquet" if out.suffix == ".parquet" else "csv"
    write_atomic(out, table_bytes(result[columns], fmt))
    models = {f.key: f.selected for f in fits} | {p.isbn: PREPUBLICATION for p in announced}
    return FitForecastResult(
        fits=tuple(fits),
        announced=tuple(announced),
        skipped=skipped,
        segments=segments,
        by_segment=summarise_segments(segments, models),
        horizon=horizon,
        out=str(out),
        skipped_file=str(skipped_path) if skipped else None,
        plots=plots,
        bundles=options.bundles,
    )


def forecast_announced(
    catalogue: Catalogue,
    coming: Sequence[Announced],
    horizon: int,
    levels: Sequence[int],
    quantiles: Sequence[float],
) -> tuple[list[Prediction], dict[str, str]]:
    """Forecasts of titles not yet on sale from the launches in the catalogue's series
    (`forecasting.prepublication`), and why any could not be made."""
    from shelfcast.forecasting.prepublication import Launches

    if not coming:
        return [], {}
    try:
        launches = Launches(list(catalogue.series.values()))
    except ForecastError as exc:
        return [], {a.isbn: f"pre-publication: {exc}" for a in coming}
    last_week = max(s.end for s in catalogue.series.values())
    return [launches.predict(a, last_week, horizon, levels, quantiles) for a in coming], {}


def forecast_release(
    settings: Settings, options: ReleaseForecastOptions, progress: Progress | None = None
) -> ReleaseForecastResult:
    """Batch forecasts from the release's models into `options.out` (see `lifecycle.batch`).
    Instances answered with an error are counted in the result (JSONL only)."""
    from shelfcast.catalogue_releases import release_cache
    from shelfcast.releases import open_release

    release = open_release(settings.artifact_root, options.release)
    result = batch_forecast(
        release,
        options.out,
        fmt=options.fmt,
        horizon=options.horizon or settings.serving.horizon,
        levels=options.levels or settings.serving.levels,
        quantiles=settings.serving.quantiles if options.quantiles is None else options.quantiles,
        input_uri=options.input_uri,
        isbns=options.isbns,
        cache=release_cache(settings.home),
        progress=progress,
    )
    return ReleaseForecastResult(release.release_id, result)
