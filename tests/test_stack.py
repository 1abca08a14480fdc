"""The cloud stack, registered into a real local ZenML store (no GCP: running it needs GCP).

Registration is checked through ZenML's own client and its `zenml stack describe` command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shelfcast.cli import app
from shelfcast.settings import load_settings
from shelfcast.training.stack import (
    IAM_ROLES,
    PLACEHOLDER_PASSWORD,
    StackError,
    check_bucket,
    register_vertex_stack,
)
from shelfcast.training.zenml_env import zenml_environment

PROJECT = "shelfcast-test"
REGION = "europe-west2"
BUCKET = "shelfcast-test-artifacts"
MLFLOW = "http://127.0.0.1:5999"
ACCOUNT = f"shelfcast-pipelines@{PROJECT}.iam.gserviceaccount.com"
ENV_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "GCP_PROJECT",
    "GCP_REGION",
    "DEPLOYMENT_ENV",
    "SHELFCAST_SETTINGS",
    "ZENML_STORE_URL",
    "ZENML_STORE_API_KEY",
)


def _reset_zenml() -> None:
    if "zenml.client" in sys.modules:
        from zenml.client import Client
        from zenml.config.global_config import GlobalConfiguration

        GlobalConfiguration._reset_instance()
        Client._reset_instance()


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A project folder whose ZenML store (SQLite) holds every stack of this module."""
    root = tmp_path_factory.mktemp("stack")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # no .zen repository of the working tree is picked up
        mp.setenv("SHELFCAST_HOME", str(root / "home"))
        for name, value in zenml_environment(load_settings(home=root / "home")).items():
            mp.setenv(name, value)  # what setup_zenml sets, restored after the module
        for name in ENV_VARIABLES:
            mp.delenv(name, raising=False)
        _reset_zenml()
        yield root / "home"
        _reset_zenml()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def register(home: Path, **kwargs):
    options = {
        "project": PROJECT,
        "region": REGION,
        "bucket": BUCKET,
        "mlflow_uri": MLFLOW,
        "service_account": ACCOUNT,
    }
    options.update(kwargs)
    return register_vertex_stack(load_settings(home=home), **options)


def client():
    from zenml.client import Client

    return Client()


def components_by_type(stack_name: str) -> dict[str, list]:
    stack = client().get_stack(stack_name, allow_name_prefix_match=False)
    return {ctype.value: items for ctype, items in stack.components.items()}


def counts() -> dict[str, int]:
    c = client()
    return {
        "stacks": c.list_stacks(size=1).total,
        "components": c.list_stack_components(size=1).total,
        "secrets": c.list_secrets(size=1).total,
    }


@pytest.fixture(scope="module")
def vertex_plan(home):
    """The seed's `vertex_ai_stack`, registered once for the module."""
    return register(home)


def test_registers_the_vertex_stack_and_its_four_components(home, vertex_plan):
    plan = vertex_plan

    assert plan.stack == "vertex_ai_stack"
    assert plan.store.startswith("sqlite:///") and str(home / "zenml") in plan.store
    components = components_by_type("vertex_ai_stack")
    assert set(components) == {
        "orchestrator",
        "artifact_store",
        "container_registry",
        "experiment_tracker",
    }
    assert all(len(items) == 1 for items in components.values())
    flavors = {ctype: items[0].flavor_name for ctype, items in components.items()}
    assert flavors == {
        "orchestrator": "vertex",
        "artifact_store": "gcp",
        "container_registry": "gcp",
        "experiment_tracker": "mlflow",
    }
    orchestrator = components["orchestrator"][0].configuration
    assert orchestrator == {
        "project": PROJECT,
        "location": REGION,
        "workload_service_account": ACCOUNT,
    }
    assert components["artifact_store"][0].configuration["path"] == f"gs://{BUCKET}/zenml"
    registry = components["container_registry"][0].configuration["uri"]
    assert registry == f"{REGION}-docker.pkg.dev/{PROJECT}/shelfcast"
    tracker = components["experiment_tracker"][0].configuration
    assert tracker["tracking_uri"] == MLFLOW
    # Credentials are secret references, never values; an auth-less server gets placeholders.
    assert tracker["tracking_username"] == "{{vertex_ai_stack_mlflow.username}}"
    assert tracker["tracking_password"] == "{{vertex_ai_stack_mlflow.password}}"
    secret = client().get_secret("vertex_ai_stack_mlflow", allow_partial_name_match=False)
    assert secret.secret_values["password"] == PLACEHOLDER_PASSWORD
    assert "placeholder" in plan.mlflow_credentials

    # The plan: what was registered, and what the stack still needs to run.
    assert [c.action for c in plan.components] == ["created"] * 4
    needs = {r.what: r for r in plan.still_needed}
    assert needs["remote ZenML server"].status == "needed"  # a local store cannot run Vertex
    roles = needs["least-privilege IAM roles"]
    for role in (
        "roles/aiplatform.user",
        "roles/storage.objectAdmin",
        "roles/artifactregistry.writer",
        "roles/iam.serviceAccountUser",
    ):
        assert role in roles.detail
        assert any(role in command for command in roles.commands)
    granted = {cmd.split("--role=")[1] for cmd in roles.commands}
    assert granted == {role for role, _, _ in IAM_ROLES}  # nothing broader (owner, editor...)
    apis = " ".join(needs["Google Cloud APIs"].commands)
    for api in ("aiplatform", "storage", "artifactregistry", "cloudbuild"):
        assert f"{api}.googleapis.com" in apis
    assert plan.activate == "zenml stack set vertex_ai_stack"


def test_registering_again_duplicates_nothing_and_updates_in_place(home):
    first = register(home, name="rerun_stack")
    ids = {ctype: items[0].id for ctype, items in components_by_type("rerun_stack").items()}
    before = counts()

    again = register(home, name="rerun_stack")
    assert again.action == "unchanged"
    assert [c.action for c in again.components] == ["unchanged"] * 4
    assert counts() == before
    assert client().list_stacks(name="rerun_stack").total == 1

    # Another bucket and no service account: the same components, updated in place.
    changed = register(home, name="rerun_stack", bucket="another-bucket", service_account=None)
    assert changed.action == "updated"
    actions = {c.type: c.action for c in changed.components}
    assert actions == {
        "orchestrator": "updated",
        "artifact_store": "updated",
        "container_registry": "unchanged",
        "experiment_tracker": "unchanged",
    }
    assert counts() == before
    components = components_by_type("rerun_stack")
    assert {ctype: items[0].id for ctype, items in components.items()} == ids
    assert components["artifact_store"][0].configuration["path"] == "gs://another-bucket/zenml"
    assert "workload_service_account" not in components["orchestrator"][0].configuration
    assert first.stack == changed.stack == "rerun_stack"


def test_credentials_from_the_environment_go_to_a_secret_and_are_never_shown(home, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "tracker-user")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "do-not-print-me")
    plan = register(home, name="cred_stack")

    secret = client().get_secret("cred_stack_mlflow", allow_partial_name_match=False)
    assert secret.secret_values == {"username": "tracker-user", "password": "do-not-print-me"}
    assert "do-not-print-me" not in repr(plan)
    tracker = components_by_type("cred_stack")["experiment_tracker"][0].configuration
    assert "do-not-print-me" not in repr(tracker)

    # Later runs without the variables reuse the secret instead of overwriting it.
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    again = register(home, name="cred_stack")
    assert again.action == "unchanged"
    secret = client().get_secret("cred_stack_mlflow", allow_partial_name_match=False)
    assert secret.secret_values["password"] == "do-not-print-me"
    assert "existing ZenML secret" in again.mlflow_credentials

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "only-a-user")
    with pytest.raises(StackError, match="both MLFLOW_TRACKING_USERNAME"):
        register(home, name="cred_stack")


def test_a_component_of_another_flavor_under_the_name_is_refused(home):
    from zenml.enums import StackComponentType

    client().create_stack_component(
        name="clash_stack_orchestrator",
        flavor="local",
        component_type=StackComponentType.ORCHESTRATOR,
        configuration={},
    )
    with pytest.raises(StackError, match="flavor 'local'"):
        register(home, name="clash_stack")


def test_zenml_stack_describe_shows_the_stack(home, vertex_plan):
    zenml = Path(sys.executable).parent / "zenml"
    env = {**os.environ, **zenml_environment(load_settings(home=home)), "NO_COLOR": "1"}
    result = subprocess.run(
        [str(zenml), "stack", "describe", "vertex_ai_stack"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "vertex_ai_stack" in output
    for ctype in ("orchestrator", "artifact_store", "container_registry", "experiment_tracker"):
        assert f"vertex_ai_stack_{ctype}" in output
        assert ctype.upper() in output


runner = CliRunner()


def test_cli_registers_and_prints_the_checklist(home):
    args = ["stack", "vertex", "--project", PROJECT, "--region", REGION, "--bucket", BUCKET]
    args += ["--mlflow-uri", MLFLOW, "--name", "cli_stack"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "cli_stack_orchestrator" in result.output
    assert "Still needed" in result.output
    assert "remote ZenML server" in result.output
    assert "--service-account" in result.output  # none given: the checklist asks for one
    assert "roles/iam.serviceAccountUser" in result.output
    assert "zenml stack set cli_stack" in result.output
    assert client().list_stacks(name="cli_stack").total == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--project", PROJECT, "--bucket", "Not_A_Bucket"], "not a valid GCS bucket name"),
        (["--bucket", BUCKET], "no GCP project given"),
        (["--project", PROJECT, "--bucket", BUCKET], "remote MLflow tracking server"),
        (["--project", "X", "--bucket", BUCKET, "--mlflow-uri", MLFLOW], "not a GCP project ID"),
    ],
)
def test_cli_errors_are_clear(tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["stack", "vertex", *args])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "name", ["my-bucket", "gs://my-bucket", "gs://my-bucket/", "a_b.c-d", "123", "x" * 63]
)
def test_good_bucket_names(name):
    assert check_bucket(name) == name.removeprefix("gs://").rstrip("/")


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "x" * 64,
        "UpperCase",
        "-leading",
        "trailing-",
        "has space",
        "gs://bucket/path",
        "192.168.0.1",
        "goog-bucket",
        "my-google-bucket",
        "a..b",
        "",
    ],
)
def test_bad_bucket_names(name):
    with pytest.raises(StackError):
        check_bucket(name)
