"""Deploy: releases -> endpoints as guarded rollouts; canary promotion, rollback, smoke
tests, the seed's per-title layout, and asking an endpoint for a forecast.

Each deploy is `shelfcast.endpoints.rollout.deploy_release` on the settings' backend (local
processes or Vertex AI): start, health, smoke test, then traffic; a failed check leaves the
traffic where it was. A dry run (Vertex AI only) records every call it would make and
returns them as the plan, calling nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shelfcast.errors import ShelfcastError
from shelfcast.lifecycle.progress import Progress, step
from shelfcast.settings import Settings

if TYPE_CHECKING:
    from shelfcast.endpoints.base import Endpoint, EndpointBackend
    from shelfcast.endpoints.rollout import RolloutResult
    from shelfcast.releases import Release


@dataclass(frozen=True)
class DryRunPlan:
    """The Vertex AI calls a dry run would make, numbered, and what it takes for granted."""

    project: str
    region: str
    calls: str  # one numbered line per call
    assumptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeployResult:
    """A rollout of `release`, and (dry run) its plan."""

    release: Release
    rollout: RolloutResult
    plan: DryRunPlan | None = None


@dataclass(frozen=True)
class TitleDeploy:
    """One title of a per-title deploy: its endpoint, and the rollout or why it failed."""

    model_name: str
    endpoint: str
    result: DeployResult | None = None
    error: str | None = None

    @property
    def outcome(self) -> str:
        return self.result.rollout.action if self.result else f"failed: {self.error}"


@dataclass(frozen=True)
class PerTitleResult:
    release: Release
    titles: tuple[TitleDeploy, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[TitleDeploy, ...]:
        return tuple(t for t in self.titles if t.result is None)


@dataclass(frozen=True)
class Answer:
    """One title's forecast as an endpoint or server answered it."""

    prediction: Mapping[str, Any]
    answered_by: str


def backend(settings: Settings, *, dry_run: bool = False) -> EndpointBackend:
    """The settings' endpoint backend (`--dry-run`: Vertex AI only)."""
    from shelfcast.endpoints import backends

    return backends.backend_for(settings, dry_run=dry_run)


def find_release(settings: Settings, release: str | None = None) -> Release:
    """The release named by id or URI, else the newest in the settings' artifact store."""
    from shelfcast.endpoints.base import EndpointError
    from shelfcast.releases import list_releases, open_release

    if release:
        return open_release(settings.artifact_root, release)
    releases = list_releases(settings.artifact_root)
    if not releases:
        raise EndpointError(
            f"no release in {settings.artifact_root}: run `shelfcast package` first"
        )
    return releases[0]


def deploy_release(
    settings: Settings,
    release: Release,
    endpoint: str | None = None,
    *,
    canary: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> DeployResult:
    """Roll `release` out to `endpoint` (default: the settings') on the settings' backend:
    all traffic, or `canary` percent of it. `dry_run`: plan the Vertex AI calls only."""
    from shelfcast.endpoints import rollout

    name = endpoint or settings.endpoints.name
    chosen = backend(settings, dry_run=dry_run)
    verb = "Planning" if dry_run else "Deploying"
    step(progress, "deploy", f"{verb} release {release.release_id} to {name} ({chosen.kind})")

    def say(message: str) -> None:
        step(progress, "deploy", message)

    done = rollout.deploy_release(chosen, name, release, canary=canary, progress=say)
    return DeployResult(release, done, plan_of(chosen) if dry_run else None)


def plan_of(chosen: EndpointBackend) -> DryRunPlan:
    """The calls a dry-run backend recorded."""
    from shelfcast.endpoints.vertex import VertexBackend, render_plan

    assert isinstance(chosen, VertexBackend)  # only it plans: backend_for refuses the rest
    return DryRunPlan(
        project=str(chosen.project),
        region=str(chosen.region),
        calls=render_plan(chosen.calls),
        assumptions=tuple(chosen.assumptions),
    )


def deploy_per_title(
    settings: Settings,
    release: Release,
    names: Sequence[str] = (),
    *,
    endpoint: str | None = None,
    canary: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PerTitleResult:
    """The seed's layout: each title (or each of `names`) on its own `<endpoint>-<ISBN>`,
    serving a one-title release. Every title is tried; the failures are in the result."""
    from shelfcast.endpoints.per_title import one_title_release, title_endpoint

    base_name = endpoint or settings.endpoints.name
    settings = settings.replace(endpoints={"name": base_name})
    if release.catalogue is not None:
        raise ShelfcastError(
            f"release {release.release_id} is a catalogue release: it is served by one "
            "endpoint (`shelfcast deploy`), not one endpoint per title"
        )
    models = [release.model(n) for n in names] if names else list(release.models)
    outcomes: list[TitleDeploy] = []
    for model in models:
        name = title_endpoint(base_name, model.isbn)
        try:
            one = one_title_release(
                release, model.name, publish_missing=not dry_run, project=settings.gcp.project
            )
            result = deploy_release(
                settings, one, name, canary=canary, dry_run=dry_run, progress=progress
            )
        except ShelfcastError as exc:
            step(progress, "deploy", f"{name} failed: {exc}")
            outcomes.append(TitleDeploy(model.name, name, error=str(exc)))
        else:
            outcomes.append(TitleDeploy(model.name, name, result))
    return PerTitleResult(release, tuple(outcomes))


def promote_canary(settings: Settings, name: str) -> RolloutResult:
    """Give the canary of endpoint `name` all traffic; the model it shared traffic with
    stays for rollback."""
    from shelfcast.endpoints.rollout import promote

    return promote(backend(settings), name)


def rollback_endpoint(settings: Settings, name: str) -> RolloutResult:
    """All traffic of endpoint `name` back on the deployed model that served before."""
    from shelfcast.endpoints.rollout import rollback

    return rollback(backend(settings), name)


def check_endpoint(
    settings: Settings,
    name: str,
    deployed_model: str | None = None,
    horizon: int | None = None,
    progress: Progress | None = None,
) -> tuple[str, ...]:
    """Smoke-test what endpoint `name` serves: each deployed model taking traffic, aimed at
    it where the backend can; otherwise through the endpoint, against every release it
    serves. `horizon`: weeks each title is forecast (default: the smoke test's). One line
    per passed check; `EndpointError` naming the failed check."""
    from shelfcast.endpoints.base import DeploymentFailed, EndpointError, NotApplicable
    from shelfcast.endpoints.rollout import smoke_test
    from shelfcast.releases import read_release

    chosen = backend(settings)
    step(progress, "test", f"Testing endpoint {name} ({chosen.kind})")
    state = chosen.describe(name)
    if deployed_model and not chosen.targets_deployed_models:
        raise NotApplicable(f"the {chosen.kind} backend cannot aim at one deployed model")
    if deployed_model:
        targets = [state.deployed_model(deployed_model)]
    else:
        targets = [m for m in state.deployed_models if state.traffic.get(m.id)]
    if not targets:
        raise EndpointError(f"endpoint {name!r} serves nothing to test")
    releases = {m.id: read_release(m.release_uri) for m in targets}
    try:
        if chosen.targets_deployed_models:
            lines = []
            for m in targets:
                titles = len(releases[m.id].smoke_titles)
                step(progress, "test", f"Smoke test of {m.id}: {titles} title(s)")
                lines.append(f"{m.id}: " + smoke_test(chosen, name, releases[m.id], m.id, horizon))
            return tuple(lines)
        serving = state.serving()
        assert serving is not None
        others = [r for k, r in releases.items() if k != serving.id]
        titles = len(releases[serving.id].smoke_titles)
        step(progress, "test", f"Smoke test of {name}: {titles} title(s)")
        return (smoke_test(chosen, name, releases[serving.id], None, horizon, also=others),)
    except DeploymentFailed as exc:
        raise EndpointError(f"{name} failed the {exc.check} check: {exc.reason}") from None


def list_endpoints(settings: Settings) -> list[Endpoint]:
    """Every endpoint of the settings' backend, with what it serves and its health."""
    return backend(settings).list_endpoints()


def describe_endpoint(settings: Settings, name: str) -> Endpoint:
    return backend(settings).describe(name)


def start_endpoint(settings: Settings, name: str) -> Endpoint:
    """Bring a stopped endpoint back, with its deployed models and traffic split."""
    return backend(settings).start(name)


def stop_endpoint(settings: Settings, name: str) -> Endpoint:
    """Stop an endpoint's servers; it keeps what it serves, for `start_endpoint`."""
    return backend(settings).stop(name)


def ask(
    settings: Settings,
    instance: Mapping[str, Any],
    *,
    endpoint: str | None = None,
    url: str | None = None,
    token: str | None = None,
) -> Answer:
    """One instance's forecast from a server at `url`, else from the endpoint (default:
    the settings'). `ShelfcastError` when the answer is an error."""
    if url:
        from shelfcast.serving.client import predict, predict_url

        answer = predict(url, [dict(instance)], token=token or settings.serving.server_token)
        prediction, source = answer["predictions"][0], predict_url(url)
    else:
        name = endpoint or settings.endpoints.name
        prediction = backend(settings).predict(name, [dict(instance)]).predictions[0]
        source = f"endpoint {name} ({settings.endpoints.backend})"
    if "error" in prediction:
        error = prediction["error"]
        raise ShelfcastError(f"{error['field']}: {error['reason']}")
    return Answer(prediction, source)
