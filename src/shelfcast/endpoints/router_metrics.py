"""Prometheus metrics of a local endpoint's router (its own registry, as the servers have)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class RouterMetrics:
    """Requests answered, retries, replica restarts and replicas by state."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "shelfcast_router_requests",
            "HTTP requests answered by the router, by route and status code.",
            ("route", "status"),
            registry=self.registry,
        )
        self.retries = Counter(
            "shelfcast_router_retries",
            "Predict requests sent again to another replica, by why the first failed.",
            ("reason",),
            registry=self.registry,
        )
        self.restarts = Counter(
            "shelfcast_replica_restarts",
            "Replicas started again after they ended or hung, by deployed model and reason.",
            ("deployed_model", "reason"),
            registry=self.registry,
        )
        self.replicas = Gauge(
            "shelfcast_replicas",
            "Replicas of each deployed model, by state.",
            ("deployed_model", "state"),
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
