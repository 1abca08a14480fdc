"""A deploy is a guarded rollout, the same on every backend.

Start the release as a new deployed model -> wait for health -> smoke-test it (a forecast
for every title) -> shift traffic (all of it, or a canary share) -> undeploy the older
deployed models, except the one that served before (kept for `rollback`). A failed check
stops the rollout with `DeploymentFailed` and leaves the traffic split as it was.

A backend whose `predict` cannot aim at one deployed model (Vertex AI) would have to give
an untested model traffic to test it; there the smoke test runs on a staging endpoint
(`<name>-staging`) first, and the release reaches the real endpoint only after passing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from shelfcast.endpoints.base import (
    FAILED,
    HEALTHY,
    PLANNED,
    SETTLED_STATES,
    DeployedModel,
    DeploymentFailed,
    Endpoint,
    EndpointBackend,
    EndpointError,
)

if TYPE_CHECKING:
    from shelfcast.releases import Release

Progress = Callable[[str], None]
# The smoke test's own probe: every title forecast this far, with these intervals, checked in
# the order of BOUNDS. A check, not a default of forecasts (those are the settings' `serving`).
SMOKE_HORIZON = 32
SMOKE_LEVELS = (80, 95)
SMOKE_BATCH = 100  # instances per request: about 0.4 MB of 32-week answers
STAGING_SUFFIX = "-staging"
BOUNDS = ("lo_95", "lo_80", "mean", "hi_80", "hi_95")  # must be in this order
SATURDAY = 5


def _quiet(message: str) -> None:
    """The default progress callback: say nothing."""


@dataclass(frozen=True)
class RolloutResult:
    """What a deploy did. `action`: deployed, canary, unchanged or planned (a dry run)."""

    action: str
    endpoint: Endpoint
    deployed_model: DeployedModel | None
    previous: DeployedModel | None = None
    undeployed: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()  # one line per passed check
    seconds: float = 0.0


@dataclass
class _Clock:
    started: float = field(default_factory=time.perf_counter)

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 2)


def deploy_release(
    backend: EndpointBackend,
    endpoint_name: str,
    release: Release,
    canary: int | None = None,
    progress: Progress = _quiet,
    health_timeout: float = 120.0,
) -> RolloutResult:
    """Roll `release` out to `endpoint_name`: all traffic, or `canary` percent of it."""
    if canary is not None and not 1 <= canary <= 99:
        raise EndpointError(f"--canary takes a percentage from 1 to 99, got {canary}")
    clock = _Clock()
    progress(f"Endpoint {endpoint_name} ({backend.kind})")
    endpoint = backend.get_or_create(endpoint_name)
    current = endpoint.serving()
    if (
        current is not None
        and current.release_id == release.release_id
        and endpoint.traffic.get(current.id) == 100
    ):
        progress(f"Release {release.release_id} already takes all traffic: nothing to do")
        return RolloutResult("unchanged", endpoint, current, seconds=clock.seconds())

    checks: list[str] = []
    if not backend.targets_deployed_models:
        checks += _staged_smoke_test(backend, endpoint_name, release, progress, health_timeout)
    progress(f"Starting release {release.release_id} on {endpoint_name}")
    new = backend.deploy(endpoint_name, release)
    try:
        checks.append(wait_healthy(backend, endpoint_name, new.id, health_timeout, progress))
        if backend.targets_deployed_models:
            progress(f"Smoke test: {len(release.smoke_titles)} title(s)")
            checks.append(smoke_test(backend, endpoint_name, release, new.id))
    except DeploymentFailed:
        _discard(backend, endpoint_name, new.id, progress)
        raise

    split, note = _new_split(new, current, canary)
    progress(f"Traffic: {_describe_split(split)}")
    endpoint = backend.set_traffic(endpoint_name, split, note=note)
    undeployed = _clean_up(backend, endpoint, keep={new.id} | ({current.id} if current else set()))
    if undeployed:
        progress(f"Undeployed {', '.join(undeployed)}")
        endpoint = backend.describe(endpoint_name)
    action = "planned" if backend.dry_run else "canary" if len(split) > 1 else "deployed"
    return RolloutResult(
        action,
        endpoint,
        endpoint.deployed_model(new.id),
        previous=current,
        undeployed=tuple(undeployed),
        checks=tuple(checks),
        seconds=clock.seconds(),
    )


def promote(backend: EndpointBackend, endpoint_name: str) -> RolloutResult:
    """Give a canary all traffic; the model it shared traffic with is kept for rollback."""
    clock = _Clock()
    endpoint = backend.describe(endpoint_name)
    taking = _taking_traffic(endpoint)
    if len(taking) < 2:
        raise EndpointError(f"endpoint {endpoint_name!r} has no canary to promote")
    canary = taking[-1]
    previous = max(taking[:-1], key=lambda m: endpoint.traffic[m.id])
    _require_healthy(backend, endpoint_name, canary)
    endpoint = backend.set_traffic(endpoint_name, {canary.id: 100}, note="promote canary")
    undeployed = _clean_up(backend, endpoint, keep={canary.id, previous.id})
    if undeployed:
        endpoint = backend.describe(endpoint_name)
    return RolloutResult(
        "promoted",
        endpoint,
        endpoint.deployed_model(canary.id),
        previous=previous,
        undeployed=tuple(undeployed),
        seconds=clock.seconds(),
    )


def rollback(backend: EndpointBackend, endpoint_name: str) -> RolloutResult:
    """All traffic back on the deployed model that served before the current one.

    During a canary that is the model the canary shares traffic with; otherwise the newest
    deployed model older than the one serving. It must be healthy, or nothing changes.
    """
    clock = _Clock()
    endpoint = backend.describe(endpoint_name)
    taking = _taking_traffic(endpoint)
    if not taking:
        raise EndpointError(f"endpoint {endpoint_name!r} serves nothing to roll back")
    if len(taking) > 1:
        current = taking[-1]
        target = max(taking[:-1], key=lambda m: endpoint.traffic[m.id])
    else:
        current = taking[0]
        older = [m for m in endpoint.deployed_models if m.created < current.created]
        if not older:
            raise EndpointError(
                f"endpoint {endpoint_name!r} has no deployed model older than "
                f"{current.id} (release {current.release_id}) to roll back to"
            )
        target = max(older, key=lambda m: m.created)
    _require_healthy(backend, endpoint_name, target)
    endpoint = backend.set_traffic(
        endpoint_name, {target.id: 100}, note=f"rollback from {current.id}"
    )
    return RolloutResult(
        "rolled back",
        endpoint,
        endpoint.deployed_model(target.id),
        previous=current,
        seconds=clock.seconds(),
    )


def wait_healthy(
    backend: EndpointBackend,
    endpoint_name: str,
    deployed_model_id: str,
    timeout: float,
    progress: Progress = _quiet,
    interval: float = 0.2,
) -> str:
    """Poll until the deployed model is healthy; `DeploymentFailed('health', ...)` if not."""
    progress(f"Waiting for {deployed_model_id} to be healthy")
    deadline = time.monotonic() + timeout
    while True:
        model = backend.health(endpoint_name, deployed_model_id)
        if model.state in SETTLED_STATES or time.monotonic() >= deadline:
            break
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 1.5, 2.0)
    if model.state in (HEALTHY, PLANNED):
        return f"health: {deployed_model_id} {model.state}"
    reason = model.detail.get("reason")
    waited = "" if model.state == FAILED else f" after {timeout:g} s"
    raise DeploymentFailed(
        "health",
        f"deployed model {deployed_model_id} is {model.state}{waited}"
        + (f": {reason}" if reason else ""),
    )


def smoke_instances(release: Release, horizon: int | None = None) -> list[dict[str, Any]]:
    """One forecast request per title of `release` (of a catalogue release, its sample)."""
    weeks = horizon or SMOKE_HORIZON
    level = list(SMOKE_LEVELS)
    return [{"isbn": m.isbn, "horizon": weeks, "level": level} for m in release.smoke_titles]


def smoke_test(
    backend: EndpointBackend,
    endpoint_name: str,
    release: Release,
    deployed_model_id: str | None = None,
    horizon: int | None = None,
    also: Sequence[Release] = (),
) -> str:
    """Forecast every title of `release` and check each answer; `DeploymentFailed('smoke')`.

    Each title must come back from the release's model version (or that of a release in
    `also`, when the endpoint splits traffic), with `horizon` consecutive Saturdays and
    finite, non-negative bounds ordered lo_95 <= lo_80 <= mean <= hi_80 <= hi_95.
    """
    horizon = horizon or SMOKE_HORIZON
    instances = smoke_instances(release, horizon)
    expected: dict[str, list[Any]] = {}
    for model in (m for r in (release, *also) for m in r.smoke_titles):
        expected.setdefault(model.isbn, []).append(model)
    problems: list[str] = []
    for start in range(0, len(instances), SMOKE_BATCH):
        batch = instances[start : start + SMOKE_BATCH]
        try:
            answer = backend.predict(endpoint_name, batch, deployed_model_id)
        except EndpointError as exc:
            raise DeploymentFailed("smoke", f"prediction request failed: {exc}") from None
        if backend.dry_run:
            continue
        if len(answer.predictions) != len(batch):
            raise DeploymentFailed(
                "smoke",
                f"asked for {len(batch)} forecasts, got {len(answer.predictions)}",
            )
        for instance, prediction in zip(batch, answer.predictions, strict=True):
            problem = check_prediction(prediction, expected[instance["isbn"]], horizon)
            if problem:
                problems.append(f"{instance['isbn']}: {problem}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DeploymentFailed(
            "smoke",
            f"{len(problems)} of {len(instances)} title(s) failed: "
            + "; ".join(problems[:3])
            + more,
        )
    verb = "planned" if backend.dry_run else "passed"
    return f"smoke: {len(instances)} title(s) x {horizon} weeks {verb}"


def check_prediction(
    prediction: Mapping[str, Any], models: Sequence[Any], horizon: int
) -> str | None:
    """What is wrong with one title's answer, or None. `models`: the release entries that
    may answer (the first is the one expected)."""
    if not isinstance(prediction, Mapping):
        return f"answer is not an object: {prediction!r:.80}"
    if "error" in prediction:
        return f"error {prediction['error']}"
    served = (prediction.get("model_name"), str(prediction.get("model_version")))
    if served not in {(m.name, str(m.version)) for m in models}:
        model = models[0]
        return f"served by {served[0]} v{served[1]}, expected {model.name} v{model.version}"
    weeks = prediction.get("weeks")
    if not isinstance(weeks, Sequence) or len(weeks) != horizon:
        count = len(weeks) if isinstance(weeks, Sequence) else 0
        return f"{count} week(s) of forecast, expected {horizon}"
    previous: date | None = None
    for number, week in enumerate(weeks, start=1):
        problem = _check_week(week, previous)
        if problem:
            return f"week {number}: {problem}"
        previous = date.fromisoformat(week["week_ending"])
    return None


def _check_week(week: Any, previous: date | None) -> str | None:
    if not isinstance(week, Mapping):
        return "not an object"
    try:
        ending = date.fromisoformat(str(week.get("week_ending")))
    except ValueError:
        return f"week_ending {week.get('week_ending')!r} is not a date"
    if ending.weekday() != SATURDAY:
        return f"week_ending {ending} is not a Saturday"
    if previous is not None and ending != previous + timedelta(days=7):
        return f"week_ending {ending} does not follow {previous}"
    values = [week.get(name) for name in BOUNDS]
    for name, value in zip(BOUNDS, values, strict=True):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name} is {value!r}, not a number"
        if not math.isfinite(value):
            return f"{name} is {value}"
        if value < 0:
            return f"{name} is negative ({value})"
    for (low_name, low), (high_name, high) in pairwise(zip(BOUNDS, values, strict=True)):
        if low > high + 1e-9 * max(1.0, abs(high)):
            return f"{ending}: {low_name} {low} > {high_name} {high}"
    return None


def _staged_smoke_test(
    backend: EndpointBackend,
    endpoint_name: str,
    release: Release,
    progress: Progress,
    health_timeout: float,
) -> list[str]:
    """Deploy on `<name>-staging` alone, smoke-test, undeploy whatever the outcome."""
    staging = endpoint_name + STAGING_SUFFIX
    progress(f"Starting release {release.release_id} on {staging} for the smoke test")
    backend.get_or_create(staging)
    model = backend.deploy(staging, release)
    try:
        checks = [wait_healthy(backend, staging, model.id, health_timeout, progress)]
        if backend.describe(staging).traffic.get(model.id) != 100:
            backend.set_traffic(staging, {model.id: 100}, note="smoke test")
        progress(f"Smoke test on {staging}: {len(release.smoke_titles)} title(s)")
        checks.append(smoke_test(backend, staging, release))
    finally:
        _discard(backend, staging, model.id, progress)
    return [f"{check} (on {staging})" for check in checks]


def _discard(
    backend: EndpointBackend, endpoint_name: str, deployed_model_id: str, progress: Progress
) -> None:
    """Undeploy a model that failed (or finished) its checks. It holds traffic only when the
    endpoint had none before (the backend gave it all), so the endpoint is left as it was."""
    progress(f"Undeploying {deployed_model_id} from {endpoint_name}")
    backend.undeploy(endpoint_name, deployed_model_id)


def _new_split(
    new: DeployedModel, current: DeployedModel | None, canary: int | None
) -> tuple[dict[str, int], str]:
    if canary is None or current is None:
        return {new.id: 100}, f"deploy {new.release_id}"
    return (
        {new.id: canary, current.id: 100 - canary},
        f"canary {canary}% for {new.release_id}",
    )


def _clean_up(backend: EndpointBackend, endpoint: Endpoint, keep: set[str]) -> list[str]:
    """Undeploy every deployed model outside `keep` that takes no traffic."""
    gone = [
        m.id
        for m in endpoint.deployed_models
        if m.id not in keep and not endpoint.traffic.get(m.id)
    ]
    for deployed_model_id in gone:
        backend.undeploy(endpoint.name, deployed_model_id)
    return gone


def _taking_traffic(endpoint: Endpoint) -> list[DeployedModel]:
    """Deployed models with a share of traffic, oldest first."""
    return sorted(
        (m for m in endpoint.deployed_models if endpoint.traffic.get(m.id, 0) > 0),
        key=lambda m: m.created,
    )


def _require_healthy(backend: EndpointBackend, endpoint_name: str, model: DeployedModel) -> None:
    state = backend.health(endpoint_name, model.id).state
    if state not in (HEALTHY, PLANNED):
        raise DeploymentFailed(
            "health", f"deployed model {model.id} (release {model.release_id}) is {state}"
        )


def _describe_split(split: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}%" for k, v in split.items())
