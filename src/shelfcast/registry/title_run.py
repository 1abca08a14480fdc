"""One title of a training run: its nested run, the upload of its files, the promotion gate
and the registration of its version.

A title is prepared first (`prepare`: its files, params and metrics, no MLflow call; a
helper thread does it ahead), then logged (`log_title`): the run is created with its tags in
one call, params and metrics go in one `log_batch`, the files in one upload; the gate's
decision is made before the version is created, so that its tags go with it; the new
version takes `challenger`, and `champion` when the gate says so.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.entities.model_registry import RegisteredModel
from mlflow.exceptions import MlflowException

from shelfcast.forecasting.fit import TitleFit
from shelfcast.registry import artifacts, challenge, history
from shelfcast.registry.connection import (
    PARENT_RUN_ID_TAG,
    already_exists,
    log_batch,
    registry_writes,
)
from shelfcast.registry.models import CHALLENGER, CHAMPION, aliases, model_name
from shelfcast.registry.promotion import move_champion
from shelfcast.registry.pyfunc import PyfuncWriter
from shelfcast.registry.title_record import (
    MODEL_ARTIFACT,
    title_metrics,
    title_params,
    title_tags,
    version_tags,
    write_title_files,
)
from shelfcast.registry.values import MAX_TAG, fmt, number
from shelfcast.settings import Settings


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
class Context:
    """What logging a title needs of its training run."""

    settings: Settings
    client: MlflowClient
    experiment_id: str
    parent_run_id: str
    fingerprint: str
    models: dict[str, RegisteredModel]  # the `arima_book_*` models when the run started
    writer: PyfuncWriter
    staging: Path


@dataclass
class Prepared:
    """A title's files, params and metrics, made without any MLflow call."""

    fit: TitleFit
    folder: Path
    params: list[Param]
    metrics: list[Metric]
    seconds: float


def prepare(ctx: Context, fit: TitleFit) -> Prepared:
    started = time.perf_counter()
    folder = ctx.staging / fit.key
    write_title_files(fit, folder, ctx.writer, ctx.settings.serving)
    params = [Param(k, v) for k, v in title_params(fit).items()]
    return Prepared(fit, folder, params, title_metrics(fit), time.perf_counter() - started)


def _ensure_model(ctx: Context, name: str, fit: TitleFit) -> RegisteredModel:
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
        if not already_exists(exc):
            raise
        return ctx.client.get_registered_model(name)


def _incumbent_source(client: MlflowClient, model: RegisteredModel, version: str) -> str:
    """Where the champion's model is: from the history's newest entry when it is the
    champion's (no request), else from its version."""
    entries = history.parse(model.tags)
    if entries and entries[-1]["version"] == version and entries[-1].get("source"):
        return entries[-1]["source"]
    return client.get_model_version(model.name, version).source


def log_title(ctx: Context, prepared: Prepared) -> TitleRegistration:
    """The nested run, its upload, the gate and the registration of one prepared title."""
    started = time.perf_counter()
    fit = prepared.fit
    client, settings = ctx.client, ctx.settings
    isbn, name = fit.key, model_name(fit.key)
    tags = {PARENT_RUN_ID_TAG: ctx.parent_run_id, **title_tags(fit, ctx.fingerprint)}
    run = client.create_run(ctx.experiment_id, tags=tags, run_name=isbn)
    run_id = run.info.run_id
    try:
        log_batch(client, run_id, prepared.metrics, prepared.params, [])
        artifacts.upload(run.info.artifact_uri, prepared.folder, settings.tracking_uri)
        source = f"{run.info.artifact_uri.rstrip('/')}/{MODEL_ARTIFACT}"
        tracked = time.perf_counter()

        model = _ensure_model(ctx, name, fit)
        incumbent = aliases(model).get(CHAMPION)
        decision = challenge.decide(
            fit,
            (
                (
                    lambda: artifacts.model_spec(
                        _incumbent_source(client, model, incumbent), settings.tracking_uri
                    )
                )
                if incumbent
                else None
            ),
            incumbent,
            settings.registry.promotion_min_improvement,
            lambda: number(client.get_model_version(name, incumbent).tags.get("backtest_mase")),
            season_length=settings.training.season_length,
        )
        vtags = version_tags(fit, ctx.fingerprint, ctx.parent_run_id)
        vtags.update(
            promotion_decision="promoted" if decision.promote else "kept",
            promotion_reason=decision.reason[:MAX_TAG],
            previous_champion=incumbent or "none",
            gate_metric=decision.metric,
            gate_challenger_score=fmt(decision.challenger_score),
            gate_incumbent_score=fmt(decision.incumbent_score),
        )
        h = fit.bundle.history
        version = client.create_model_version(
            name,
            source,
            run_id=run_id,
            tags=vtags,
            description=(
                f"{h.title or isbn}: {fit.bundle.family}, backtest MASE {fmt(fit.selected_mase)}"
                f" vs seasonal naive {fmt(fit.baseline_mase)}; {decision.reason}"
            )[:MAX_TAG],
            await_creation_for=0,
        ).version
        version = str(version)
        writes = registry_writes(client)
        writes.set_registered_model_alias(name, CHALLENGER, version)
        champion = incumbent
        if decision.promote:
            entries = history.pushed(
                history.parse(model.tags), version, source, f"gate: {decision.reason}"
            )
            champion = move_champion(writes, name, entries)
        client.set_terminated(run_id, "FINISHED")
    except BaseException:
        with contextlib.suppress(MlflowException):
            client.set_terminated(run_id, "FAILED")
        raise
    finally:
        artifacts.remove_tree(prepared.folder)
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
