"""Batch forecasts from a release, without an endpoint: the cheap path for a planning cycle.

Two kinds of output, written whole to a local path or any fsspec URI (`gs://...`):

- a table (`parquet` or `csv`) in long format, one row per title and week: `isbn`,
  `model_name`, `model_version`, `week_ending`, `mean`, then `lo_L`, `hi_L` per level L and
  `pQ` per quantile (`p10` for 0.1), straight from each title's verified bundle;
- `jsonl` as Vertex AI batch prediction writes it: one line per instance, in input order,
  `{"instance": {...}, "prediction": {...}}`, or `{"instance": ..., "error": {"status",
  "message"}}` for an instance that cannot be answered (`status` is a Google RPC code:
  `NOT_FOUND` for an unknown title, `INVALID_ARGUMENT` otherwise). The instances come from a
  JSONL file in Vertex AI's batch input format (one instance per line, e.g.
  `{"isbn": "9780722532935", "horizon": 32}`), or are every title of the release. They are
  answered by the prediction server's own request handling (`shelfcast.serving.app`), so a
  Vertex AI batch prediction job of the serving image, given the same file, predicts the same.

A catalogue release is read as its table (fetched once into the cache folder from an object
store, verified, memory-mapped) and its titles forecast by `forecast_catalogue`, the one place
that says how a table of bundles is forecast; the table is written as one file.
"""

from __future__ import annotations

import dataclasses
import io
import json
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shelfcast.atomic import write_atomic
from shelfcast.catalogue_releases import CatalogueRows, read_catalogue
from shelfcast.errors import ShelfcastError
from shelfcast.forecasting import batch as many
from shelfcast.forecasting.bundle import Bundle
from shelfcast.forecasting.bundle_table import BundleTable
from shelfcast.lifecycle.progress import Progress as LifecycleProgress
from shelfcast.lifecycle.progress import count
from shelfcast.releases import Release, load_bundles
from shelfcast.storage import storage_options

FORMATS = ("parquet", "csv", "jsonl")
CHUNK = 1000  # instances answered per call, as in one request to the server
RPC_STATUS = {"unknown_title": "NOT_FOUND"}  # other instance errors: INVALID_ARGUMENT

Progress = Callable[[int, int], None]  # done, total
STAGES = {"loading": "Loading the release's models", "forecasting": "Forecasting titles"}


class BatchError(ShelfcastError):
    """A batch forecast cannot run with these inputs."""


@dataclass(frozen=True)
class BatchResult:
    """What a batch forecast wrote."""

    out: str
    format: str
    titles: int  # titles of the release (loaded)
    rows: int  # table rows, or JSONL lines
    errors: int  # instances answered with an error, or titles that could not be forecast
    failed: tuple[tuple[str, str], ...] = ()  # of a catalogue's table: (ISBN, why)


def output_format(out: str, fmt: str | None) -> str:
    """`fmt`, else the output's extension (`.parquet`, `.csv`, `.jsonl`/`.json`)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise BatchError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        return fmt
    suffix = posixpath.splitext(out.rstrip("/"))[1].lower().lstrip(".")
    found = {"parquet": "parquet", "pq": "parquet", "csv": "csv", "jsonl": "jsonl"}.get(suffix)
    if found is None:
        raise BatchError(
            f"cannot tell the format of {out!r}: give --format ({', '.join(FORMATS)}) "
            "or end the name in .parquet, .csv or .jsonl"
        )
    return found


def select_models(release: Release, isbns: Sequence[str] | None) -> Release:
    """The release restricted to `isbns` (ISBNs or model names), in that order."""
    if not isbns:
        return release
    chosen = {m.name: m for m in (release.model(key) for key in isbns)}
    return dataclasses.replace(release, models=tuple(chosen.values()))


def forecast_table(
    release: Release,
    bundles: dict[str, Bundle],
    horizon: int,
    levels: Sequence[int],
    quantiles: Sequence[float],
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Every model's forecast in long format (see the module docstring), computed as arrays
    `CHUNK` titles at a time."""
    models = release.models
    if not models:
        raise BatchError(f"release {release.release_id} has no titles to forecast")
    frames = []
    for start in range(0, len(models), CHUNK):
        chunk = models[start : start + CHUNK]
        frame = many.forecast_bundles(
            [bundles[m.name] for m in chunk], horizon, levels, quantiles
        ).drop(columns="key")
        frame.insert(0, "isbn", [m.isbn for m in chunk for _ in range(horizon)])
        frame.insert(1, "model_name", [m.name for m in chunk for _ in range(horizon)])
        frame.insert(2, "model_version", [m.version for m in chunk for _ in range(horizon)])
        frames.append(frame)
        if progress is not None:
            progress(start + len(chunk), len(models))
    return pd.concat(frames, ignore_index=True)


def forecast_catalogue(
    table: BundleTable,
    horizon: int,
    levels: Sequence[int],
    quantiles: Sequence[float],
    progress: Progress | None = None,
) -> tuple[pa.Table, dict[str, str]]:
    """Every title of `table` forecast, in long format: `isbn`, `week_ending`, `mean`, then
    the bounds and quantiles as `Bundle.forecast` names them, titles in key order; and the
    titles that could not be forecast, with why (they do not stop the others)."""
    parts, failed = [], {}
    for start in range(0, len(table), CHUNK):
        keys = table.keys[start : start + CHUNK]
        # the chunk's titles as arrays together; one that cannot be forecast is left out
        frame = many.forecast_table(table, keys, horizon, levels, quantiles, failed=failed)
        if len(frame):
            frame = frame.rename(columns={"key": "isbn"})
            parts.append(pa.Table.from_pandas(frame, preserve_index=False))
        if progress is not None:
            progress(start + len(keys), len(table))
    if not parts:
        raise BatchError(f"no title of the catalogue table could be forecast ({len(failed)})")
    return pa.concat_tables(parts), failed


def catalogue_table(
    rows: CatalogueRows,
    isbns: Sequence[str],
    horizon: int,
    levels: Sequence[int],
    quantiles: Sequence[float],
    progress: Progress | None = None,
) -> tuple[pa.Table, dict[str, str]]:
    """The forecasts of a catalogue release's titles (or of `isbns`), with the model name and
    version of each, in the per-title table's layout (see the module docstring); and the
    titles that could not be forecast, with why."""
    table = rows.table
    if isbns:
        unknown = [k for k in isbns if k not in table]
        if unknown:
            raise BatchError(
                f"release {rows.release.release_id} has no title {unknown[0]!r}"
                + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            )
        table = table.select(isbns)
    forecasts, failed = forecast_catalogue(table, horizon, levels, quantiles, progress)
    keys = forecasts.column("isbn").to_pylist()
    versions = [rows.versions[rows.table.row(k)] for k in keys]
    forecasts = forecasts.add_column(1, "model_name", pa.array([rows.model_name] * len(keys)))
    return forecasts.add_column(2, "model_version", pa.array(versions)), failed


def table_bytes(frame: pd.DataFrame | pa.Table, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if isinstance(frame, pa.Table):
        if fmt == "parquet":
            pq.write_table(frame, buffer)
            return buffer.getvalue()
        frame = frame.to_pandas()
    if fmt == "parquet":
        frame.to_parquet(buffer, index=False)
    else:
        frame.to_csv(buffer, index=False, date_format="%Y-%m-%d", float_format="%.4f")
    return buffer.getvalue()


def release_instances(
    release: Release, horizon: int, levels: Sequence[int], quantiles: Sequence[float]
) -> list[Any]:
    """One instance per title of the release, in batch input form."""
    chosen = {"horizon": horizon, "level": list(levels), "quantiles": list(quantiles)}
    return [{"isbn": m.isbn, **chosen} for m in release.models]


def read_instances(uri: str) -> list[Any]:
    """The instances of a JSONL file (blank lines skipped); a line that is not JSON is kept
    as `InvalidLine`, to be answered with an error in its place."""
    protocol = fsspec.core.split_protocol(uri)[0] or "file"
    try:
        with fsspec.open(uri, "rt", encoding="utf-8", **storage_options(protocol)) as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise BatchError(f"--input {uri} does not exist") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BatchError(f"cannot read --input {uri}: {exc}") from None
    instances: list[Any] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            instances.append(json.loads(line))
        except ValueError as exc:
            instances.append(InvalidLine(number, line, str(exc)))
    if not instances:
        raise BatchError(f"--input {uri} holds no instances")
    return instances


@dataclass(frozen=True)
class InvalidLine:
    """An input line that is not JSON."""

    number: int
    text: str
    reason: str


def answer_instances(
    pool: Any,
    instances: Sequence[Any],
    horizon: int,
    levels: Sequence[int],
    quantiles: Sequence[float],
    progress: Progress | None = None,
) -> tuple[list[bytes], int]:
    """Vertex AI batch output lines for `instances`, answered by the server's code from
    `pool` (a `serving.pool.ModelPool`); `horizon`, `levels` and `quantiles` are the request
    parameters (defaults for instances without their own). Returns the lines and the error
    count."""
    from shelfcast.serving.answers import answer_tasks, json_bytes, resolve_instances
    from shelfcast.serving.schemas import Parameters

    parameters = Parameters(horizon=horizon, level=list(levels), quantiles=list(quantiles))
    lines: list[bytes] = []
    errors = 0
    for start in range(0, len(instances), CHUNK):
        chunk = list(instances[start : start + CHUNK])
        valid = [i for i, item in enumerate(chunk) if not isinstance(item, InvalidLine)]
        tasks = resolve_instances([chunk[i] for i in valid], parameters, pool)
        answer_tasks(pool, tasks)
        answers = dict(zip(valid, tasks, strict=True))
        for i, item in enumerate(chunk):
            task = answers.get(i)
            if task is not None and task.result is not None:
                prediction = b',"prediction":' + task.result + b"}"
                lines.append(b'{"instance":' + json_bytes(item) + prediction)
                continue
            errors += 1
            if task is None:
                status, message = "INVALID_ARGUMENT", f"line {item.number}: not JSON: {item.reason}"
                item = item.text
            else:
                field, reason = task.error or ("instance", "no answer")
                status = RPC_STATUS.get(task.kind, "INVALID_ARGUMENT")
                where = field.replace(f"instances[{task.index}]", "instance", 1)
                message = f"{where}: {reason}"
            error = {"status": status, "message": message}
            lines.append(json_bytes({"instance": item, "error": error}))
        if progress is not None:
            progress(min(start + CHUNK, len(instances)), len(instances))
    return lines, errors


def batch_forecast(
    release: Release,
    out: str,
    *,
    horizon: int,
    levels: Sequence[int],
    quantiles: Sequence[float],
    fmt: str | None = None,
    input_uri: str | None = None,
    isbns: Sequence[str] = (),
    cache: str | Path | None = None,
    progress: LifecycleProgress | None = None,
) -> BatchResult:
    """Forecast the release's titles (or `isbns`, or the instances of `input_uri`) and write
    `out`. `progress` hears of the models loaded ("batch.loading") and the titles or
    instances forecast ("batch.forecasting"). `cache`: where a catalogue release from an
    object store is kept locally."""
    from shelfcast.serving.catalogue import CatalogueTitles
    from shelfcast.serving.pool import ModelPool

    fmt = output_format(out, fmt)
    if input_uri is not None and fmt != "jsonl":
        raise BatchError("--input answers in Vertex AI's batch output format: use --format jsonl")
    instances = read_instances(input_uri) if input_uri is not None else None

    def stage(name: str) -> Progress | None:
        if progress is None:
            return None
        return lambda done, total: count(progress, f"batch.{name}", STAGES[name], done, total)

    if release.catalogue is not None:
        rows = read_catalogue(release, cache)
        if fmt != "jsonl":
            table, failed = catalogue_table(
                rows, isbns, horizon, levels, quantiles, stage("forecasting")
            )
            written = write_atomic(out, table_bytes(table, fmt))
            titles = len(set(isbns)) or release.titles
            return BatchResult(
                written, fmt, titles, table.num_rows, len(failed), tuple(failed.items())
            )
        pool = ModelPool(CatalogueTitles(rows), release.release_id)
        keys = list(isbns) or rows.table.keys
        chosen = {"horizon": horizon, "level": list(levels), "quantiles": list(quantiles)}
        return _answer_file(
            pool,
            release,
            out,
            instances or [{"isbn": k, **chosen} for k in keys],
            (horizon, levels, quantiles),
            stage("forecasting"),
        )
    release = select_models(release, isbns)
    loading = stage("loading")
    total = len(release.models)
    bundles = load_bundles(release, None if loading is None else lambda n: loading(n, total))
    if fmt != "jsonl":
        frame = forecast_table(
            release, bundles, horizon, levels, quantiles, progress=stage("forecasting")
        )
        written = write_atomic(out, table_bytes(frame, fmt))
        return BatchResult(written, fmt, len(release.models), len(frame), 0)
    pool = ModelPool.from_release(release, bundles)
    if instances is None:
        instances = release_instances(release, horizon, levels, quantiles)
    return _answer_file(
        pool, release, out, instances, (horizon, levels, quantiles), stage("forecasting")
    )


def _answer_file(
    pool: Any,
    release: Release,
    out: str,
    instances: Sequence[Any],
    parameters: tuple[int, Sequence[int], Sequence[float]],
    progress: Progress | None,
) -> BatchResult:
    lines, errors = answer_instances(pool, instances, *parameters, progress=progress)
    written = write_atomic(out, b"\n".join(lines) + b"\n")
    return BatchResult(written, "jsonl", release.titles, len(lines), errors)
