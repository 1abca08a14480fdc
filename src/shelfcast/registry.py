"""MLflow tracking and the model registry: runs, registered models, aliases, promotion gate.

One training run is one parent MLflow run in the environment's experiment (data fingerprint,
git commit, settings, counts, the data as a dataset input) with a nested run per title
(model family and orders, backtest metrics per origin and their means, baseline and holdout
metrics, training window, a Plotly forecast page, the backtest table, and the bundle as a
pyfunc model). Each title's model is registered as `arima_book_<ISBN>`; the new version gets
the alias `challenger`, and the promotion gate moves `champion` to it when there is no
champion or when it beats the champion on the newest weeks (the new fit's holdout). Why is
recorded as version tags; the champions' succession is a registered-model tag
(`champion_history`) that `rollback` walks back. Stages are not used: aliases only.

The gate compares like with like: the new version's holdout MASE (its champion fitted
before the holdout weeks) against the champion's forecast of the same weeks from the new
history before them. A new model identical to the champion's (a rerun on unchanged data)
keeps the champion. `settings.promotion_min_improvement` is the margin the new one needs.

Speed (MLflow 3.17; per title, see TitleRegistration.timings): runs are created with their
tags in one call; params and metrics go in one `log_batch`; the plot, the backtest table and
the pyfunc model folder are written once, ahead, by a helper thread, and uploaded by one
`log_artifacts` (for a local store, renamed into the run's artifact folder); requirements
are explicit and `save_model` runs once per training run (`PyfuncWriter`); each promotion
decision is made before its version is created so that its tags go with it. Over HTTP a
small thread pool logs several titles at once; a local SQLite store (put in WAL mode) is
written by one thread, to avoid "database is locked".
"""

from __future__ import annotations

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_UV_AUTO_DETECT", "false")
# `set_terminated` otherwise fetches the run again, to print its URL, over HTTP.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per download

import contextlib
import functools
import json
import logging
import math
import subprocess
import tempfile
import time
import urllib.parse
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.entities import (
    DatasetInput,
    InputTag,
    Metric,
    Param,
    RunTag,
)
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import (
    get_artifact_repository,
)
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import (
    MLFLOW_DATASET_CONTEXT,
    MLFLOW_GIT_COMMIT,
    MLFLOW_PARENT_RUN_ID,
)

from shelfcast.errors import BundleError, ForecastError, ShelfcastError
from shelfcast.forecasting import metrics
from shelfcast.forecasting.bundle import BUNDLE_FILE, HISTORY_FILE, Bundle, read_model
from shelfcast.forecasting.families import Spec
from shelfcast.forecasting.fit import BASELINE, TitleFit
from shelfcast.mlflow_model import DATA_SUBPATH, PyfuncWriter
from shelfcast.settings import Settings

MODEL_PREFIX = "arima_book_"
CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"
MAX_HISTORY = 50  # champions remembered for rollback (a registered-model tag holds 100 kB)
SEASON_LENGTH = 52
MODEL_ARTIFACT = "model"
PLOT_ARTIFACT = "forecast.html"
BACKTEST_ARTIFACT = "backtest.csv"
PLOT_HORIZON = 32
REMOTE_THREADS = 8  # titles logged at once over HTTP; a local SQLite store stays sequential
DATASET_NAME = "book_sales_weekly"

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ errors


class RegistryError(ShelfcastError):
    """Tracking or registry operation failed (server unreachable, bad state, ...)."""


class ModelNotFound(RegistryError):
    """No registered model of that name."""


class VersionNotFound(ModelNotFound):
    """The registered model exists but has no such version or alias."""


class NoPreviousChampion(RegistryError):
    """`rollback` found no earlier champion to go back to."""


# ------------------------------------------------------------------------------------ results


@dataclass
class TitleRegistration:
    """One title's registered version and what the promotion gate decided."""

    isbn: str
    model_name: str
    version: str
    run_id: str
    promoted: bool
    reason: str
    champion_version: str | None  # champion after the gate
    seconds: float = 0.0  # MLflow logging plus registration of this title
    timings: dict[str, float] = field(default_factory=dict)  # prepare, tracking, registry


@dataclass
class TrainingRun:
    """The parent run of a training run and every title's registration."""

    experiment_id: str
    parent_run_id: str
    tracking_uri: str
    registrations: list[TitleRegistration]
    failures: dict[str, str] = field(default_factory=dict)  # ISBN -> why it was not registered
    seconds: float = 0.0  # the whole of log_training_run


@dataclass(frozen=True)
class GateDecision:
    """Whether a new version takes `champion`, and why (the text of the version tags)."""

    promote: bool
    reason: str
    challenger_score: float | None = None
    incumbent_score: float | None = None
    metric: str = "mase"


# ------------------------------------------------------------------------------------ names


def model_name(isbn: str) -> str:
    """The registered model of a title: `arima_book_<ISBN>`, as the seed named it."""
    return f"{MODEL_PREFIX}{isbn}"


def resolve_name(name_or_isbn: str) -> str:
    """A registered model name from a name or a bare ISBN."""
    text = name_or_isbn.strip()
    return text if text.startswith(MODEL_PREFIX) else model_name(text)


# ------------------------------------------------------------------------------------ client


def _quiet_mlflow_logs() -> None:
    # Database set-up messages from alembic on the first use of a SQLite store.
    for name in ("alembic", "alembic.runtime.migration", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "databricks"))


def client_for(settings: Settings) -> MlflowClient:
    """An MLflow client on the settings' tracking URI (also the registry URI)."""
    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        _prepare_sqlite(uri.removeprefix("sqlite:///"))
        _quiet_mlflow_logs()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@functools.cache
def _prepare_sqlite(path: str) -> None:
    """Create the store's folder and put its database in write-ahead-log mode.

    WAL is a property of the database file: commits then cost one fsync instead of three
    (3.5 ms instead of 14 ms here; a title's logging commits 7-9 times), and readers (the
    CLI, the dashboard) no longer block the writer. MLflow creates its tables in the file.
    """
    import sqlite3

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=20)) as db:
            db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:  # a read-only or network location: MLflow's defaults apply
        log.debug("could not switch %s to WAL: %s", path, exc)


def _staging_parent(settings: Settings) -> str | None:
    """Where titles' files are staged: beside a local store's artifacts (so that they are
    renamed into place), else the system's temporary folder."""
    location = _local_artifact_location(settings)
    if location is None:
        return None
    parent = Path(urllib.parse.unquote(urllib.parse.urlparse(location).path))
    parent.mkdir(parents=True, exist_ok=True)
    return str(parent)


DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def _local_artifact_location(settings: Settings) -> str | None:
    """Where a new experiment's artifacts go when MLflow is used without a server: beside a
    SQLite database, else in the project folder (MLflow's default is ./mlruns wherever the
    process happens to run). A tracking server decides for itself (None)."""
    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    if uri.split(":", 1)[0].split("+", 1)[0] in DATABASE_SCHEMES:
        return (Path(settings.home) / "mlartifacts").resolve().as_uri()
    return None


def _not_found(exc: MlflowException) -> bool:
    return exc.error_code == "RESOURCE_DOES_NOT_EXIST"


def _already_exists(exc: MlflowException) -> bool:
    return exc.error_code == "RESOURCE_ALREADY_EXISTS"


def _registry_error(exc: MlflowException, settings: Settings, what: str) -> RegistryError:
    message = str(exc.message).strip().splitlines()[0] if exc.message else str(exc)
    return RegistryError(f"{what} failed at {settings.tracking_uri}: {message}")


def experiment_id(client: MlflowClient, settings: Settings) -> str:
    """The environment's experiment, created (or restored) on first use."""
    name = settings.experiment_name
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(
                name,
                artifact_location=_local_artifact_location(settings),
                tags={"environment": settings.environment, "created_by": "shelfcast"},
            )
        except MlflowException as exc:
            if not _already_exists(exc):
                raise
            experiment = client.get_experiment_by_name(name)
            assert experiment is not None
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id


@functools.cache
def git_commit() -> str:
    """The commit of the Shelfcast checkout this code runs from, else "unknown"."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if len(commit) == 40 else "unknown"


# ------------------------------------------------------------------------------------ values


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _fmt(value: Any) -> str:
    x = _number(value)
    return "nan" if x is None else f"{x:.6g}"


def _param_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    return json.dumps(value, default=str)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _log_batch(
    client: MlflowClient,
    run_id: str,
    metrics_: list[Metric],
    params: list[Param],
    tags: list[RunTag],
) -> None:
    """One `log_batch` call when within MLflow's limits (1000 metrics, 100 params/tags)."""
    metric_chunks = list(_chunks(metrics_, 1000)) or [[]]
    param_chunks = list(_chunks(params, 100)) or [[]]
    tag_chunks = list(_chunks(tags, 100)) or [[]]
    for i in range(max(len(metric_chunks), len(param_chunks), len(tag_chunks))):
        client.log_batch(
            run_id,
            metrics=metric_chunks[i] if i < len(metric_chunks) else [],
            params=param_chunks[i] if i < len(param_chunks) else [],
            tags=tag_chunks[i] if i < len(tag_chunks) else [],
        )


# ------------------------------------------------------------------------------------ a title


def training_window(bundle: Bundle) -> dict[str, str]:
    h = bundle.history
    return {
        "start": h.start.date().isoformat(),
        "end": h.end.date().isoformat(),
        "weeks": str(len(h)),
    }


def _holdout_score(fit: TitleFit, name: str, metric: str = "mase") -> float | None:
    return _number(fit.holdout.get(name, {}).get(metric))


def title_params(fit: TitleFit) -> dict[str, str]:
    evaluation = fit.bundle.evaluation
    backtest = evaluation.get("backtest", {})
    params: dict[str, Any] = {
        **{f"model.{k}": v for k, v in fit.bundle.model.params().items()},
        "champion": fit.champion,
        "candidates": ",".join(sorted(fit.scores)) or fit.champion,
        "horizon": backtest.get("horizon"),
        "n_origins": len(backtest.get("origins", [])),
        "backtest_origins": ",".join(backtest.get("origins", [])),
        "holdout_weeks": evaluation.get("holdout", {}).get("weeks", 0),
    }
    return {k: _param_value(v) for k, v in params.items() if v is not None}


def title_metrics(fit: TitleFit, timestamp: int | None = None) -> list[Metric]:
    """Backtest metrics per origin (step = origin index) and their means per candidate, the
    baseline's means, holdout metrics, and the champion's headline numbers."""
    ts = _now_ms() if timestamp is None else timestamp
    out: list[Metric] = []

    def add(key: str, value: Any, step: int = 0) -> None:
        x = _number(value)
        if x is not None:
            out.append(Metric(key, x, ts, step))

    table = fit.backtest.table
    if not table.empty:
        steps = {o: i for i, o in enumerate(sorted(table["origin"].unique()))}
        names = [c for c in table.columns if c not in ("candidate", "origin")]
        for row in table.to_dict("records"):
            for m in names:
                add(f"backtest/{row['candidate']}/{m}", row[m], steps[row["origin"]])
    for candidate, scores in fit.bundle.evaluation.get("backtest", {}).get("mean", {}).items():
        for m, value in (scores or {}).items():
            add(f"backtest_mean/{candidate}/{m}", value)
            if candidate == BASELINE:
                add(f"baseline/{m}", value)
    for candidate, scores in fit.holdout.items():
        for m, value in scores.items():
            add(f"holdout/{candidate}/{m}", value)
    add("backtest_mase", fit.champion_mase)
    add("baseline_mase", fit.baseline_mase)
    add("holdout_mase", _holdout_score(fit, fit.champion))
    add("holdout_baseline_mase", _holdout_score(fit, BASELINE))
    add("fit_seconds", fit.seconds)
    return out


def title_tags(fit: TitleFit, fingerprint: str) -> dict[str, str]:
    h = fit.bundle.history
    window = training_window(fit.bundle)
    tags = {
        "isbn": fit.key,
        "title": h.title or "",
        "author": h.author or "",
        "model_family": fit.bundle.family,
        "training_start": window["start"],
        "training_end": window["end"],
        "training_weeks": window["weeks"],
        "data_fingerprint": fingerprint,
    }
    if fit.fallback:
        tags["fallback"] = fit.fallback[:5000]
    return tags


def version_tags(fit: TitleFit, fingerprint: str, parent_run_id: str) -> dict[str, str]:
    window = training_window(fit.bundle)
    return {
        "isbn": fit.key,
        "title": fit.bundle.history.title or "",
        "model_family": fit.bundle.family,
        "training_window": f"{window['start']}..{window['end']} ({window['weeks']} weeks)",
        "backtest_mase": _fmt(fit.champion_mase),
        "baseline_mase": _fmt(fit.baseline_mase),
        "holdout_mase": _fmt(_holdout_score(fit, fit.champion)),
        "data_fingerprint": fingerprint,
        "training_run": parent_run_id,
    }


@functools.cache
def _plotly_cdn() -> tuple[str, str]:
    """plotly.js on its CDN: the script tag plotly writes, and the same with its SRI hash."""
    import base64
    import hashlib

    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    url = f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"
    digest = hashlib.sha256(get_plotlyjs().encode()).digest()
    sri = "sha256-" + base64.b64encode(digest).decode()
    plain = f'<script charset="utf-8" src="{url}"></script>'
    hashed = f'<script charset="utf-8" src="{url}" integrity="{sri}" crossorigin="anonymous">'
    return plain, hashed + "</script>"


def _cdn_html(figure) -> str:
    """`figure.to_html(include_plotlyjs="cdn")`, less plotly's re-hashing of its 4.6 MB
    bundle for the integrity attribute on every call (15 ms a page): hashed once here."""
    plain, with_sri = _plotly_cdn()
    html = figure.to_html(include_plotlyjs=plain.split('"')[3], full_html=True, validate=False)
    return html.replace(plain, with_sri, 1)


def _write_title_files(fit: TitleFit, folder: Path, writer: PyfuncWriter) -> None:
    """forecast.html, backtest.csv and the pyfunc model folder, ready for one upload."""
    from shelfcast.plots import title_figure

    folder.mkdir(parents=True, exist_ok=True)
    figure = title_figure(fit, fit.bundle.forecast(PLOT_HORIZON))
    (folder / PLOT_ARTIFACT).write_text(_cdn_html(figure))
    table = fit.backtest.table.copy()
    if not table.empty:
        table["origin"] = pd.to_datetime(table["origin"]).dt.strftime("%Y-%m-%d")
    table.to_csv(folder / BACKTEST_ARTIFACT, index=False, float_format="%.6g")
    writer.write(fit.bundle, folder / MODEL_ARTIFACT, artifact_path=MODEL_ARTIFACT)


# ------------------------------------------------------------------------------------ the gate


def score_on_newest_window(model: Spec, fit: TitleFit) -> tuple[float, float, int]:
    """A model spec scored on the new fit's holdout weeks, as the new fit's champion was:
    state from the new history minus those weeks, forecast them, MASE (season 52) and MAE."""
    weeks = int(fit.bundle.evaluation.get("holdout", {}).get("weeks", 0) or 0)
    history = fit.bundle.history
    if weeks < 1 or len(history) <= weeks:
        raise ForecastError("the new fit has no holdout window to compare on")
    train = history.head(len(history) - weeks)
    actual = history.values[len(train) :]
    bundle = Bundle(model=model, history=train, library_versions={}, created_at="")
    mean = bundle.forecast(weeks, levels=(80,))["mean"].to_numpy()
    return (
        metrics.mase(actual, mean, train.values, SEASON_LENGTH),
        metrics.mae(actual, mean),
        weeks,
    )


def decide(
    fit: TitleFit,
    incumbent_model: Callable[[], Spec] | None,
    incumbent_version: str | None,
    min_improvement: float,
    incumbent_backtest_mase: Callable[[], float | None] | None = None,
) -> GateDecision:
    """The promotion gate for a new fit against the current champion.

    `incumbent_model` loads the champion's model spec (None: there is no champion). The new
    version wins when its holdout MASE is below (1 - min_improvement) times the champion's
    MASE on the same weeks, the champion forecasting them from the new history before them.
    """
    if incumbent_model is None or incumbent_version is None:
        return GateDecision(True, "no champion yet")
    factor = 1.0 - min_improvement
    label = f"champion v{incumbent_version}"
    need = f" (needs < {factor:.3g} x)" if min_improvement else ""
    new_mase = _holdout_score(fit, fit.champion)
    weeks = int(fit.bundle.evaluation.get("holdout", {}).get("weeks", 0) or 0)
    if not weeks or fit.champion not in fit.holdout:
        # Without a holdout there is no common window: fall back to backtest MASE.
        new_bt = _number(fit.champion_mase)
        old_bt = incumbent_backtest_mase() if incumbent_backtest_mase else None
        if new_bt is None or old_bt is None:
            return GateDecision(
                False, f"no holdout window and no backtest MASE to compare with {label}; kept"
            )
        return _compare(
            new_bt,
            old_bt,
            factor,
            "backtest_mase",
            f"no holdout window; backtest MASE {{}} {{}} {label}'s {{}}{need}",
        )
    try:
        model = incumbent_model()
        if model == fit.bundle.model:  # e.g. a rerun on unchanged data: nothing to gain
            return GateDecision(False, f"same model as {label} (identical parameters); kept")
        old_mase, old_mae, weeks = score_on_newest_window(model, fit)
    except (ShelfcastError, KeyError, ValueError) as exc:  # not transport errors: they raise
        return GateDecision(
            True, f"{label} could not be scored on the newest {weeks} weeks ({exc}); replaced"
        )
    window = fit.bundle.history.dates[-weeks:]
    span = f"the newest {weeks} weeks ({window[0].date()}..{window[-1].date()})"
    metric, new, old = "mase", new_mase, _number(old_mase)
    if new is None or old is None:  # MASE undefined (flat history): compare MAE instead
        metric, new, old = "mae", _holdout_score(fit, fit.champion, "mae"), _number(old_mae)
    if new is None or old is None:
        return GateDecision(False, f"{metric.upper()} undefined on {span}; {label} kept")
    return _compare(
        new, old, factor, metric, f"{metric.upper()} {{}} {{}} {label}'s {{}} on {span}{need}"
    )


def _compare(new: float, old: float, factor: float, metric: str, template: str) -> GateDecision:
    """Promote when `new` < `old` x `factor`; `template` takes the new score, verb and old score."""
    better = new < old * factor
    verb = "beats" if better else "does not beat"
    return GateDecision(better, template.format(f"{new:.4g}", verb, f"{old:.4g}"), new, old, metric)


# ------------------------------------------------------------------------------------ history


def aliases(model: RegisteredModel) -> dict[str, str]:
    """Alias -> version, versions as strings (stores differ: SQLite gives ints)."""
    return {str(alias): str(version) for alias, version in (model.aliases or {}).items()}


def _history(model: RegisteredModel) -> list[dict]:
    try:
        entries = json.loads(model.tags.get(HISTORY_TAG, "[]"))
    except json.JSONDecodeError:
        return []
    return [e for e in entries if isinstance(e, dict) and "version" in e]


def _history_tag(entries: list[dict]) -> str:
    return json.dumps(entries[-MAX_HISTORY:], separators=(",", ":"))


def _pushed(entries: list[dict], version: str, source: str | None, reason: str) -> list[dict]:
    entry = {"version": str(version), "at": _now_iso(), "reason": reason[:300]}
    if source:
        entry["source"] = source
    return [*entries, entry]


# ------------------------------------------------------------------------------------ artifacts


def _read_artifacts(source: str, paths: Sequence[str], tracking_uri: str) -> dict[str, bytes]:
    """Files under a model's artifact location, as bytes (downloaded to a temporary folder)."""
    parsed = urllib.parse.urlparse(source)
    local = Path(urllib.parse.unquote(parsed.path)) if parsed.scheme in ("", "file") else None
    if local is not None and local.is_dir():
        return {Path(p).name: (local / p).read_bytes() for p in paths}
    repo = get_artifact_repository(source, tracking_uri=tracking_uri)
    out = {}
    with tempfile.TemporaryDirectory(prefix="shelfcast-download-") as tmp:
        for p in paths:
            out[Path(p).name] = Path(repo.download_artifacts(p, dst_path=tmp)).read_bytes()
    return out


def _bundle_files(source: str, tracking_uri: str, names: Sequence[str]) -> dict[str, bytes]:
    """The bundle's files in a model; a missing file is a BundleError, while a store that
    cannot be reached raises as it is (so that the gate never mistakes one for the other)."""
    import requests

    missing = None
    try:
        return _read_artifacts(source, [f"{DATA_SUBPATH}/{n}" for n in names], tracking_uri)
    except FileNotFoundError as exc:
        missing = exc
    except MlflowException as exc:  # downloads wrap a 404 in a generic MlflowException
        text = str(exc.message)
        if not (_not_found(exc) or "RESOURCE_DOES_NOT_EXIST" in text or "404" in text):
            raise
        missing = exc.message.strip().splitlines()[-1][:300]
    except requests.HTTPError as exc:
        if exc.response is None or exc.response.status_code != 404:
            raise
        missing = exc
    raise BundleError(f"{source} holds no Shelfcast bundle ({missing})")


def _bundle_from(source: str, tracking_uri: str) -> Bundle:
    return Bundle.from_files(_bundle_files(source, tracking_uri, [BUNDLE_FILE, HISTORY_FILE]))


def _model_spec(source: str, tracking_uri: str) -> Spec:
    """Only the model spec of a bundle (bundle.json): all the gate needs of a champion."""
    files = _bundle_files(source, tracking_uri, [BUNDLE_FILE])
    return read_model(files[BUNDLE_FILE], f"{source}/{BUNDLE_FILE}")


# ------------------------------------------------------------------------------------ logging


@dataclass
class _Context:
    settings: Settings
    client: MlflowClient
    experiment_id: str
    parent_run_id: str
    fingerprint: str
    models: dict[str, RegisteredModel]
    writer: PyfuncWriter
    staging: Path


def _registered_models(client: MlflowClient) -> dict[str, RegisteredModel]:
    """Every `arima_book_*` registered model, with aliases and tags, in few calls."""
    out: dict[str, RegisteredModel] = {}
    token = None
    while True:
        page = client.search_registered_models(
            filter_string=f"name LIKE '{MODEL_PREFIX}%'", max_results=1000, page_token=token
        )
        out.update({m.name: m for m in page if m.name.startswith(MODEL_PREFIX)})
        token = page.token
        if not token:
            return out


def _ensure_model(ctx: _Context, name: str, fit: TitleFit) -> RegisteredModel:
    known = ctx.models.get(name)
    if known is not None:
        return known
    title = fit.bundle.history.title or ""
    try:
        return ctx.client.create_registered_model(
            name,
            tags={"isbn": fit.key, "title": title, "created_by": "shelfcast"},
            description=f"Weekly unit-sales forecasts for {title or fit.key} (ISBN {fit.key}).",
        )
    except MlflowException as exc:
        if not _already_exists(exc):
            raise
        return ctx.client.get_registered_model(name)


def _registry_writes(client: MlflowClient) -> Any:
    """Where alias and tag writes go for models this module created.

    `MlflowClient.set_registered_model_alias` and `set_registered_model_tag` first fetch the
    model to refuse prompts (one more request each, three per promoted title over HTTP). The
    models written here are created by `_ensure_model` as models, so the training path writes
    through MLflow's registry client, which does the same write without that check.
    """
    registry_client = getattr(client, "_get_registry_client", None)
    return registry_client() if registry_client is not None else client


def _incumbent_source(client: MlflowClient, model: RegisteredModel, version: str) -> str:
    history = _history(model)
    if history and history[-1]["version"] == version and history[-1].get("source"):
        return history[-1]["source"]
    return client.get_model_version(model.name, version).source


@dataclass
class _Prepared:
    """A title's files, params and metrics, made without any MLflow call."""

    fit: TitleFit
    folder: Path
    params: list[Param]
    metrics: list[Metric]
    seconds: float


def _prepare(ctx: _Context, fit: TitleFit) -> _Prepared:
    started = time.perf_counter()
    folder = ctx.staging / fit.key
    _write_title_files(fit, folder, ctx.writer)
    params = [Param(k, v) for k, v in title_params(fit).items()]
    return _Prepared(fit, folder, params, title_metrics(fit), time.perf_counter() - started)


def _log_title(ctx: _Context, prepared: _Prepared) -> TitleRegistration:
    """The nested run, its upload, the gate and the registration of one prepared title."""
    started = time.perf_counter()
    fit = prepared.fit
    client, settings = ctx.client, ctx.settings
    isbn, name = fit.key, model_name(fit.key)
    tags = {MLFLOW_PARENT_RUN_ID: ctx.parent_run_id, **title_tags(fit, ctx.fingerprint)}
    run = client.create_run(ctx.experiment_id, tags=tags, run_name=isbn)
    run_id = run.info.run_id
    try:
        _log_batch(client, run_id, prepared.metrics, prepared.params, [])
        _upload(run.info.artifact_uri, prepared.folder, settings.tracking_uri)
        source = f"{run.info.artifact_uri.rstrip('/')}/{MODEL_ARTIFACT}"
        tracked = time.perf_counter()

        model = _ensure_model(ctx, name, fit)
        incumbent = aliases(model).get(CHAMPION)
        decision = decide(
            fit,
            (
                (
                    lambda: _model_spec(
                        _incumbent_source(client, model, incumbent), settings.tracking_uri
                    )
                )
                if incumbent
                else None
            ),
            incumbent,
            settings.promotion_min_improvement,
            lambda: _number(client.get_model_version(name, incumbent).tags.get("backtest_mase")),
        )
        vtags = version_tags(fit, ctx.fingerprint, ctx.parent_run_id)
        vtags.update(
            promotion_decision="promoted" if decision.promote else "kept",
            promotion_reason=decision.reason[:5000],
            previous_champion=incumbent or "none",
            gate_metric=decision.metric,
            gate_challenger_score=_fmt(decision.challenger_score),
            gate_incumbent_score=_fmt(decision.incumbent_score),
        )
        h = fit.bundle.history
        version = client.create_model_version(
            name,
            source,
            run_id=run_id,
            tags=vtags,
            description=(
                f"{h.title or isbn}: {fit.bundle.family}, backtest MASE {_fmt(fit.champion_mase)}"
                f" vs seasonal naive {_fmt(fit.baseline_mase)}; {decision.reason}"
            )[:5000],
            await_creation_for=0,
        ).version
        version = str(version)
        writes = _registry_writes(client)
        writes.set_registered_model_alias(name, CHALLENGER, version)
        champion = incumbent
        if decision.promote:
            writes.set_registered_model_alias(name, CHAMPION, version)
            entries = _pushed(_history(model), version, source, f"gate: {decision.reason}")
            writes.set_registered_model_tag(name, HISTORY_TAG, _history_tag(entries))
            champion = version
        client.set_terminated(run_id, "FINISHED")
    except BaseException:
        with contextlib.suppress(MlflowException):
            client.set_terminated(run_id, "FAILED")
        raise
    finally:
        _remove_tree(prepared.folder)
    done = time.perf_counter()
    return TitleRegistration(
        isbn=isbn,
        model_name=name,
        version=version,
        run_id=run_id,
        promoted=decision.promote,
        reason=decision.reason,
        champion_version=champion,
        seconds=prepared.seconds + done - started,
        timings={
            "prepare": prepared.seconds,
            "tracking": tracked - started,
            "registry": done - tracked,
        },
    )


def _upload(artifact_uri: str, folder: Path, tracking_uri: str) -> None:
    """The title's files into its run's artifacts: one `log_artifacts` call, or for a local
    artifact folder a rename of the staged folder into place (no copy, no clean-up)."""
    parsed = urllib.parse.urlparse(artifact_uri)
    if parsed.scheme in ("", "file"):
        target = Path(urllib.parse.unquote(parsed.path))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(folder, target)
                return
            except OSError:  # another file system: copy as MLflow does
                pass
    get_artifact_repository(artifact_uri, tracking_uri=tracking_uri).log_artifacts(str(folder))


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _dataset_input(dataset: pd.DataFrame, source: str, fingerprint: str) -> DatasetInput:
    """The training data as an MLflow dataset (schema and profile of the real frame)."""
    import mlflow.data
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import resolve_dataset_source

    resolved = None
    if source.strip() and "," not in source:  # one file or URI: a source MLflow knows
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "can be interpreted in multiple ways"
                resolved = resolve_dataset_source(source.strip())
        except MlflowException:
            resolved = None
    if resolved is None:  # several files, the built-in sample, or a description
        resolved = CodeDatasetSource(tags={"source": source.strip() or "unknown"})
    dataset_ = mlflow.data.from_pandas(
        dataset,
        source=resolved,
        name=DATASET_NAME,
        digest=fingerprint[:36] if fingerprint else None,
    )
    return DatasetInput(
        dataset=dataset_._to_mlflow_entity(),
        tags=[
            InputTag(key=MLFLOW_DATASET_CONTEXT, value="training"),
            InputTag(key="fingerprint", value=fingerprint[:500]),
        ],
    )


def log_training_run(
    settings: Settings,
    fits: Sequence[TitleFit],
    *,
    fingerprint: str,
    dataset: pd.DataFrame,
    dataset_source: str,
    counts: dict[str, int],
    pipeline_run: str | None = None,
    progress: Callable[[TitleFit], None] | None = None,
) -> TrainingRun:
    """Track a training run and register every title's model; returns what was registered.

    A title whose logging or registration fails is reported in `TrainingRun.failures` (its
    run is marked FAILED) and the others go on; if every title fails, RegistryError.
    `progress` is called with each fit once it is registered (from the calling thread).
    """
    started = time.perf_counter()
    client = client_for(settings)
    uri = settings.tracking_uri
    try:
        exp_id = experiment_id(client, settings)
        tags = {
            "data_fingerprint": fingerprint,
            "git_commit": git_commit(),
            MLFLOW_GIT_COMMIT: git_commit(),
            "environment": settings.environment,
            "run_kind": "training",
            "dataset_source": dataset_source[:5000],
        }
        if pipeline_run:
            tags["zenml_pipeline_run"] = pipeline_run
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        parent = client.create_run(
            exp_id, tags=tags, run_name=f"train-{stamp}-{(fingerprint or 'nofp')[:8]}"
        )
        parent_id = parent.info.run_id
    except MlflowException as exc:
        raise _registry_error(exc, settings, "starting the training run") from None
    try:
        settings_params = [
            Param(f"settings.{k}", _param_value(v)[:6000]) for k, v in settings.as_dict().items()
        ]
        count_metrics = [Metric(f"counts/{k}", float(v), _now_ms(), 0) for k, v in counts.items()]
        _log_batch(client, parent_id, count_metrics, settings_params, [])
        client.log_inputs(parent_id, [_dataset_input(dataset, dataset_source, fingerprint)])
        models = _registered_models(client)
        registrations: list[TitleRegistration] = []
        failures: dict[str, str] = {}
        with (
            tempfile.TemporaryDirectory(
                prefix=".shelfcast-staging-", dir=_staging_parent(settings)
            ) as staging,
            PyfuncWriter() as writer,
        ):
            ctx = _Context(
                settings, client, exp_id, parent_id, fingerprint, models, writer, Path(staging)
            )
            for fit, outcome in _each_title(ctx, fits, _is_remote(uri)):
                if isinstance(outcome, TitleRegistration):
                    registrations.append(outcome)
                else:
                    failures[fit.key] = outcome
                    log.warning("registering %s failed: %s", fit.key, outcome)
                if progress is not None:
                    progress(fit)
        seconds = time.perf_counter() - started
        summary = {
            "titles_registered": len(registrations),
            "titles_promoted": sum(r.promoted for r in registrations),
            "titles_not_registered": len(failures),
            "mlflow_seconds": seconds,
            "mlflow_seconds_per_title": seconds / max(len(fits), 1),
        }
        _log_batch(
            client,
            parent_id,
            [Metric(k, float(v), _now_ms(), 0) for k, v in summary.items()],
            [],
            [RunTag("failed_titles", ",".join(sorted(failures))[:5000])] if failures else [],
        )
        client.set_terminated(parent_id, "FAILED" if failures else "FINISHED")
    except BaseException as exc:
        with contextlib.suppress(MlflowException):
            client.set_terminated(parent_id, "FAILED")
        if isinstance(exc, MlflowException):
            raise _registry_error(exc, settings, "logging the training run") from None
        raise
    if fits and not registrations:
        first = next(iter(failures.items()))
        raise RegistryError(
            f"no title could be registered at {uri} ({len(failures)} failed; "
            f"{first[0]}: {first[1]})"
        )
    return TrainingRun(
        experiment_id=exp_id,
        parent_run_id=parent_id,
        tracking_uri=uri,
        registrations=registrations,
        failures=failures,
        seconds=time.perf_counter() - started,
    )


def _each_title(
    ctx: _Context, fits: Sequence[TitleFit], remote: bool
) -> Iterator[tuple[TitleFit, TitleRegistration | str]]:
    """Titles in completion order with their registration, or why it failed.

    Over HTTP a thread pool logs several titles at once. A local SQLite store is written by
    this thread alone; one helper thread prepares the next titles' files meanwhile (it runs
    while this one waits for SQLite to commit).
    """

    def failed(exc: BaseException) -> str:
        return f"{type(exc).__name__}: {exc}"

    def both(fit: TitleFit) -> TitleRegistration | str:
        try:
            return _log_title(ctx, _prepare(ctx, fit))
        except ERRORS as exc:
            return failed(exc)

    if remote and len(fits) > 1:
        with ThreadPoolExecutor(max_workers=min(REMOTE_THREADS, len(fits))) as pool:
            futures = {pool.submit(both, fit): fit for fit in fits}
            for future in as_completed(futures):
                yield futures[future], future.result()
        return
    pending = list(fits)
    with ThreadPoolExecutor(max_workers=1) as helper:
        queue = deque((fit, helper.submit(_prepare, ctx, fit)) for fit in pending[:PREPARE_AHEAD])
        upcoming = iter(pending[PREPARE_AHEAD:])
        while queue:
            fit, future = queue.popleft()
            following = next(upcoming, None)
            if following is not None:
                queue.append((following, helper.submit(_prepare, ctx, following)))
            try:
                yield fit, _log_title(ctx, future.result())
            except ERRORS as exc:
                yield fit, failed(exc)


ERRORS = (MlflowException, ShelfcastError, OSError, ValueError, KeyError)
PREPARE_AHEAD = 2


# ------------------------------------------------------------------------------------ registry


def _get_model(client: MlflowClient, settings: Settings, name: str) -> RegisteredModel:
    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if _not_found(exc):
            raise ModelNotFound(
                f"no registered model named {name!r} at {settings.tracking_uri} "
                "(see `shelfcast models list`)"
            ) from None
        raise _registry_error(exc, settings, f"reading {name}") from None


def _get_version(client: MlflowClient, settings: Settings, name: str, version: str) -> ModelVersion:
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if _not_found(exc):
            raise VersionNotFound(f"{name} has no version {version!r}") from None
        raise _registry_error(exc, settings, f"reading {name} v{version}") from None


def _resolve(
    client: MlflowClient, settings: Settings, name: str, alias_or_version: str
) -> ModelVersion:
    model = _get_model(client, settings, name)
    ref = str(alias_or_version).strip().removeprefix("v")
    if ref.isdigit():
        return _get_version(client, settings, name, ref)
    if alias_or_version not in aliases(model):
        known = ", ".join(f"{a} (v{v})" for a, v in aliases(model).items()) or "none"
        raise VersionNotFound(f"{name} has no alias {alias_or_version!r} (aliases: {known})")
    return _get_version(client, settings, name, aliases(model)[alias_or_version])


def load_bundle(settings: Settings, name: str, alias_or_version: str = "champion") -> Bundle:
    """A registered version's bundle (bundle.json and history.csv; nothing is unpickled)."""
    client = client_for(settings)
    name = resolve_name(name)
    version = _resolve(client, settings, name, alias_or_version)
    try:
        uri = client.get_model_version_download_uri(name, version.version)
    except MlflowException as exc:
        raise _registry_error(exc, settings, f"locating {name} v{version.version}") from None
    return _bundle_from(uri, settings.tracking_uri)


def select_versions(
    settings: Settings,
    names: Sequence[str] | None = None,
    version: str | None = None,
    every: bool = False,
) -> list[ModelVersion]:
    """Registered versions to package: every model's champion; with `every`, the latest
    version of models without one too; with `names`, those models' `version` (a number or
    an alias), else their champion, else their latest version."""
    client = client_for(settings)
    if names:
        if version is not None and len(names) != 1:
            raise RegistryError(f"a version applies to one model, got {len(names)} models")
        return [_version_of(client, settings, resolve_name(n), version) for n in names]
    models, by_name = _catalogue(client, settings)
    chosen = []
    for name in sorted(models):
        mine = by_name.get(name, {})
        champion = aliases(models[name]).get(CHAMPION)
        key = champion or (max(mine, key=int) if every and mine else None)
        if key in mine:
            chosen.append(mine[key])
    return chosen


def _version_of(
    client: MlflowClient, settings: Settings, name: str, version: str | None
) -> ModelVersion:
    if version is not None:
        return _resolve(client, settings, name, version)
    model = _get_model(client, settings, name)
    if CHAMPION in aliases(model):
        return _get_version(client, settings, name, aliases(model)[CHAMPION])
    try:
        versions = _all_versions(client, f"name = '{name}'")
    except MlflowException as exc:
        raise _registry_error(exc, settings, f"reading {name}") from None
    if not versions:
        raise VersionNotFound(f"{name} has no versions")
    return max(versions, key=lambda v: int(v.version))


def bundle_files(settings: Settings, version: ModelVersion) -> dict[str, bytes]:
    """A registered version's bundle files (bundle.json, history.csv), byte-for-byte."""
    try:
        return _bundle_files(version.source, settings.tracking_uri, [BUNDLE_FILE, HISTORY_FILE])
    except MlflowException as exc:
        raise _registry_error(exc, settings, f"reading {version.name} v{version.version}") from None


def promote(settings: Settings, name: str, version: str, reason: str = "manual") -> None:
    """Move `champion` to `version` by hand; recorded like a gate decision."""
    client = client_for(settings)
    name = resolve_name(name)
    model = _get_model(client, settings, name)
    target = _get_version(client, settings, name, str(version).removeprefix("v"))
    current = aliases(model).get(CHAMPION)
    if current == target.version:
        return
    try:
        client.set_registered_model_alias(name, CHAMPION, target.version)
        entries = _pushed(_history(model), target.version, target.source, f"manual: {reason}")
        client.set_registered_model_tag(name, HISTORY_TAG, _history_tag(entries))
        for key, value in {
            "promotion_decision": "promoted",
            "promotion_reason": f"manual: {reason}"[:5000],
            "previous_champion": current or "none",
        }.items():
            client.set_model_version_tag(name, target.version, key, value)
    except MlflowException as exc:
        raise _registry_error(exc, settings, f"promoting {name} v{target.version}") from None


def rollback(settings: Settings, name: str) -> str:
    """Move `champion` back to the previous champion; returns that version."""
    client = client_for(settings)
    name = resolve_name(name)
    model = _get_model(client, settings, name)
    current = aliases(model).get(CHAMPION)
    entries = _history(model)
    if entries and entries[-1]["version"] == current:
        entries.pop()
    while entries:  # skip versions deleted since
        try:
            client.get_model_version(name, entries[-1]["version"])
            break
        except MlflowException as exc:
            if not _not_found(exc):
                raise _registry_error(exc, settings, f"reading {name}") from None
            entries.pop()
    if not entries:
        now = f"v{current}" if current else "none"
        raise NoPreviousChampion(
            f"{name} has no previous champion to roll back to (champion: {now})"
        )
    target = entries[-1]["version"]
    try:
        client.set_registered_model_alias(name, CHAMPION, target)
        client.set_registered_model_tag(name, HISTORY_TAG, _history_tag(entries))
        if current:
            client.set_model_version_tag(name, current, "rolled_back_at", _now_iso())
            client.set_model_version_tag(name, current, "rolled_back_to", target)
    except MlflowException as exc:
        raise _registry_error(exc, settings, f"rolling back {name}") from None
    return target


def _all_versions(client: MlflowClient, filter_string: str) -> list[ModelVersion]:
    out: list[ModelVersion] = []
    token = None
    while True:
        page = client.search_model_versions(
            filter_string=filter_string, max_results=10_000, page_token=token
        )
        out.extend(page)
        token = page.token
        if not token:
            return out


LIST_COLUMNS = [
    "name",
    "isbn",
    "title",
    "latest_version",
    "champion",
    "challenger",
    "family",
    "backtest_mase",
    "baseline_mase",
    "holdout_mase",
]


def _catalogue(
    client: MlflowClient, settings: Settings
) -> tuple[dict[str, RegisteredModel], dict[str, dict[str, ModelVersion]]]:
    """Every `arima_book_*` registered model, and its versions by version number."""
    try:
        models = _registered_models(client)
        versions = _all_versions(client, f"name LIKE '{MODEL_PREFIX}%'")
    except MlflowException as exc:
        raise _registry_error(exc, settings, "listing models") from None
    by_name: dict[str, dict[str, ModelVersion]] = {}
    for v in versions:
        by_name.setdefault(v.name, {})[str(v.version)] = v
    return models, by_name


def list_models(settings: Settings) -> pd.DataFrame:
    """Every `arima_book_*` model: latest version, aliases, and the champion's (else the
    latest version's) family and MASE."""
    client = client_for(settings)
    models, by_name = _catalogue(client, settings)
    rows = []
    for name in sorted(models):
        model = models[name]
        mine = by_name.get(name, {})
        latest = max(mine, key=int) if mine else None
        champion = aliases(model).get(CHAMPION)
        shown = mine.get(champion or "") or (mine.get(latest) if latest else None)
        vt = shown.tags if shown else {}
        rows.append(
            {
                "name": name,
                "isbn": model.tags.get("isbn") or name.removeprefix(MODEL_PREFIX),
                "title": model.tags.get("title") or vt.get("title", ""),
                "latest_version": latest,
                "champion": champion,
                "challenger": aliases(model).get(CHALLENGER),
                "family": vt.get("model_family"),
                "backtest_mase": _number(vt.get("backtest_mase")),
                "baseline_mase": _number(vt.get("baseline_mase")),
                "holdout_mase": _number(vt.get("holdout_mase")),
            }
        )
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def show_model(settings: Settings, name: str) -> dict:
    """A registered model: its tags, aliases, every version (tags, aliases, run) and the
    champions' succession (oldest first)."""
    client = client_for(settings)
    name = resolve_name(name)
    model = _get_model(client, settings, name)
    try:
        versions = _all_versions(client, f"name = '{name}'")
    except MlflowException as exc:
        raise _registry_error(exc, settings, f"reading {name}") from None
    aliases_of: dict[str, list[str]] = {}
    for alias, version in aliases(model).items():
        aliases_of.setdefault(str(version), []).append(alias)
    return {
        "name": name,
        "isbn": model.tags.get("isbn") or name.removeprefix(MODEL_PREFIX),
        "title": model.tags.get("title", ""),
        "description": model.description or "",
        "tracking_uri": settings.tracking_uri,
        "aliases": aliases(model),
        "tags": {k: v for k, v in model.tags.items() if k != HISTORY_TAG},
        "champion_history": _history(model),
        "versions": [
            {
                "version": str(v.version),
                "created": datetime.fromtimestamp(v.creation_timestamp / 1000, UTC).isoformat(
                    timespec="seconds"
                ),
                "run_id": v.run_id,
                "source": v.source,
                "status": v.status,
                "aliases": sorted(aliases_of.get(str(v.version), [])),
                "tags": dict(v.tags),
            }
            for v in sorted(versions, key=lambda v: int(v.version), reverse=True)
        ],
    }


__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "GateDecision",
    "ModelNotFound",
    "NoPreviousChampion",
    "RegistryError",
    "TitleRegistration",
    "TrainingRun",
    "VersionNotFound",
    "bundle_files",
    "decide",
    "list_models",
    "load_bundle",
    "log_training_run",
    "model_name",
    "promote",
    "rollback",
    "score_on_newest_window",
    "select_versions",
    "show_model",
]
