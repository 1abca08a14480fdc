"""The Vertex AI endpoint backend (google-cloud-aiplatform).

A release becomes a version of a Vertex AI Model (the serving image, our routes, the release
folder as `artifact_uri`; `parent_model` for later versions, a version alias per release)
and is deployed to an Endpoint with the configured machine type, replicas, autoscaling
target and service account. Endpoints log a sample of requests and responses to BigQuery.

Every SDK call goes through `_call`, which records it in `calls` and, unless this is a dry
run, makes it: `--dry-run` and a real deploy run the same code. A dry run calls nothing, so
it cannot see what exists; it plans as for a project where nothing does (the endpoint and
the model are created, the first deployed model takes all traffic) and `assumptions` says
what changes when they exist.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shelfcast.endpoints.base import (
    HEALTHY,
    PLANNED,
    UNHEALTHY,
    DeployedModel,
    DeploymentFailed,
    Endpoint,
    EndpointBackend,
    EndpointError,
    EndpointNotFound,
    NotApplicable,
    PredictionFailed,
    PredictResponse,
    TrafficSplitError,
    check_split,
)

if TYPE_CHECKING:
    from shelfcast.releases import Release
    from shelfcast.settings import Settings

SERVING_PORT = 8080
HEALTH_ROUTE = "/health"
PREDICT_ROUTE = "/predict"
LOG_DATASET = "shelfcast_logs"  # BigQuery dataset of the request-response log
CATALOGUE_MODEL_ID = "shelfcast-catalogue"
SERVING_ALIAS = "champion"  # follows the model version that takes all traffic, as in MLflow
MANAGED_LABEL = "managed_by"
RELEASE_LABEL = "shelfcast_release"


def _sdk() -> Any:
    """`google.cloud.aiplatform`, imported on first use (it takes seconds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # Python-version notices on import
        return importlib.import_module("google.cloud.aiplatform")


def _api_errors() -> Any:
    return importlib.import_module("google.api_core.exceptions")


def _auth_errors() -> Any:
    return importlib.import_module("google.auth.exceptions")


class Planned:
    """The result of a call in a dry run: a name to show, never a value."""

    def __init__(self, label: str):
        self.label = label

    def __getattr__(self, name: str) -> Planned:
        return Planned(f"{self.label}.{name}")

    def __repr__(self) -> str:
        return f"<{self.label}>"


@dataclass(frozen=True)
class Call:
    """One SDK call: `function` is `aiplatform.X.y`, or `Label.method` on an SDK object."""

    function: str
    kwargs: Mapping[str, Any]
    note: str = ""

    def render(self) -> str:
        arguments = ", ".join(f"{k}={_show(v)}" for k, v in self.kwargs.items())
        return f"{self.function}({arguments})" + (f"  # {self.note}" if self.note else "")


def _show(value: Any) -> str:
    """A plan's view of an argument: lists of more than three items are shortened."""
    if isinstance(value, list | tuple) and len(value) > 3:
        head = ", ".join(_show(v) for v in value[:2])
        return f"[{head}, ... {len(value)} items]"
    if isinstance(value, Planned | str | int | float | bool | type(None)):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(getattr(value, "resource_name", value))


def model_id_for(release: Release) -> str:
    """The Vertex AI model whose versions this release's kind of deployment accumulates:
    the registered model's name for a one-title release (the seed's per-title layout), one
    model for catalogue releases."""
    if len(release.models) == 1:
        return _id(release.models[0].name)
    return CATALOGUE_MODEL_ID


def release_alias(release_id: str) -> str:
    """A version alias naming the release: `[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]`."""
    body = re.sub(r"[^a-z0-9-]+", "-", release_id.lower()).strip("-")
    return f"release-{body}"[:128].rstrip("-")


def label_value(text: str) -> str:
    """A label value: lower-case letters, digits, `_` and `-`, at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower())[:63]


def _id(text: str) -> str:
    """A Vertex AI model ID: `[a-z0-9_-]`, starting with a letter, at most 63 characters."""
    body = re.sub(r"[^a-z0-9_-]+", "-", text.lower())
    return (body if body[:1].isalpha() else f"m-{body}")[:63]


def _iso(timestamp: Any) -> str:
    if hasattr(timestamp, "isoformat"):
        return timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(timestamp)


class VertexCallFailed(EndpointError):
    """Vertex AI (or Google's authentication) refused a call."""

    def __init__(self, function: str, error: Exception):
        self.not_found = isinstance(error, _api_errors().NotFound)
        super().__init__(f"Vertex AI: {function} failed: {error}")


class VertexBackend(EndpointBackend):
    """Endpoints, models and deployments in one GCP project and region."""

    kind = "vertex"
    # Vertex AI routes `predict` by the traffic split only; the rollout smoke-tests on a
    # staging endpoint instead.
    targets_deployed_models = False

    def __init__(self, settings: Settings, *, dry_run: bool = False):
        deployment = settings.endpoints
        if not settings.gcp.project:
            raise EndpointError("Vertex AI needs a GCP project: set GCP_PROJECT or --project-id")
        if deployment.vertex_max_replicas < deployment.vertex_min_replicas:
            raise EndpointError(
                f"endpoints.vertex_max_replicas ({deployment.vertex_max_replicas}) is below "
                f"endpoints.vertex_min_replicas ({deployment.vertex_min_replicas})"
            )
        self.settings = settings
        self.project, self.region = settings.gcp.project, settings.gcp.region
        self.dry_run = dry_run
        self.calls: list[Call] = []
        self._initialised = False
        self._endpoints: dict[str, Any] = {}  # display name -> SDK Endpoint
        self._release_uris: dict[str, str] = {}  # model@version -> the release it serves
        self._models: dict[str, Any] = {}  # release id -> its model version
        # A dry run's endpoints as planned so far, so the rollout reads back its own plan.
        self._planned: dict[str, Endpoint] = {}

    @property
    def assumptions(self) -> list[str]:
        """What a dry-run plan takes for granted, and what differs when resources exist."""
        return [
            "Nothing is called now; what exists is looked up when the plan runs.",
            "An existing endpoint is reused (no Endpoint.create).",
            "A release already uploaded is reused (no Model.upload); a model that exists "
            "gets a new version (parent_model instead of model_id).",
            "On an endpoint that already serves, the new model deploys with no traffic and "
            "then takes 100% (or the canary share, the rest staying on the model serving "
            "before); older deployed models except that one are undeployed.",
        ]

    # -- the SDK boundary ---------------------------------------------------------------

    def _call(self, function: str, /, *, on: Any = None, note: str = "", **kwargs: Any) -> Any:
        """Record `function(**kwargs)` and, unless a dry run, call it and return its result."""
        self.calls.append(Call(function, kwargs, note))
        if self.dry_run:
            return Planned(function)
        if on is not None:
            target = getattr(on, function.rsplit(".", 1)[1])
        else:
            target = _sdk()
            for part in function.split(".")[1:]:
                target = getattr(target, part)
        # ValueError: the SDK's own checks of arguments (labels, aliases, traffic).
        failures = (_api_errors().GoogleAPICallError, _auth_errors().GoogleAuthError, ValueError)
        try:
            return target(**kwargs)
        except failures as exc:
            raise VertexCallFailed(function, exc) from exc

    def _lookup(self, function: str, /, **kwargs: Any) -> Any | None:
        """A read that may find nothing: None when missing (and always in a dry run)."""
        try:
            result = self._call(function, note="looked up", **kwargs)
        except VertexCallFailed as exc:
            if exc.not_found:
                return None
            raise
        return None if self.dry_run else result

    def _init(self) -> None:
        if not self._initialised:
            self._call("aiplatform.init", project=self.project, location=self.region)
            self._initialised = True

    # -- endpoints ------------------------------------------------------------------------

    def _find(self, name: str) -> Any | None:
        self._init()
        if name in self._endpoints:
            return self._endpoints[name]
        if name in self._planned:
            return None
        found = self._lookup(
            "aiplatform.Endpoint.list", filter=f'display_name="{name}"', order_by="create_time"
        )
        if found:
            self._endpoints[name] = found[0]
            return found[0]
        return None

    def _require(self, name: str) -> Any:
        endpoint = self._find(name)
        if endpoint is None and not (self.dry_run and name in self._planned):
            raise EndpointNotFound(name, self.kind)
        return endpoint

    def get_or_create(self, name: str) -> Endpoint:
        if self._find(name) is None and name not in self._planned:
            rate = self.settings.serving.prediction_log_sample_rate
            created = self._call(
                "aiplatform.Endpoint.create",
                note="only if none was found",
                display_name=name,
                description="Shelfcast weekly book-sales forecasts",
                labels={MANAGED_LABEL: "shelfcast"},
                enable_request_response_logging=rate > 0,
                request_response_logging_sampling_rate=rate if rate > 0 else None,
                request_response_logging_bq_destination_table=(
                    f"bq://{self.project}.{LOG_DATASET}" if rate > 0 else None
                ),
            )
            if self.dry_run:
                self._planned[name] = Endpoint(name, self.kind, url=None)
            else:
                self._endpoints[name] = created
        return self.describe(name)

    def list_endpoints(self) -> list[Endpoint]:
        self._init()
        found = self._call(
            "aiplatform.Endpoint.list",
            filter=f'labels.{MANAGED_LABEL}="shelfcast"',
            order_by="display_name",
        )
        if self.dry_run:
            return list(self._planned.values())
        for endpoint in found:
            self._endpoints.setdefault(endpoint.display_name, endpoint)
        return [self._state(endpoint) for endpoint in found]

    def describe(self, name: str) -> Endpoint:
        endpoint = self._require(name)
        if self.dry_run:
            return self._planned[name]
        return self._state(endpoint)

    def _state(self, endpoint: Any) -> Endpoint:
        models = tuple(self._deployed(m) for m in endpoint.list_models())
        logging = endpoint.gca_resource.predict_request_response_logging_config
        return Endpoint(
            name=endpoint.display_name,
            backend=self.kind,
            url=f"https://{self.region}-aiplatform.googleapis.com/v1/"
            f"{endpoint.resource_name}:predict",
            deployed_models=tuple(sorted(models, key=lambda m: m.created)),
            traffic={k: int(v) for k, v in endpoint.traffic_split.items() if v},
            detail={
                "resource_name": endpoint.resource_name,
                "request_response_logging": (
                    f"{logging.sampling_rate:g} to {logging.bigquery_destination.output_uri}"
                    if logging.enabled
                    else "off"
                ),
            },
        )

    def _deployed(self, proto: Any) -> DeployedModel:
        """A deployed model from its proto; the release comes from the model version."""
        version = f"{proto.model}@{proto.model_version_id}"
        if version not in self._release_uris:
            model = self._call("aiplatform.Model", model_name=version)
            self._release_uris[version] = model.uri
        resources = proto.dedicated_resources
        state, reason = HEALTHY, None
        if "status" in proto and proto.status.available_replica_count < 1:
            state, reason = UNHEALTHY, proto.status.message or "no replica available"
        return DeployedModel(
            id=proto.id,
            release_id=proto.display_name,
            release_uri=self._release_uris[version],
            created=_iso(proto.create_time),
            state=state,
            detail={
                "model": version,
                "machine_type": resources.machine_spec.machine_type,
                "replicas": f"{resources.min_replica_count}-{resources.max_replica_count}",
                **({"reason": reason} if reason else {}),
            },
        )

    # -- models ---------------------------------------------------------------------------

    def _model_for(self, release: Release) -> Any:
        """The model version of `release`: found by its alias, or uploaded."""
        if release.release_id not in self._models:
            self._models[release.release_id] = self._find_or_upload(release)
        return self._models[release.release_id]

    def _find_or_upload(self, release: Release) -> Any:
        if not release.uri.startswith("gs://"):
            raise EndpointError(
                f"Vertex AI reads releases from Cloud Storage, and {release.uri} is not a gs:// "
                "URI: set SHELFCAST_ARTIFACT_URI=gs://BUCKET/PATH and package again"
            )
        if not self.settings.endpoints.serving_image_uri:
            raise EndpointError(
                "Vertex AI needs the serving image: set SHELFCAST_ENDPOINTS__SERVING_IMAGE_URI "
                "(an Artifact Registry image, see docs/cloud.md)"
            )
        model_id, alias = model_id_for(release), release_alias(release.release_id)
        existing = self._lookup("aiplatform.Model", model_name=model_id, version=alias)
        if existing is not None:
            return existing
        parent = self._lookup("aiplatform.Model", model_name=model_id)
        lineage = {"parent_model": model_id} if parent is not None else {"model_id": model_id}
        return self._call(
            "aiplatform.Model.upload",
            display_name=f"{model_id} {release.release_id}",
            artifact_uri=release.uri,
            serving_container_image_uri=self.settings.endpoints.serving_image_uri,
            serving_container_predict_route=PREDICT_ROUTE,
            serving_container_health_route=HEALTH_ROUTE,
            serving_container_ports=[SERVING_PORT],
            serving_container_environment_variables={
                "DEPLOYMENT_ENV": self.settings.environment,
                "SHELFCAST_ARTIFACT_URI": release.store,
            },
            **lineage,
            version_aliases=[alias],
            is_default_version=False,
            version_description=f"Shelfcast release {release.release_id}: "
            f"{release.titles:,} title(s)",
            labels={MANAGED_LABEL: "shelfcast", RELEASE_LABEL: label_value(release.release_id)},
            sync=True,
        )

    # -- deployments ----------------------------------------------------------------------

    def deploy(self, name: str, release: Release) -> DeployedModel:
        endpoint = self._require(name)
        model = self._model_for(release)
        before = set() if self.dry_run else {m.id for m in endpoint.list_models()}
        deployment = self.settings.endpoints
        try:
            self._call(
                f"Endpoint[{name}].deploy",
                on=endpoint,
                note="an endpoint without deployed models gives it 100%",
                model=model,
                deployed_model_display_name=release.release_id,
                traffic_percentage=0,
                machine_type=deployment.vertex_machine_type,
                min_replica_count=deployment.vertex_min_replicas,
                max_replica_count=deployment.vertex_max_replicas,
                autoscaling_target_cpu_utilization=deployment.vertex_cpu_target,
                service_account=deployment.vertex_service_account,
                enable_access_logging=True,
                sync=True,
            )
        except VertexCallFailed as exc:
            raise DeploymentFailed(
                "health",
                f"Vertex AI could not deploy release {release.release_id}: {exc.__cause__}",
            ) from None
        if self.dry_run:
            return self._plan_deploy(name, release)
        new = [m for m in endpoint.list_models() if m.id not in before]
        if not new:
            raise DeploymentFailed("health", f"no new deployed model appeared on {name}")
        return self._deployed(new[0])

    def health(self, name: str, deployed_model_id: str) -> DeployedModel:
        return self.describe(name).deployed_model(deployed_model_id)

    def set_traffic(self, name: str, split: Mapping[str, int], note: str = "") -> Endpoint:
        state = self.describe(name)
        split = check_split(state, split)
        if not split:
            raise TrafficSplitError(
                "a Vertex AI endpoint with deployed models must route all traffic; "
                "undeploy them instead"
            )
        self._call(f"Endpoint[{name}].update", on=self._require(name), traffic_split=split)
        full = [k for k, v in split.items() if v == 100]
        if full:
            self._move_serving_alias(state.deployed_model(full[0]))
        if self.dry_run:
            self._planned[name] = replace(state, traffic=split)
        return self.describe(name)

    def _move_serving_alias(self, model: DeployedModel) -> None:
        """`champion` on the model version that now takes all traffic (merging moves it)."""
        resource, _, version = str(model.detail.get("model", "")).partition("@")
        self._call(
            f"ModelRegistry[{resource.rsplit('/', 1)[-1]}].add_version_aliases",
            on=self._registry(resource),
            new_aliases=[SERVING_ALIAS],
            version=version,
        )

    def _registry(self, resource: str) -> Any:
        if self.dry_run:
            return Planned("aiplatform.ModelRegistry")
        return _sdk().ModelRegistry(model=resource)

    def undeploy(self, name: str, deployed_model_id: str) -> None:
        endpoint = self._require(name)
        self.describe(name).deployed_model(deployed_model_id)
        self._call(f"Endpoint[{name}].undeploy", on=endpoint, deployed_model_id=deployed_model_id)
        if self.dry_run:
            state = self._planned[name]
            self._planned[name] = replace(
                state,
                deployed_models=tuple(
                    m for m in state.deployed_models if m.id != deployed_model_id
                ),
                traffic={k: v for k, v in state.traffic.items() if k != deployed_model_id},
            )

    def predict(
        self,
        name: str,
        instances: Sequence[Mapping[str, Any]],
        deployed_model_id: str | None = None,
    ) -> PredictResponse:
        if deployed_model_id is not None:
            raise NotApplicable(
                "Vertex AI routes predictions by the traffic split; it cannot aim one "
                f"at deployed model {deployed_model_id}"
            )
        endpoint = self._require(name)
        try:
            answer = self._call(f"Endpoint[{name}].predict", on=endpoint, instances=list(instances))
        except VertexCallFailed as exc:
            raise PredictionFailed(
                f"Vertex AI endpoint {name!r} did not answer: {exc.__cause__}"
            ) from None
        if self.dry_run:
            return PredictResponse([])
        return PredictResponse(list(answer.predictions), answer.deployed_model_id or None)

    def _plan_deploy(self, name: str, release: Release) -> DeployedModel:
        """The deployed model a dry run plans, added to the planned endpoint."""
        state = self._planned[name]
        model = DeployedModel(
            id=f"<new on {name}>",
            release_id=release.release_id,
            release_uri=release.uri,
            created=datetime.now(UTC).isoformat(),
            state=PLANNED,
            detail={"model": f"{model_id_for(release)}@<version of {release.release_id}>"},
        )
        traffic = state.traffic or {model.id: 100}
        self._planned[name] = replace(
            state, deployed_models=(*state.deployed_models, model), traffic=traffic
        )
        return model


def render_plan(calls: Sequence[Call]) -> str:
    """Numbered lines, one per call."""
    return "\n".join(f"{n:>2}. {call.render()}" for n, call in enumerate(calls, start=1))
