"""The cloud ZenML stack: register the seed's `vertex_ai_stack` and say what it still needs.

`register_vertex_stack` registers four components in the ZenML store Shelfcast is connected
to and a stack made of them:

| type               | flavor   | configuration                                            |
|--------------------|----------|----------------------------------------------------------|
| orchestrator       | `vertex` | project, location (the region), workload service account |
| artifact store     | `gcp`    | `gs://<bucket>/zenml`                                     |
| container registry | `gcp`    | Artifact Registry: `<region>-docker.pkg.dev/<project>/shelfcast` |
| experiment tracker | `mlflow` | tracking URI; credentials as ZenML secret references     |

Registration is idempotent: a component or stack that already exists under its name is
updated in place (or left alone when nothing changed), never duplicated. It needs no GCP
access and no Google libraries; *running* the stack does (see docs/cloud.md), and nothing
here pretends otherwise: the returned `StackPlan` lists what is still needed.

MLflow credentials. ZenML's MLflow tracker refuses a remote `tracking_uri` without exactly
one authentication method, even for a server that has no auth. The tracker therefore always
reads `tracking_username`/`tracking_password` (or `tracking_token`) from a ZenML secret,
`<stack>_mlflow` unless named: values come from `MLFLOW_TRACKING_USERNAME` and
`MLFLOW_TRACKING_PASSWORD` (or `MLFLOW_TRACKING_TOKEN`) when set, else from an existing
secret, else placeholder values are stored, which an auth-less server ignores. Secret values
are never printed nor written into a component's configuration.

ZenML is imported inside functions only, after its configuration folder has been chosen.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shelfcast.errors import ShelfcastError

if TYPE_CHECKING:
    from zenml.client import Client

    from shelfcast.settings import Settings

DEFAULT_STACK_NAME = "vertex_ai_stack"
DEFAULT_REPOSITORY = "shelfcast"
MANAGED_LABEL = {"managed-by": "shelfcast"}

# Placeholder credentials for an MLflow server without authentication (see the module doc).
PLACEHOLDER_USERNAME = "shelfcast"
PLACEHOLDER_PASSWORD = "no-auth-server"  # not a secret: an auth-less server ignores it

# Least privilege for the identity that submits pipelines and, as the workload service
# account, runs their steps. No owner/editor/admin role is needed.
IAM_ROLES: tuple[tuple[str, str, str], ...] = (
    ("roles/aiplatform.user", "project", "create and follow Vertex AI pipeline jobs"),
    ("roles/storage.objectAdmin", "bucket", "read and write artifacts in the bucket only"),
    ("roles/artifactregistry.writer", "repository", "push and pull the pipeline image"),
    ("roles/iam.serviceAccountUser", "workload SA", "let jobs run as the workload account"),
)
REQUIRED_APIS = (
    "aiplatform.googleapis.com",
    "storage.googleapis.com",
    "artifactregistry.googleapis.com",
)
CLOUD_BUILD_API = "cloudbuild.googleapis.com"

_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_REGION = re.compile(r"[a-z]+(-[a-z]+)+[0-9]+")
_SERVICE_ACCOUNT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}@[a-z0-9.-]+\.gserviceaccount\.com")
_BUCKET_CHARS = re.compile(r"[a-z0-9._-]+")
_ARTIFACT_REGISTRY = re.compile(
    r"(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])"
    r"/(?P<repository>[a-z0-9][a-z0-9._-]*)(/[a-z0-9._/-]+)?"
)


class StackError(ShelfcastError):
    """The cloud stack cannot be registered as asked (bad names, conflicts, ZenML refusals)."""


@dataclass(frozen=True)
class ComponentPlan:
    """One registered stack component: what it is and what registration did to it."""

    type: str  # ZenML component type: orchestrator, artifact_store, ...
    name: str
    flavor: str
    configuration: dict[str, Any]  # as stored; credentials only as secret references
    action: str  # created, updated or unchanged


@dataclass(frozen=True)
class Requirement:
    """Something the stack needs before it can run, and how to provide it."""

    what: str
    detail: str
    status: str = "needed"  # needed; done; verify (cannot be checked from here)
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackPlan:
    """What `register_vertex_stack` registered, and what is still needed to run the stack."""

    stack: str
    action: str  # created, updated or unchanged
    store: str  # the ZenML store the stack is registered in
    components: tuple[ComponentPlan, ...]
    still_needed: tuple[Requirement, ...]
    mlflow_secret: str
    mlflow_credentials: str  # where the tracker's credentials come from (never the values)
    activate: str = field(default="")  # the command that makes this stack the active one

    @property
    def pending(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.still_needed if r.status != "done")


# ---------------------------------------------------------------------------------------
# Checks of names, with one clear message each.


def check_project(project: str | None) -> str:
    if not project:
        raise StackError("no GCP project given: pass --project or set GCP_PROJECT")
    if not _PROJECT_ID.fullmatch(project):
        raise StackError(
            f"{project!r} is not a GCP project ID: 6-30 characters, lowercase letters, digits "
            "and hyphens, starting with a letter and not ending with a hyphen"
        )
    return project


def check_region(region: str | None) -> str:
    if not region:
        raise StackError("no GCP region given: pass --region or set GCP_REGION")
    if not _REGION.fullmatch(region):
        raise StackError(f"{region!r} is not a GCP region such as europe-west2 or us-central1")
    return region


def check_bucket(bucket: str) -> str:
    """The bucket's name, from `name` or `gs://name`, checked against the GCS naming rules."""
    name = bucket.strip()
    name = name.removeprefix("gs://").rstrip("/")
    if not name:
        raise StackError("no bucket given: pass --bucket NAME")
    problem = _bucket_problem(name)
    if problem:
        raise StackError(f"{bucket!r} is not a valid GCS bucket name: {problem}")
    return name


def _bucket_problem(name: str) -> str | None:
    if "/" in name:
        return "give the bucket only (Shelfcast uses gs://<bucket>/zenml), not a path"
    if not _BUCKET_CHARS.fullmatch(name):
        return "use only lowercase letters, digits, '-', '_' and '.'"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "it must start and end with a letter or digit"
    if "." in name:
        if len(name) > 222:
            return "names with dots are at most 222 characters"
        if any(not 1 <= len(part) <= 63 for part in name.split(".")):
            return "each dot-separated part must be 1-63 characters"
    elif not 3 <= len(name) <= 63:
        return "it must be 3-63 characters long"
    if len(name) < 3:
        return "it must be at least 3 characters long"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return "it cannot be an IP address"
    if name.startswith("goog") or re.search(r"g[o0][o0]g[l1]e", name):
        return "it cannot start with 'goog' or contain 'google'"
    return None


def check_service_account(account: str | None) -> str | None:
    if account is None:
        return None
    if not _SERVICE_ACCOUNT.fullmatch(account):
        raise StackError(
            f"{account!r} is not a service account email (NAME@PROJECT.iam.gserviceaccount.com)"
        )
    return account


def check_registry(uri: str) -> re.Match[str]:
    uri = uri.removeprefix("https://").rstrip("/")
    match = _ARTIFACT_REGISTRY.fullmatch(uri)
    if not match:
        raise StackError(
            f"{uri!r} is not an Artifact Registry Docker repository "
            "(LOCATION-docker.pkg.dev/PROJECT/REPOSITORY); Container Registry (gcr.io) is "
            "shut down"
        )
    return match


def check_mlflow_uri(uri: str | None) -> str:
    if not uri:
        raise StackError(
            "the Vertex stack needs a remote MLflow tracking server that Vertex AI can reach: "
            "pass --mlflow-uri https://... or set MLFLOW_TRACKING_URI (the embedded "
            "store in the project folder is not reachable from the cloud)"
        )
    if not uri.startswith(("http://", "https://")):
        raise StackError(
            f"MLflow tracking URI {uri!r} is not a server: the Vertex stack needs an "
            "http(s):// tracking server that Vertex AI can reach, not a local store"
        )
    return uri.rstrip("/")


# ---------------------------------------------------------------------------------------
# ZenML, pointed at the project's folder before it is imported.


def zenml_client(settings: Settings) -> Client:
    """ZenML's client on the project's store (`<home>/zenml`, or a server it is connected to)."""
    from shelfcast.training.zenml_env import setup_zenml

    setup_zenml(settings)  # before ZenML is imported
    from zenml.client import Client

    return Client()


@contextmanager
def _quiet_zenml_warnings() -> Iterator[None]:
    """Silence ZenML's "remote component on a local store" warning: the plan reports it."""
    logger = logging.getLogger("zenml.stack.utils")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# ---------------------------------------------------------------------------------------
# Registration.


def register_vertex_stack(
    settings: Settings,
    *,
    project: str | None,
    region: str | None,
    bucket: str,
    mlflow_uri: str | None = None,
    registry_uri: str | None = None,
    service_account: str | None = None,
    name: str = DEFAULT_STACK_NAME,
    mlflow_secret: str | None = None,
) -> StackPlan:
    """Register (or update) the Vertex AI stack `name` and its four components.

    `project` and `region` default to the settings (GCP_PROJECT, GCP_REGION); `mlflow_uri`
    to the settings' MLFLOW_TRACKING_URI, which must then be an http(s) server. Nothing
    runs on GCP: the plan lists what is still needed before the stack can run.
    """
    project = check_project(project or settings.gcp.project)
    region = check_region(region or settings.gcp.region)
    bucket = check_bucket(bucket)
    service_account = check_service_account(service_account)
    tracking_uri = check_mlflow_uri(mlflow_uri or settings.registry.mlflow_tracking_uri)
    registry = check_registry(registry_uri or f"{region}-docker.pkg.dev/{project}/shelfcast")
    if not re.fullmatch(r"[a-zA-Z0-9_.-]+", name):
        raise StackError(f"stack name {name!r}: use letters, digits, '_', '-' and '.'")
    secret_name = mlflow_secret or f"{name}_mlflow"

    client = zenml_client(settings)
    from zenml.enums import StackComponentType

    auth_keys, credentials = _mlflow_secret(client, secret_name, explicit=bool(mlflow_secret))
    reference = {key: f"{{{{{secret_name}.{key}}}}}" for key in auth_keys}
    tracker_config: dict[str, Any] = {
        "tracking_uri": tracking_uri,
        "tracking_username": reference.get("username"),
        "tracking_password": reference.get("password"),
        "tracking_token": reference.get("token"),
    }
    wanted = [
        (
            StackComponentType.ORCHESTRATOR,
            "vertex",
            {
                "project": project,
                "location": region,
                "workload_service_account": service_account,
            },
        ),
        (StackComponentType.ARTIFACT_STORE, "gcp", {"path": f"gs://{bucket}/zenml"}),
        (StackComponentType.CONTAINER_REGISTRY, "gcp", {"uri": registry.group(0)}),
        (StackComponentType.EXPERIMENT_TRACKER, "mlflow", tracker_config),
    ]
    with _quiet_zenml_warnings():
        components = tuple(
            _ensure_component(client, f"{name}_{ctype.value}", ctype, flavor, config)
            for ctype, flavor, config in wanted
        )
        action = _ensure_stack(client, name, components)

    store = client.zen_store
    return StackPlan(
        stack=name,
        action=action,
        store=str(store.url),
        components=components,
        still_needed=_still_needed(
            store_is_remote=not store.is_local_store(),
            store_url=str(store.url),
            project=project,
            region=region,
            bucket=bucket,
            registry=registry,
            service_account=service_account,
            tracking_uri=tracking_uri,
            credentials=credentials,
            secret_name=secret_name,
        ),
        mlflow_secret=secret_name,
        mlflow_credentials=credentials,
        activate=f"zenml stack set {name}",
    )


def _mlflow_secret(client: Client, name: str, *, explicit: bool) -> tuple[tuple[str, ...], str]:
    """Create or update the secret holding the tracker's credentials.

    Returns the keys the tracker references and where the values came from (never the values).
    """
    from zenml.exceptions import EntityExistsError

    env = {
        "username": os.environ.get("MLFLOW_TRACKING_USERNAME"),
        "password": os.environ.get("MLFLOW_TRACKING_PASSWORD"),
        "token": os.environ.get("MLFLOW_TRACKING_TOKEN"),
    }
    if bool(env["username"]) != bool(env["password"]):
        raise StackError(
            "set both MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or neither"
        )
    existing = _find_secret(client, name)
    if env["username"] and env["password"]:
        values = {"username": env["username"], "password": env["password"]}
        source = "MLFLOW_TRACKING_USERNAME/PASSWORD"
    elif env["token"]:
        values = {"token": env["token"]}
        source = "MLFLOW_TRACKING_TOKEN"
    elif existing is not None:
        keys = set(existing.secret_values)
        if {"username", "password"} <= keys:
            placeholder = existing.secret_values.get("password") == PLACEHOLDER_PASSWORD
            kind = "placeholder credentials (auth-less server)" if placeholder else "credentials"
            return ("username", "password"), f"existing ZenML secret {name!r}: {kind}"
        if "token" in keys:
            return ("token",), f"existing ZenML secret {name!r}: token"
        raise StackError(
            f"ZenML secret {name!r} has neither username and password nor token: update it "
            f"with `zenml secret update {name} --username=... --password=...`"
        )
    elif explicit:
        raise StackError(
            f"ZenML secret {name!r} does not exist: create it with `zenml secret create {name} "
            "--username=... --password=...` or set MLFLOW_TRACKING_USERNAME/PASSWORD"
        )
    else:
        values = {"username": PLACEHOLDER_USERNAME, "password": PLACEHOLDER_PASSWORD}
        source = "placeholder credentials (auth-less server)"

    keys = tuple(values)
    if existing is None:
        try:
            client.create_secret(name, values=values)
        except EntityExistsError as exc:  # pragma: no cover - a concurrent registration
            raise StackError(f"ZenML secret {name!r}: {exc}") from None
        return keys, f"{source}, stored in new ZenML secret {name!r}"
    stale = [key for key in existing.secret_values if key not in values]
    if dict(existing.secret_values) == values:
        return keys, f"{source}, ZenML secret {name!r} unchanged"
    client.update_secret(existing.id, add_or_update_values=values, remove_values=stale or None)
    return keys, f"{source}, stored in ZenML secret {name!r} (updated)"


def _find_secret(client: Client, name: str) -> Any:
    try:
        return client.get_secret(name, allow_partial_name_match=False, allow_partial_id_match=False)
    except KeyError:  # zenml's ZenKeyError too
        return None


def _ensure_component(
    client: Client, name: str, ctype: Any, flavor: str, config: dict[str, Any]
) -> ComponentPlan:
    """Create the component, or update the existing one of that name in place."""
    present = {k: v for k, v in config.items() if v is not None}
    existing = client.list_stack_components(name=name, type=ctype).items
    try:
        if not existing:
            created = client.create_stack_component(
                name=name,
                flavor=flavor,
                component_type=ctype,
                configuration=present,
                labels=MANAGED_LABEL,
            )
            return _component_plan(created, "created")
        current = existing[0]
        if current.flavor_name != flavor:
            raise StackError(
                f"a {ctype.value} named {name!r} exists with flavor {current.flavor_name!r}, "
                f"not {flavor!r}: rename or delete it (`zenml {ctype.value.replace('_', '-')} "
                f"delete {name}`), or register under another --name"
            )
        stored = current.configuration
        if all(stored.get(key) == value for key, value in config.items()):
            return _component_plan(current, "unchanged")
        updated = client.update_stack_component(
            current.id, component_type=ctype, configuration=config, labels=MANAGED_LABEL
        )
        return _component_plan(updated, "updated")
    except (ValueError, KeyError) as exc:
        raise StackError(f"ZenML refused the {ctype.value} {name!r}: {exc}") from None


def _component_plan(component: Any, action: str) -> ComponentPlan:
    return ComponentPlan(
        type=component.type.value,
        name=component.name,
        flavor=component.flavor_name,
        configuration=dict(component.configuration),
        action=action,
    )


def _ensure_stack(client: Client, name: str, components: tuple[ComponentPlan, ...]) -> str:
    from zenml.enums import StackComponentType

    wanted = {StackComponentType(c.type): c.name for c in components}
    existing = client.list_stacks(name=name).items
    if not existing:
        client.create_stack(name=name, components=wanted, labels=MANAGED_LABEL)
        return "created"
    stack = client.get_stack(existing[0].id)
    current = {ctype: [c.name for c in items] for ctype, items in stack.components.items()}
    if all(current.get(ctype) == [cname] for ctype, cname in wanted.items()):
        return "updated" if any(c.action != "unchanged" for c in components) else "unchanged"
    client.update_stack(stack.id, component_updates=wanted)
    return "updated"


# ---------------------------------------------------------------------------------------
# What the stack still needs.


def _still_needed(
    *,
    store_is_remote: bool,
    store_url: str,
    project: str,
    region: str,
    bucket: str,
    registry: re.Match[str],
    service_account: str | None,
    tracking_uri: str,
    credentials: str,
    secret_name: str,
) -> tuple[Requirement, ...]:
    account = service_account or f"shelfcast-pipelines@{project}.iam.gserviceaccount.com"
    member = f"serviceAccount:{account}"
    repository, repo_location = registry.group("repository"), registry.group("location")
    needs: list[Requirement] = []

    if store_is_remote:
        needs.append(Requirement("remote ZenML server", f"registered in {store_url}", "done"))
    else:
        needs.append(
            Requirement(
                "remote ZenML server",
                f"registered in a local store ({store_url}); Vertex AI steps cannot reach it, "
                "so the stack cannot run from there. Deploy a ZenML server (PostgreSQL or "
                "MySQL backed), connect to it and run this command again",
                "needed",
                (
                    "zenml login https://ZENML_SERVER_URL",
                    "# or: export ZENML_STORE_URL=https://ZENML_SERVER_URL "
                    "ZENML_STORE_API_KEY=<service account API key>",
                ),
            )
        )
    needs.append(
        Requirement(
            "Google Cloud APIs",
            f"enabled in project {project}; Cloud Build only with a Cloud Build image builder",
            "verify",
            (
                f"gcloud services enable {' '.join(REQUIRED_APIS)} --project={project}",
                f"# optional: gcloud services enable {CLOUD_BUILD_API} --project={project}",
            ),
        )
    )
    needs.append(
        Requirement(
            "bucket and image repository",
            f"gs://{bucket} and the Artifact Registry repository {repository!r} in "
            f"{repo_location} exist",
            "verify",
            (
                f"gcloud storage buckets create gs://{bucket} --project={project} "
                f"--location={region} --uniform-bucket-level-access",
                f"gcloud artifacts repositories create {repository} --project={project} "
                f"--repository-format=docker --location={repo_location}",
            ),
        )
    )
    if service_account:
        needs.append(
            Requirement(
                "workload service account",
                f"Vertex AI runs the steps as {service_account}",
                "verify",
                (f"gcloud iam service-accounts describe {service_account} --project={project}",),
            )
        )
    else:
        needs.append(
            Requirement(
                "workload service account",
                "none given: Vertex AI would run the steps as the Compute Engine default "
                "service account, which often holds the broad Editor role. Create a dedicated "
                "one and run this command again with --service-account",
                "needed",
                (
                    f"gcloud iam service-accounts create shelfcast-pipelines --project={project} "
                    '--display-name="Shelfcast pipelines"',
                ),
            )
        )
    needs.append(
        Requirement(
            "least-privilege IAM roles",
            f"for {account} (and anyone who submits pipelines): "
            + "; ".join(f"{role} on the {scope} ({why})" for role, scope, why in IAM_ROLES),
            "verify",
            (
                f"gcloud projects add-iam-policy-binding {project} --member={member} "
                "--role=roles/aiplatform.user",
                f"gcloud storage buckets add-iam-policy-binding gs://{bucket} --member={member} "
                "--role=roles/storage.objectAdmin",
                f"gcloud artifacts repositories add-iam-policy-binding {repository} "
                f"--project={project} --location={repo_location} --member={member} "
                "--role=roles/artifactregistry.writer",
                f"gcloud iam service-accounts add-iam-policy-binding {account} "
                f"--project={project} --member={member} --role=roles/iam.serviceAccountUser",
            ),
        )
    )
    placeholder = "placeholder" in credentials
    needs.append(
        Requirement(
            "MLflow tracking server",
            f"{tracking_uri} reachable from Vertex AI, PostgreSQL backend store and "
            f"--artifacts-destination gs://{bucket}/mlflow; credentials: {credentials}"
            + (
                ". If the server has authentication, set MLFLOW_TRACKING_USERNAME and "
                f"MLFLOW_TRACKING_PASSWORD and run again (or `zenml secret update "
                f"{secret_name}`)"
                if placeholder
                else ""
            ),
            "verify",
        )
    )
    needs.append(
        Requirement(
            "where pipelines are submitted",
            "Application Default Credentials (gcloud auth application-default login, or "
            "GOOGLE_APPLICATION_CREDENTIALS in CI), a Docker engine to build the image (or a "
            "Cloud Build image builder), and the Google libraries ZenML's Vertex orchestrator "
            "imports: kfp, google-cloud-aiplatform, google-cloud-pipeline-components, "
            "gcsfs (installed directly, not with `zenml integration install gcp`)",
            "verify",
        )
    )
    return tuple(needs)
