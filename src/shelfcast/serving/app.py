"""The prediction server: one FastAPI app serving every title of a release.

Routes: the predict route (POST, Vertex AI's `{"instances": [...], "parameters": {...}}`),
the health route (200 once every bundle is loaded and verified, else 503 with progress or
the reason), `/metrics` (Prometheus) and `/openapi.json`.

Errors: a problem with one instance puts `{"error": {"field", "reason"}}` in its place and the
others are answered (200). A request refused whole gets a 4xx `ErrorResponse` naming the
field: 400 for a body that is not JSON, 413 for a body or response over the size limits or
too many instances, 422 for a body of the wrong shape, and, when no instance could be
answered, 404 if every instance named an unknown title, else 422 (with each instance's error
under `predictions`). 401 without the bearer token when one is configured; 405 with `Allow`
for a route asked with the wrong method (GET on the predict route). An error object that has
found several problems (unknown fields, bad parameters, several bad fields of an instance)
lists them all under `errors` beside `error`, the first of them.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shelfcast import __version__
from shelfcast.serving.answers import (
    Problem,
    Task,
    answer_tasks,
    json_bytes,
    resolve_instances,
    validation_errors,
)
from shelfcast.serving.coalescing import Coalescer
from shelfcast.serving.config import ServerConfig
from shelfcast.serving.loading import FAILED, READY, PoolLoader
from shelfcast.serving.metrics import CONTENT_TYPE, MetricsMiddleware, ServerMetrics
from shelfcast.serving.pool import ModelPool
from shelfcast.serving.prediction_log import PredictionLog
from shelfcast.serving.schemas import (
    ErrorResponse,
    Health,
    Parameters,
    PredictRequest,
    PredictResponse,
)

JSON = "application/json"
METRICS_ROUTE = "/metrics"
OPENAPI_ROUTE = "/openapi.json"
TOP_LEVEL = ("instances", "parameters")
DRAIN_FACTOR = 8
WEEK_BYTES, VALUE_BYTES = 28, 11  # the least JSON a forecast week and each of its numbers take
QUANTILE_BYTES = 9  # and each quantile: `,"p5":0.0`
# Problems listed under `errors`: of a request refused whole, and of one instance (a response
# of 1000 instances with that many each stays under the response limit).
MAX_ERRORS, MAX_INSTANCE_ERRORS = 100, 10


class RequestRefused(Exception):
    """A request refused whole: status, field and reason (and instance errors, if any).
    `problems` is every problem found, when there were several; the first is field, reason."""

    def __init__(
        self,
        status: int,
        field: str,
        reason: str,
        kind: str,
        predictions: list[dict] | None = None,
        problems: Sequence[Problem] = (),
    ):
        super().__init__(reason)
        self.status, self.field, self.reason, self.kind = status, field, reason, kind
        self.predictions = predictions
        self.problems = list(problems)

    @classmethod
    def for_problems(
        cls,
        status: int,
        problems: Sequence[Problem],
        kind: str,
        predictions: list[dict] | None = None,
    ) -> RequestRefused:
        (field, reason), *_ = problems
        return cls(status, field, reason, kind, predictions, problems)


def create_app(source: str | ModelPool, config: ServerConfig | None = None) -> FastAPI:
    """The app for a release URI (loaded in a background thread at startup) or a ready pool."""
    config = config or ServerConfig()
    metrics = ServerMetrics()
    if isinstance(source, ModelPool):
        loader = PoolLoader(pool=source)
    else:
        loader = PoolLoader(release=source, cache=config.cache_dir)
    loader.on_change = lambda state: _update_gauges(metrics, state)
    _update_gauges(metrics, loader)

    log: list[PredictionLog] = []  # the prediction log, opened in the serving process
    coalescer = Coalescer()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if config.prediction_log:
            rate, rotation = config.prediction_log_sample_rate, config.prediction_log_rotation
            log.append(PredictionLog(config.prediction_log, rate, rotation=rotation))
            metrics.watch_log(log[-1])
        if isinstance(source, str):
            loader.start(source)
        try:
            yield
        finally:
            for opened in log:
                opened.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Shelfcast prediction server",
        version=__version__,
        summary="Weekly sales forecasts for every title of a release (Vertex AI contract).",
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_ROUTE,
    )
    app.state.loader = loader
    app.state.metrics = metrics
    app.state.config = config
    routes = {
        config.predict_route: "predict",
        config.health_route: "health",
        METRICS_ROUTE: "metrics",
        OPENAPI_ROUTE: "openapi",
    }

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        where = "method" if exc.status_code == 405 else "path"
        reason = f"{exc.detail}: {request.method} {request.url.path}"
        return _error(exc.status_code, where, reason, headers=exc.headers)

    async def health() -> Response:
        body = Health(
            status=loader.status,
            release=loader.release,
            loaded=loader.loaded,
            total=loader.total,
            reason=loader.reason,
        )
        return Response(
            body.model_dump_json(exclude_none=True),
            status_code=200 if loader.status == READY else 503,
            media_type=JSON,
        )

    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        try:
            _authorize(request, config)
            pool = loader.pool
            if pool is None or not loader.ready:
                raise RequestRefused(503, "release", _not_ready(loader), "not_ready")
            body = await _read_body(request, config.max_body_bytes)
            instances, parameters, problems = _parse(body, config)
            tasks = resolve_instances(instances, parameters, pool)
            if problems:  # refused whole, naming the instances' problems too
                problems += [p for t in tasks for p in t.errors]
                raise RequestRefused.for_problems(422, problems, "bad_request")
            _check_response_size(tasks, config.max_response_bytes)
            if all(_is_cached(pool, t) for t in tasks):
                answer_tasks(pool, tasks)
            else:  # in a worker thread, with other requests' uncached instances
                await coalescer.answer(pool, tasks)
            response = _respond(tasks, config, metrics)
            for opened in log:
                opened.record(
                    body,
                    response.body,
                    loader.release,
                    config.deployed_model_id,
                    (time.perf_counter() - started) * 1000.0,
                    models=[(t.model.name, t.model.version) for t in tasks if t.result and t.model],
                )
            return response
        except RequestRefused as exc:
            metrics.errors.labels(exc.kind).inc()
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return _error(exc.status, exc.field, exc.reason, exc.predictions, headers, exc.problems)

    async def metrics_route(request: Request) -> Response:
        try:
            _authorize(request, config)
        except RequestRefused as exc:
            metrics.errors.labels(exc.kind).inc()
            return _error(exc.status, exc.field, exc.reason, None, {"WWW-Authenticate": "Bearer"})
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    # POST on the predict route skips FastAPI's routing and dependency handling (a tenth of
    # an uncached one-title request); the route below stays for the OpenAPI document and 405s.
    app.add_middleware(PredictFirst, route=config.predict_route, handler=predict)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=routes)
    app.add_api_route(
        config.health_route,
        health,
        methods=["GET"],
        summary="200 once every bundle of the release is loaded and verified, else 503",
        responses={200: {"model": Health}, 503: {"model": Health}},
        tags=["serving"],
    )
    app.add_api_route(
        config.predict_route,
        predict,
        methods=["POST"],
        summary="Forecasts for the instances, in order; an error object for a bad instance",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
            }
        },
        responses={
            200: {"model": PredictResponse},
            **{
                code: {"model": ErrorResponse, "description": text}
                for code, text in (
                    (400, "The body is not JSON"),
                    (401, "The bearer token is missing or wrong"),
                    (404, "Every instance names an unknown title"),
                    (413, "Body or response too large, or too many instances"),
                    (422, "The body has the wrong shape, or no instance could be answered"),
                    (503, "The release is still loading, or failed to load"),
                )
            },
        },
        tags=["serving"],
    )
    app.add_api_route(
        METRICS_ROUTE,
        metrics_route,
        methods=["GET"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}},
            401: {"model": ErrorResponse},
        },
        tags=["serving"],
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class PredictFirst:
    """ASGI: a POST on the predict route goes straight to its handler (still inside the
    server-error and metrics middleware); every other request to FastAPI's routing."""

    def __init__(self, app: ASGIApp, route: str, handler: Callable[[Request], Awaitable[Response]]):
        self.app, self.route, self.handler = app, route, handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.route and scope["method"] == "POST":
            response = await self.handler(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _not_ready(loader: PoolLoader) -> str:
    if loader.status == FAILED:
        return f"the release failed to load: {loader.reason}"
    total = "?" if loader.total is None else loader.total
    return f"the release is still loading ({loader.loaded} of {total} models)"


def _update_gauges(metrics: ServerMetrics, loader: PoolLoader) -> None:
    metrics.models_loaded.set(loader.loaded)
    metrics.ready.set(1 if loader.ready else 0)


def _authorize(request: Request, config: ServerConfig) -> None:
    if not config.token:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), config.token.encode()
    ):
        raise RequestRefused(
            401, "Authorization", "a valid bearer token is required", "unauthorized"
        )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, up to `limit` bytes. A longer one is read on (and dropped) up to
    DRAIN_FACTOR times the limit before the 413, so that the client, still sending, gets the
    answer rather than a reset connection."""
    too_large = RequestRefused(413, "body", f"the body is over {limit:,} bytes", "too_large")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > DRAIN_FACTOR * limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_FACTOR * limit:
            raise too_large
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise too_large
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse(body: bytes, config: ServerConfig) -> tuple[list[Any], Parameters, list[Problem]]:
    """The raw instances and the validated parameters of a request body, and every problem
    of its shape: the request is refused (422) if there is any. Raises for a body that is not
    a JSON object, and for too many instances when nothing else is wrong."""
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise RequestRefused(
            400, "body", f"not valid JSON: {reason}"[:300], "bad_request"
        ) from None
    if not isinstance(document, dict):
        raise RequestRefused(422, "body", "must be a JSON object with `instances`", "bad_request")
    problems = [
        (name[:64], f"unknown field {name[:64]!r}")
        for name in sorted(set(document) - set(TOP_LEVEL))[:MAX_ERRORS]
    ]
    instances = document.get("instances")
    if not isinstance(instances, list) or not instances:
        problems.append(("instances", "must be a non-empty list of instances"))
        instances = []
    elif len(instances) > config.max_instances:
        too_many = f"at most {config.max_instances} instances per request, got {len(instances)}"
        if not problems:
            raise RequestRefused(413, "instances", too_many, "too_large")
        problems.append(("instances", too_many))
        instances = []
    raw = document.get("parameters")
    try:
        parameters = Parameters.model_validate({} if raw is None else raw)
    except ValidationError as exc:
        problems += [(f"parameters{where}", reason) for where, reason in validation_errors(exc)]
        parameters = Parameters()
    defaults = parameters.or_defaults(config.horizon, config.levels, config.quantiles)
    return instances, defaults, problems


def _is_cached(pool: ModelPool, task: Task) -> bool:
    return task.model is None or (
        not task.actuals and pool.is_cached(task.model, task.horizon, task.levels, task.quantiles)
    )


def _check_response_size(tasks: Sequence[Task], limit: int) -> None:
    """Refuse before forecasting what cannot fit the response: each week takes at least
    WEEK_BYTES plus VALUE_BYTES per number (`{"week_ending":"2024-08-03","mean":0.0}`)."""
    least = sum(
        t.horizon
        * (
            WEEK_BYTES
            + VALUE_BYTES * (1 + 2 * len(set(t.levels)))
            + QUANTILE_BYTES * len(t.quantiles)
        )
        for t in tasks
        if t.model is not None
    )
    if least > limit:
        raise _response_too_large(least, limit, "at least ")


def _response_too_large(size: int, limit: int, qualifier: str = "") -> RequestRefused:
    return RequestRefused(
        413,
        "instances",
        f"the response would be {qualifier}{size:,} bytes, over {limit:,}: "
        "ask for fewer instances or shorter horizons per request",
        "too_large",
    )


def _error_object(
    field: str, reason: str, problems: Sequence[Problem] = (), limit: int = MAX_ERRORS
) -> dict[str, Any]:
    """`{"error": {"field", "reason"}}`, and `errors` listing every problem when several."""
    body: dict[str, Any] = {"error": {"field": field, "reason": reason}}
    if len(problems) > 1:
        body["errors"] = [{"field": f, "reason": r} for f, r in problems[:limit]]
    return body


def _respond(tasks: Sequence[Task], config: ServerConfig, metrics: ServerMetrics) -> Response:
    parts, errors = [], []
    for task in tasks:
        if task.result is not None and task.model is not None:
            parts.append(task.result)
            metrics.predictions.labels(task.model.name).inc()
        elif task.error is not None:
            errors.append(_error_object(*task.error, task.errors, MAX_INSTANCE_ERRORS))
            parts.append(json_bytes(errors[-1]))
            metrics.errors.labels(task.kind).inc()
    if len(errors) == len(tasks):
        unknown = all(t.kind == "unknown_title" for t in tasks)
        problems = [p for t in tasks for p in t.errors]
        raise RequestRefused.for_problems(404 if unknown else 422, problems, "no_answer", errors)
    deployed = json_bytes(config.deployed_model_id)
    body = b'{"predictions":[' + b",".join(parts) + b'],"deployedModelId":' + deployed + b"}"
    if len(body) > config.max_response_bytes:
        raise _response_too_large(len(body), config.max_response_bytes)
    return Response(body, media_type=JSON)


def _error(
    status: int,
    field: str,
    reason: str,
    predictions: list[dict] | None = None,
    headers: dict[str, str] | None = None,
    problems: Sequence[Problem] = (),
) -> Response:
    body = _error_object(field, reason, problems)
    if predictions is not None:
        body["predictions"] = predictions
    return Response(json_bytes(body), status_code=status, media_type=JSON, headers=headers)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus the request body's models (the route parses the body itself)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    models: list[tuple[type[BaseModel], Any]] = [(PredictRequest, "validation")]
    _, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in definitions.get("$defs", {}).items():
        components.setdefault(name, definition)
    app.openapi_schema = schema
    return schema
