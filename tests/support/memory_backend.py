"""An in-memory endpoint backend: a test double of `EndpointBackend` for rollout tests.

Deployed models answer like the prediction server (dated Saturdays, ordered intervals) for
the titles of their release. A release can be made to misbehave: `health` sets the state its
deployed models settle in, `faults` corrupts its answers (see `corrupt`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from shelfcast.catalogue_releases import read_catalogue
from shelfcast.endpoints.base import (
    HEALTHY,
    DeployedModel,
    Endpoint,
    EndpointBackend,
    EndpointError,
    EndpointNotFound,
    NotApplicable,
    PredictResponse,
    TrafficChange,
    check_split,
)

FIRST_WEEK = date(2024, 8, 3)  # a Saturday


class MemoryBackend(EndpointBackend):
    kind = "memory"

    def __init__(
        self,
        health: Mapping[str, str] | None = None,
        faults: Mapping[str, str] | None = None,
        targets_deployed_models: bool = True,
    ):
        self.endpoints: dict[str, Endpoint] = {}
        self.releases: dict[str, Any] = {}  # deployed model id -> release
        self.health_by_release = dict(health or {})
        self.faults = dict(faults or {})
        self.targets_deployed_models = targets_deployed_models  # type: ignore[misc]
        self.operations: list[tuple[str, ...]] = []
        self._clock = 0

    def _tick(self) -> str:
        self._clock += 1
        return f"2026-01-01T00:00:{self._clock:02d}Z"

    def get_or_create(self, name: str) -> Endpoint:
        if name not in self.endpoints:
            self.operations.append(("create", name))
            self.endpoints[name] = Endpoint(name, self.kind, url=f"memory://{name}")
        return self.endpoints[name]

    def list_endpoints(self) -> list[Endpoint]:
        return list(self.endpoints.values())

    def describe(self, name: str) -> Endpoint:
        if name not in self.endpoints:
            raise EndpointNotFound(name, self.kind)
        return self.endpoints[name]

    def deploy(self, name: str, release: Any) -> DeployedModel:
        endpoint = self.describe(name)
        model = DeployedModel(
            id=f"dm-{len(self.releases) + 1}",
            release_id=release.release_id,
            release_uri=release.uri,
            created=self._tick(),
            state=self.health_by_release.get(release.release_id, HEALTHY),
        )
        self.releases[model.id] = release
        self.operations.append(("deploy", name, model.id))
        self.endpoints[name] = replace(endpoint, deployed_models=(*endpoint.deployed_models, model))
        return model

    def health(self, name: str, deployed_model_id: str) -> DeployedModel:
        return self.describe(name).deployed_model(deployed_model_id)

    def set_traffic(self, name: str, split: Mapping[str, int], note: str = "") -> Endpoint:
        endpoint = self.describe(name)
        split = check_split(endpoint, split)
        self.operations.append(("traffic", name, *sorted(f"{k}={v}" for k, v in split.items())))
        self.endpoints[name] = replace(
            endpoint,
            traffic=split,
            history=(*endpoint.history, TrafficChange(self._tick(), split, note)),
        )
        return self.endpoints[name]

    def undeploy(self, name: str, deployed_model_id: str) -> None:
        endpoint = self.describe(name)
        endpoint.deployed_model(deployed_model_id)
        others = [k for k, v in endpoint.traffic.items() if v and k != deployed_model_id]
        if endpoint.traffic.get(deployed_model_id) and others:
            raise EndpointError(f"{deployed_model_id} takes traffic")
        self.operations.append(("undeploy", name, deployed_model_id))
        self.endpoints[name] = replace(
            endpoint,
            deployed_models=tuple(m for m in endpoint.deployed_models if m.id != deployed_model_id),
            traffic={k: v for k, v in endpoint.traffic.items() if k != deployed_model_id},
        )

    def predict(
        self,
        name: str,
        instances: Sequence[Mapping[str, Any]],
        deployed_model_id: str | None = None,
    ) -> PredictResponse:
        endpoint = self.describe(name)
        if deployed_model_id is not None and not self.targets_deployed_models:
            raise NotApplicable("this backend routes by the traffic split only")
        target = deployed_model_id or (endpoint.serving().id if endpoint.serving() else None)
        if target is None:
            raise EndpointError(f"{name} takes no traffic")
        self.operations.append(("predict", name, target))
        release = self.releases[target]
        models = titles_of(release)
        fault = self.faults.get(release.release_id)
        answers = [corrupt(forecast(models[i["isbn"]], i["horizon"]), fault) for i in instances]
        return PredictResponse(answers, target)


def titles_of(release: Any) -> dict[str, Any]:
    """The release's titles by ISBN: its models, or a catalogue table's rows."""
    if release.catalogue is None:
        return {m.isbn: m for m in release.models}
    rows = read_catalogue(release)
    families = rows.table.column("family")
    return {
        isbn: SimpleNamespace(isbn=isbn, name=rows.model_name, version=version, model_family=family)
        for isbn, version, family in zip(rows.table.keys, rows.versions, families, strict=True)
    }


def forecast(model: Any, horizon: int) -> dict[str, Any]:
    """A well-formed answer for one title, as the prediction server gives it."""
    weeks = []
    for step in range(horizon):
        mean = 100.0 + step
        weeks.append(
            {
                "week_ending": (FIRST_WEEK + timedelta(weeks=step)).isoformat(),
                "mean": mean,
                "lo_80": mean * 0.8,
                "hi_80": mean * 1.2,
                "lo_95": mean * 0.6,
                "hi_95": mean * 1.4,
            }
        )
    return {
        "isbn": model.isbn,
        "model_name": model.name,
        "model_version": str(model.version),
        "model_family": model.model_family,
        "weeks": weeks,
    }


def corrupt(answer: dict[str, Any], fault: str | None) -> dict[str, Any]:
    """`answer` with one fault in its third week: negative, nan, undated, not-saturday,
    disordered, gap; or `error` (an error object), `stale` (another model version)."""
    if fault is None:
        return answer
    if fault == "error":
        return {"error": {"field": "isbn", "reason": "unknown title"}}
    if fault == "stale":
        return {**answer, "model_version": "0"}
    week = answer["weeks"][2]
    if fault == "negative":
        week.update(lo_95=-1.0)
    elif fault == "nan":
        week.update(mean=math.nan)
    elif fault == "undated":
        del week["week_ending"]
    elif fault == "not-saturday":
        week.update(week_ending=(FIRST_WEEK + timedelta(weeks=2, days=1)).isoformat())
    elif fault == "gap":
        for later in answer["weeks"][2:]:
            ending = date.fromisoformat(later["week_ending"]) + timedelta(weeks=1)
            later.update(week_ending=ending.isoformat())
    elif fault == "disordered":
        week.update(lo_80=week["mean"] + 1)
    else:
        raise ValueError(fault)
    return answer
