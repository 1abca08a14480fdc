"""The endpoint interface every backend implements, and its typed errors.

It mirrors Vertex AI's model: an endpoint has a stable address and holds deployed models
(each one a release being served) and a traffic split, deployed-model id -> percent, that
sums to 100 (or is empty when nothing takes traffic). Backends do single operations; the
guarded sequence of a deploy (health, smoke test, traffic, clean-up) lives in `rollout`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from shelfcast.errors import ShelfcastError

if TYPE_CHECKING:
    from shelfcast.releases import Release
    from shelfcast.settings import Settings

# States of a deployed model. Only `healthy` models may take traffic; `failed` and `stopped`
# do not become healthy by waiting; `planned` exists only in a dry run.
STARTING, HEALTHY, UNHEALTHY, FAILED, STOPPED, PLANNED = (
    "starting",
    "healthy",
    "unhealthy",
    "failed",
    "stopped",
    "planned",
)
SETTLED_STATES = frozenset({HEALTHY, FAILED, STOPPED, PLANNED})


class EndpointError(ShelfcastError):
    """An endpoint operation could not be done."""


class EndpointNotFound(EndpointError):
    def __init__(self, name: str, backend: str):
        self.name, self.backend = name, backend
        super().__init__(f"no {backend} endpoint named {name!r}")


class DeployedModelNotFound(EndpointError):
    def __init__(self, endpoint: str, deployed_model_id: str):
        self.endpoint, self.deployed_model_id = endpoint, deployed_model_id
        super().__init__(f"endpoint {endpoint!r} has no deployed model {deployed_model_id!r}")


class TrafficSplitError(EndpointError):
    """A traffic split names unknown deployed models or does not sum to 100."""


class NotApplicable(EndpointError):
    """The operation has no meaning for this backend (for example stopping a Vertex endpoint)."""


class PredictionFailed(EndpointError):
    """The endpoint did not answer a prediction request (transport or HTTP error)."""


class DeploymentFailed(EndpointError):
    """A rollout check failed; traffic was left where it was. `check` names the check."""

    def __init__(self, check: str, reason: str):
        self.check, self.reason = check, reason
        super().__init__(f"deploy failed at the {check} check: {reason}")


@dataclass(frozen=True)
class DeployedModel:
    """One release served by an endpoint. `created` is an ISO 8601 UTC time."""

    id: str
    release_id: str
    release_uri: str
    created: str
    state: str = STARTING
    url: str | None = None  # where it answers on its own, when the backend has such a URL
    detail: Mapping[str, Any] = field(default_factory=dict)  # backend-specific facts


@dataclass(frozen=True)
class TrafficChange:
    """One entry of an endpoint's history: the split after a change, and why."""

    time: str
    traffic: Mapping[str, int]
    note: str = ""


@dataclass(frozen=True)
class Endpoint:
    name: str
    backend: str
    url: str | None
    deployed_models: tuple[DeployedModel, ...] = ()
    traffic: Mapping[str, int] = field(default_factory=dict)
    history: tuple[TrafficChange, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)

    def deployed_model(self, deployed_model_id: str) -> DeployedModel:
        for model in self.deployed_models:
            if model.id == deployed_model_id:
                return model
        raise DeployedModelNotFound(self.name, deployed_model_id)

    def serving(self) -> DeployedModel | None:
        """The deployed model with the largest share of traffic (the older one on a tie)."""
        taking = [m for m in self.deployed_models if self.traffic.get(m.id, 0) > 0]
        if not taking:
            return None
        return max(
            sorted(taking, key=lambda m: m.created),
            key=lambda m: self.traffic[m.id],
        )


@dataclass(frozen=True)
class PredictResponse:
    predictions: list[dict[str, Any]]
    deployed_model_id: str | None = None  # which deployed model answered, when known


def check_split(endpoint: Endpoint, split: Mapping[str, int]) -> dict[str, int]:
    """`split` without zero entries, checked against `endpoint`'s deployed models."""
    known = {m.id for m in endpoint.deployed_models}
    unknown = sorted(set(split) - known)
    if unknown:
        raise TrafficSplitError(
            f"traffic split for {endpoint.name!r} names unknown deployed model(s) "
            f"{', '.join(unknown)}"
        )
    if any(not isinstance(v, int) or v < 0 for v in split.values()):
        raise TrafficSplitError(f"traffic percentages must be whole and >= 0, got {dict(split)}")
    if split and sum(split.values()) != 100:
        raise TrafficSplitError(f"traffic split must sum to 100, got {dict(split)}")
    return {k: v for k, v in split.items() if v > 0}


class EndpointBackend(ABC):
    """Where endpoints live. Methods do one operation each and return fresh state."""

    kind: ClassVar[str]
    # Whether `predict` can aim at one deployed model regardless of the traffic split.
    targets_deployed_models: ClassVar[bool] = True
    # A dry run records what it would do; reads return what is known without calling out.
    dry_run: bool = False

    @abstractmethod
    def get_or_create(self, name: str) -> Endpoint:
        """The endpoint `name`, created (empty) when it does not exist."""

    @abstractmethod
    def list_endpoints(self) -> list[Endpoint]: ...

    @abstractmethod
    def describe(self, name: str) -> Endpoint:
        """The endpoint's current state; `EndpointNotFound` when there is none."""

    @abstractmethod
    def deploy(self, name: str, release: Release) -> DeployedModel:
        """Start `release` as a new deployed model of endpoint `name`.

        The new model takes no traffic, except on an endpoint that has none: there a backend
        may give it all (Vertex AI does). Returns once started; it may not be healthy yet.
        """

    @abstractmethod
    def health(self, name: str, deployed_model_id: str) -> DeployedModel:
        """The deployed model with its state checked now. A model kept without traffic must
        report `healthy` while it can take traffic back: `rollback` checks this first."""

    @abstractmethod
    def set_traffic(self, name: str, split: Mapping[str, int], note: str = "") -> Endpoint:
        """Replace the traffic split (validate it with `check_split`); `note` goes to history."""

    @abstractmethod
    def undeploy(self, name: str, deployed_model_id: str) -> None:
        """Stop and remove a deployed model. It must take no traffic, unless no other model
        takes any (then the endpoint is left without traffic, as before that deploy)."""

    @abstractmethod
    def predict(
        self,
        name: str,
        instances: Sequence[Mapping[str, Any]],
        deployed_model_id: str | None = None,
    ) -> PredictResponse:
        """Ask the endpoint; aimed at one deployed model only if `targets_deployed_models`."""

    def start(self, name: str) -> Endpoint:
        """Bring a stopped endpoint back (its deployed models and split as they were)."""
        raise NotApplicable(f"the {self.kind} backend has no stopped endpoints to start")

    def stop(self, name: str) -> Endpoint:
        """Stop serving without forgetting what was deployed."""
        raise NotApplicable(f"the {self.kind} backend cannot stop an endpoint")


def backend_for(
    settings: Settings, name: str | None = None, *, dry_run: bool = False
) -> EndpointBackend:
    """The backend `name` (default `settings.endpoints.backend`), built from `settings`."""
    kind = name or settings.endpoints.backend
    if kind == "local":
        if dry_run:
            raise NotApplicable("--dry-run plans Vertex AI calls; use it with --backend vertex")
        from shelfcast.endpoints.local import LocalBackend

        return LocalBackend(settings)
    if kind == "vertex":
        from shelfcast.endpoints.vertex import VertexBackend

        return VertexBackend(settings, dry_run=dry_run)
    raise EndpointError(f"unknown endpoint backend {kind!r}; choose local or vertex")
