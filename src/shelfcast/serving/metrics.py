"""Prometheus metrics of one server (its own registry, so apps in one process never mix).

`MetricsMiddleware` counts every request and times it by route (the fixed routes only, so
that arbitrary paths cannot create series); the predict route adds per-title counts and
per-kind error counts. The prediction log's counts are read from the log when scraped
(`PredictionLogCollector`), so they cost the request path nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelfcast.serving.prediction_log import PredictionLog

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServerMetrics:
    """The server's counters, histogram and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "shelfcast_requests",
            "HTTP requests by route and status code.",
            ("route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "shelfcast_request_seconds",
            "Time to answer a request, by route.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "shelfcast_errors",
            "Refused requests and unanswered instances, by kind.",
            ("kind",),
            registry=self.registry,
        )
        self.predictions = Counter(
            "shelfcast_predictions",
            "Answered instances, by model.",
            ("model",),
            registry=self.registry,
        )
        self.models_loaded = Gauge(
            "shelfcast_models_loaded",
            "Bundles loaded and verified so far.",
            registry=self.registry,
        )
        self.ready = Gauge(
            "shelfcast_ready",
            "1 once every bundle of the release is loaded and verified.",
            registry=self.registry,
        )

    def watch_log(self, log: PredictionLog) -> None:
        """Export the prediction log's counts."""
        self.registry.register(PredictionLogCollector(log))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class PredictionLogCollector(Collector):
    """The prediction log's written and dropped records, and whether it can be written."""

    def __init__(self, log: PredictionLog):
        self.log = log

    def collect(self) -> Iterator[Metric]:
        stats = self.log.stats()
        written = CounterMetricFamily(
            "shelfcast_prediction_log_written", "Records appended to the prediction log."
        )
        written.add_metric((), stats.written)
        dropped = CounterMetricFamily(
            "shelfcast_prediction_log_dropped",
            "Records the prediction log could not keep, by reason.",
            labels=("reason",),
        )
        dropped.add_metric(("queue_full",), stats.dropped)
        dropped.add_metric(("write_failed",), stats.lost)
        dropped.add_metric(("not_json",), stats.failed)
        writable = GaugeMetricFamily(
            "shelfcast_prediction_log_writable",
            "1 while the prediction log can be written, 0 since a write failed.",
        )
        writable.add_metric((), 1 if stats.writable else 0)
        yield from (written, dropped, writable)


class MetricsMiddleware:
    """Counts and times HTTP requests (pure ASGI: no per-request task or body copy)."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, routes: Mapping[str, str]):
        self.app = app
        self.metrics = metrics
        self.routes = dict(routes)  # path -> route label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.routes.get(scope["path"], "other")
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(route, str(status)).inc()
