"""The training run: one parent MLflow run in the environment's experiment (data
fingerprint, git commit, settings, counts, the data as a dataset input) with a nested run
per title (`title_run`), and a summary of what was registered.

Over HTTP a small thread pool logs several titles at once; a local SQLite store (put in WAL
mode) is written by one thread, to avoid "database is locked", while one helper thread
prepares the next titles' files. The pyfunc model folder is saved once per training run
(`PyfuncWriter`) and reused for every title.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import subprocess
import tempfile
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from shelfcast.errors import ShelfcastError
from shelfcast.forecasting.fit import TitleFit
from shelfcast.registry.connection import (
    DATASET_CONTEXT_TAG,
    GIT_COMMIT_TAG,
    client_for,
    experiment_id,
    is_remote,
    log_batch,
    registry_error,
    staging_parent,
)
from shelfcast.registry.errors import RegistryError
from shelfcast.registry.models import registered_models
from shelfcast.registry.pyfunc import PyfuncWriter
from shelfcast.registry.title_run import Context, TitleRegistration, log_title, prepare
from shelfcast.registry.values import MAX_TAG, now_ms, param_value
from shelfcast.settings import Settings

DATASET_NAME = "book_sales_weekly"
REMOTE_THREADS = 8  # titles logged at once over HTTP; a local SQLite store stays sequential
PREPARE_AHEAD = 2  # titles whose files the helper thread prepares ahead of the logging
MAX_PARAM = 6000  # characters of a settings param kept
# What makes one title fail (reported, the others go on); anything else stops the run.
TITLE_ERRORS = (MlflowException, ShelfcastError, OSError, ValueError, KeyError)

log = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    """The parent run of a training run and every title's registration."""

    experiment_id: str
    parent_run_id: str
    tracking_uri: str
    registrations: list[TitleRegistration]
    failures: dict[str, str] = field(default_factory=dict)  # ISBN -> why it was not registered
    seconds: float = 0.0  # the whole of log_training_run


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


def dataset_input(dataset: pd.DataFrame, source: str, fingerprint: str) -> DatasetInput:
    """The training data as an MLflow dataset (schema and profile of the real frame).

    One file or URI is a source MLflow resolves (a path, gs://, ...); several files, the
    built-in sample or a description are a code source tagged with the text.
    """
    import mlflow.data
    from mlflow.data.sources import CodeDatasetSource

    digest = fingerprint[:36] if fingerprint else None
    data = None
    if source.strip() and "," not in source:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "can be interpreted in multiple ways"
                data = mlflow.data.from_pandas(
                    dataset, source=source.strip(), name=DATASET_NAME, digest=digest
                )
        except MlflowException:  # no source MLflow knows
            data = None
    if data is None:
        code = CodeDatasetSource(tags={"source": source.strip() or "unknown"})
        data = mlflow.data.from_pandas(dataset, source=code, name=DATASET_NAME, digest=digest)
    described = data.to_dict()  # name, digest, source, source_type, schema, profile
    return DatasetInput(
        dataset=Dataset(
            name=described["name"],
            digest=described["digest"],
            source_type=described["source_type"],
            source=described["source"],
            schema=described.get("schema"),
            profile=described.get("profile"),
        ),
        tags=[
            InputTag(key=DATASET_CONTEXT_TAG, value="training"),
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
            GIT_COMMIT_TAG: git_commit(),
            "environment": settings.environment,
            "run_kind": "training",
            "dataset_source": dataset_source[:MAX_TAG],
        }
        if pipeline_run:
            tags["zenml_pipeline_run"] = pipeline_run
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        parent = client.create_run(
            exp_id, tags=tags, run_name=f"train-{stamp}-{(fingerprint or 'nofp')[:8]}"
        )
        parent_id = parent.info.run_id
    except MlflowException as exc:
        raise registry_error(exc, settings, "starting the training run") from None
    try:
        settings_params = [
            Param(f"settings.{k}", param_value(v)[:MAX_PARAM])
            for k, v in settings.as_flat_dict().items()
        ]
        count_metrics = [Metric(f"counts/{k}", float(v), now_ms(), 0) for k, v in counts.items()]
        log_batch(client, parent_id, count_metrics, settings_params, [])
        client.log_inputs(parent_id, [dataset_input(dataset, dataset_source, fingerprint)])
        models = registered_models(client)
        registrations: list[TitleRegistration] = []
        failures: dict[str, str] = {}
        with (
            tempfile.TemporaryDirectory(
                prefix=".shelfcast-staging-", dir=staging_parent(settings)
            ) as staging,
            PyfuncWriter() as writer,
        ):
            ctx = Context(
                settings, client, exp_id, parent_id, fingerprint, models, writer, Path(staging)
            )
            for fit, outcome in _each_title(ctx, fits, is_remote(uri)):
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
        log_batch(
            client,
            parent_id,
            [Metric(k, float(v), now_ms(), 0) for k, v in summary.items()],
            [],
            [RunTag("failed_titles", ",".join(sorted(failures))[:MAX_TAG])] if failures else [],
        )
        client.set_terminated(parent_id, "FAILED" if failures else "FINISHED")
    except BaseException as exc:
        with contextlib.suppress(MlflowException):
            client.set_terminated(parent_id, "FAILED")
        if isinstance(exc, MlflowException):
            raise registry_error(exc, settings, "logging the training run") from None
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
    ctx: Context, fits: Sequence[TitleFit], remote: bool
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
            return log_title(ctx, prepare(ctx, fit))
        except TITLE_ERRORS as exc:
            return failed(exc)

    if remote and len(fits) > 1:
        with ThreadPoolExecutor(max_workers=min(REMOTE_THREADS, len(fits))) as pool:
            futures = {pool.submit(both, fit): fit for fit in fits}
            for future in as_completed(futures):
                yield futures[future], future.result()
        return
    pending = list(fits)
    with ThreadPoolExecutor(max_workers=1) as helper:
        queue = deque((fit, helper.submit(prepare, ctx, fit)) for fit in pending[:PREPARE_AHEAD])
        upcoming = iter(pending[PREPARE_AHEAD:])
        while queue:
            fit, future = queue.popleft()
            following = next(upcoming, None)
            if following is not None:
                queue.append((following, helper.submit(prepare, ctx, following)))
            try:
                yield fit, log_title(ctx, future.result())
            except TITLE_ERRORS as exc:
                yield fit, failed(exc)
