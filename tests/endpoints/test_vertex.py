"""The Vertex AI backend against google-cloud-aiplatform patched at its boundary: the exact
SDK calls it makes, and a dry run that makes none."""

import inspect
import warnings
from dataclasses import replace
from unittest.mock import MagicMock, call

import pytest
from support.vertex import (
    IMAGE,
    ISBNS,
    MODELS,
    PROJECT,
    R1,
    R2,
    REGION,
    SA,
    STORE,
    FakeSdk,
    deployed_proto,
    make_release,
    make_settings,
)

from shelfcast.endpoints.backends import backend_for
from shelfcast.endpoints.base import (
    DeploymentFailed,
    EndpointError,
    EndpointNotFound,
    NotApplicable,
)
from shelfcast.endpoints.rollout import deploy_release, rollback
from shelfcast.endpoints.vertex import VertexBackend
from shelfcast.releases import CatalogueFiles, Release, SampleTitle

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # notices about Python versions
    from google.api_core.exceptions import InternalServerError, PermissionDenied
    from google.cloud import aiplatform
    from google.cloud.aiplatform_v1.types import endpoint as gca_endpoint


def upload_kwargs(release: Release, **lineage) -> dict:
    return dict(
        display_name=f"shelfcast-catalogue {release.release_id}",
        artifact_uri=release.uri,
        serving_container_image_uri=IMAGE,
        serving_container_predict_route="/predict",
        serving_container_health_route="/health",
        serving_container_ports=[8080],
        serving_container_environment_variables={
            "DEPLOYMENT_ENV": "production",
            "SHELFCAST_ARTIFACT_URI": STORE,
        },
        **lineage,
        version_aliases=[f"release-{release.release_id}"],
        is_default_version=False,
        version_description=f"Shelfcast release {release.release_id}: 2 title(s)",
        labels={"managed_by": "shelfcast", "shelfcast_release": release.release_id},
        sync=True,
    )


DEPLOY_KWARGS = dict(
    deployed_model_display_name=R2.release_id,
    traffic_percentage=0,
    machine_type="n1-standard-4",
    min_replica_count=2,
    max_replica_count=5,
    autoscaling_target_cpu_utilization=70,
    service_account=SA,
    enable_access_logging=True,
    sync=True,
)


def test_backend_for_builds_the_vertex_backend_from_settings():
    backend = backend_for(make_settings(), dry_run=True)
    assert isinstance(backend, VertexBackend)
    assert (backend.project, backend.region, backend.dry_run) == (PROJECT, REGION, True)


def test_a_new_endpoint_is_created_with_request_response_logging(monkeypatch):
    sdk = FakeSdk(monkeypatch)
    endpoint = VertexBackend(make_settings()).get_or_create("book-sales")

    sdk.init.assert_called_once_with(project=PROJECT, location=REGION)
    sdk.endpoint_cls.list.assert_called_once_with(
        filter='display_name="book-sales"', order_by="create_time"
    )
    sdk.endpoint_cls.create.assert_called_once_with(
        display_name="book-sales",
        description="Shelfcast weekly book-sales forecasts",
        labels={"managed_by": "shelfcast"},
        enable_request_response_logging=True,
        request_response_logging_sampling_rate=0.25,
        request_response_logging_bq_destination_table=f"bq://{PROJECT}.shelfcast_logs",
    )
    assert endpoint.url.endswith(f"/v1/projects/{PROJECT}/locations/{REGION}/endpoints/1:predict")
    assert endpoint.detail["request_response_logging"] == f"0.25 to bq://{PROJECT}.shelfcast_logs"


def test_an_existing_endpoint_is_reused(monkeypatch):
    sdk = FakeSdk(monkeypatch, existing={"book-sales": [deployed_proto(1, R1, "1")]})
    endpoint = VertexBackend(make_settings()).get_or_create("book-sales")
    sdk.endpoint_cls.create.assert_not_called()
    assert endpoint.traffic == {"1001": 100}
    (model,) = endpoint.deployed_models
    assert (model.release_id, model.state) == (R1.release_id, "healthy")
    assert model.detail["model"] == f"{MODELS}/shelfcast-catalogue@1"
    assert model.detail["replicas"] == "2-5"


def test_without_logging_the_endpoint_has_none(monkeypatch):
    sdk = FakeSdk(monkeypatch)
    VertexBackend(make_settings(serving={"prediction_log_sample_rate": 0.0})).get_or_create(
        "book-sales"
    )
    kwargs = sdk.endpoint_cls.create.call_args.kwargs
    assert kwargs["enable_request_response_logging"] is False
    assert kwargs["request_response_logging_bq_destination_table"] is None


def test_the_first_release_creates_the_model_and_later_ones_add_versions(monkeypatch):
    sdk = FakeSdk(monkeypatch)
    backend = VertexBackend(make_settings())
    backend.get_or_create("book-sales")
    backend.deploy("book-sales", R1)
    backend.deploy("book-sales", R2)

    assert sdk.model_cls.call_args_list[:2] == [
        call(model_name="shelfcast-catalogue", version=f"release-{R1.release_id}"),
        call(model_name="shelfcast-catalogue"),
    ]
    assert sdk.model_cls.upload.call_args_list == [
        call(**upload_kwargs(R1, model_id="shelfcast-catalogue")),
        call(**upload_kwargs(R2, parent_model="shelfcast-catalogue")),
    ]


def test_a_release_already_uploaded_is_not_uploaded_again(monkeypatch):
    sdk = FakeSdk(monkeypatch)
    backend = VertexBackend(make_settings())
    backend.get_or_create("book-sales")
    backend.get_or_create("book-sales-staging")
    backend.deploy("book-sales-staging", R1)
    fresh = VertexBackend(make_settings())  # another process: found by its alias
    fresh.deploy("book-sales", R1)
    assert sdk.model_cls.upload.call_count == 1
    assert call(model_name="shelfcast-catalogue", version=f"release-{R1.release_id}") in (
        sdk.model_cls.call_args_list
    )


def test_a_one_title_release_is_a_version_of_that_titles_model(monkeypatch):
    sdk = FakeSdk(monkeypatch)
    one = make_release("r-20261126-cccccccccc", 3, isbns=ISBNS[:1])
    backend = VertexBackend(make_settings())
    backend.get_or_create(f"book-sales-{ISBNS[0]}")
    backend.deploy(f"book-sales-{ISBNS[0]}", one)
    kwargs = sdk.model_cls.upload.call_args.kwargs
    assert kwargs["model_id"] == f"arima_book_{ISBNS[0]}"
    assert kwargs["display_name"] == f"arima_book_{ISBNS[0]} {one.release_id}"


def test_a_catalogue_release_is_a_version_of_the_catalogue_model(monkeypatch):
    """Its manifest is the artifact; the server reads the table's files from the store."""
    sdk = FakeSdk(monkeypatch)
    files = {"titles-00000.parquet": "a" * 64, "shared.parquet": "b" * 64}
    catalogue = CatalogueFiles(
        model_name="book_sales_catalogue",
        version="7",
        run_id="run-7",
        titles=120_000,
        path="catalogues/0123456789abcdef0123",
        files=files,
        families={"ets": 70_000, "zero": 50_000},
        sample=(SampleTitle(ISBNS[0], "book_sales_catalogue", "7"),),
    )
    release = replace(R2, models=(), catalogue=catalogue)
    backend = VertexBackend(make_settings())
    backend.get_or_create("book-sales")
    backend.deploy("book-sales", release)
    expected = upload_kwargs(release, model_id="shelfcast-catalogue")
    expected["version_description"] = f"Shelfcast release {release.release_id}: 120,000 title(s)"
    assert sdk.model_cls.upload.call_args_list == [call(**expected)]


def test_deploy_sets_machine_replicas_autoscaling_and_no_traffic(monkeypatch):
    sdk = FakeSdk(
        monkeypatch,
        existing={"book-sales": [deployed_proto(1, R1, "1")]},
        models={"shelfcast-catalogue"},
    )
    backend = VertexBackend(make_settings())

    model = backend.deploy("book-sales", R2)

    endpoint = sdk.endpoints["book-sales"]
    endpoint.deploy.assert_called_once_with(
        model=sdk.uploaded[f"release-{R2.release_id}"], **DEPLOY_KWARGS
    )
    assert model.release_id == R2.release_id
    assert model.release_uri == R2.uri
    assert endpoint.state["traffic"] == {"1001": 100}  # the new model takes no traffic yet


def test_a_failed_deploy_is_a_failed_health_check(monkeypatch):
    sdk = FakeSdk(monkeypatch, existing={"book-sales": []})
    sdk.endpoints["book-sales"].deploy.side_effect = InternalServerError("container never healthy")
    with pytest.raises(DeploymentFailed) as failure:
        VertexBackend(make_settings()).deploy("book-sales", R1)
    assert failure.value.check == "health"
    assert "container never healthy" in failure.value.reason


def test_traffic_moves_by_split_and_the_champion_alias_follows(monkeypatch):
    old, new = deployed_proto(1, R1, "1"), deployed_proto(2, R2, "2")
    sdk = FakeSdk(monkeypatch, existing={"book-sales": [old, new]})
    sdk.endpoints["book-sales"].state["traffic"] = {new.id: 100}
    backend = VertexBackend(make_settings())

    canary = backend.set_traffic("book-sales", {old.id: 90, new.id: 10})
    assert canary.traffic == {old.id: 90, new.id: 10}
    sdk.registry_cls.assert_not_called()  # no model takes all traffic

    result = rollback(backend, "book-sales")

    endpoint = sdk.endpoints["book-sales"]
    assert endpoint.update.call_args_list == [
        call(traffic_split={old.id: 90, new.id: 10}),
        call(traffic_split={old.id: 100}),
    ]
    sdk.registry_cls.assert_called_once_with(model=f"{MODELS}/shelfcast-catalogue")
    sdk.registry_cls.return_value.add_version_aliases.assert_called_once_with(
        new_aliases=["champion"], version="1"
    )
    assert result.endpoint.traffic == {old.id: 100}


def test_undeploy_names_the_deployed_model(monkeypatch):
    old, new = deployed_proto(1, R1, "1"), deployed_proto(2, R2, "2")
    sdk = FakeSdk(monkeypatch, existing={"book-sales": [old, new]})
    VertexBackend(make_settings()).undeploy("book-sales", old.id)
    sdk.endpoints["book-sales"].undeploy.assert_called_once_with(deployed_model_id=old.id)


def test_unknown_endpoints_and_aimed_predictions_are_refused(monkeypatch):
    FakeSdk(monkeypatch, existing={"book-sales": [deployed_proto(1, R1, "1")]})
    backend = VertexBackend(make_settings())
    with pytest.raises(EndpointNotFound):
        backend.describe("nope")
    with pytest.raises(NotApplicable, match="traffic split"):
        backend.predict("book-sales", [{"isbn": ISBNS[0]}], deployed_model_id="1001")


def test_a_rollout_smoke_tests_on_staging_before_touching_the_endpoint(monkeypatch):
    sdk = FakeSdk(monkeypatch, existing={"book-sales": []})
    backend = VertexBackend(make_settings())
    deploy_release(backend, "book-sales", R1)

    result = deploy_release(backend, "book-sales", R2)

    staging, endpoint = sdk.endpoints["book-sales-staging"], sdk.endpoints["book-sales"]
    assert [c[0] for c in staging.mock_calls if c[0] in ("deploy", "predict", "undeploy")] == [
        "deploy",
        "predict",
        "undeploy",
        "deploy",
        "predict",
        "undeploy",
    ]
    staging.predict.assert_called_with(
        instances=[{"isbn": i, "horizon": 32, "level": [80, 95]} for i in ISBNS]
    )
    assert staging.state["models"] == []
    first, second = (c.kwargs["model"] for c in endpoint.deploy.call_args_list)
    assert (first.release_id, second.release_id) == (R1.release_id, R2.release_id)
    new = result.deployed_model.id
    endpoint.update.assert_called_with(traffic_split={new: 100})
    assert result.endpoint.traffic == {new: 100}
    assert result.previous.release_id == R1.release_id  # kept for rollback
    assert len(result.endpoint.deployed_models) == 2


def test_the_dry_run_calls_nothing_and_plans_every_call(monkeypatch):
    from shelfcast.lifecycle.deploy import deploy_release as deploy_with_settings

    sdk = FakeSdk(monkeypatch)
    imported = MagicMock(side_effect=AssertionError("the SDK was imported"))
    monkeypatch.setattr("shelfcast.endpoints.vertex._sdk", imported)

    result = deploy_with_settings(make_settings(), R2, "book-sales", dry_run=True)

    assert sdk.sdk_calls() == []
    imported.assert_not_called()
    assert result.rollout.action == "planned"
    assert result.plan is not None and result.plan.project == PROJECT
    plan = [line.split(". ", 1)[1] for line in result.plan.calls.splitlines()]
    assert plan[0] == f"aiplatform.init(project='{PROJECT}', location='{REGION}')"
    assert plan[1].startswith(
        "aiplatform.Endpoint.list(filter='display_name=\"book-sales\"', order_by='create_time')"
    )
    assert any(
        line.startswith("aiplatform.Endpoint.create(display_name='book-sales'") for line in plan
    )
    upload = next(line for line in plan if line.startswith("aiplatform.Model.upload("))
    assert f"artifact_uri='{R2.uri}'" in upload
    assert f"serving_container_image_uri='{IMAGE}'" in upload
    assert "model_id='shelfcast-catalogue'" in upload
    assert f"version_aliases=['release-{R2.release_id}']" in upload
    staging_deploy, deploy = (line for line in plan if ".deploy(" in line)
    assert staging_deploy.startswith(
        "Endpoint[book-sales-staging].deploy(model=<aiplatform.Model.upload>"
    )
    assert deploy.startswith("Endpoint[book-sales].deploy(model=<aiplatform.Model.upload>")
    for argument in (
        "machine_type='n1-standard-4'",
        "min_replica_count=2",
        "max_replica_count=5",
        "autoscaling_target_cpu_utilization=70",
        f"service_account='{SA}'",
        "traffic_percentage=0",
        "enable_access_logging=True",
    ):
        assert argument in deploy
    assert any(line.startswith("Endpoint[book-sales-staging].predict(instances=[") for line in plan)
    assert any(
        line.startswith("Endpoint[book-sales-staging].undeploy(deployed_model_id=") for line in plan
    )
    assert "Endpoint[book-sales].update(traffic_split={'<new on book-sales>': 100})" in plan
    assert any("add_version_aliases(new_aliases=['champion']" in line for line in plan)
    assert any("Nothing is called now" in line for line in result.plan.assumptions)


def test_releases_outside_cloud_storage_and_missing_settings_are_refused(monkeypatch):
    FakeSdk(monkeypatch, existing={"book-sales": []})
    local = replace(R1, uri="/tmp/store/releases/r1", store="/tmp/store")
    with pytest.raises(Exception, match="gs://"):
        VertexBackend(make_settings()).deploy("book-sales", local)
    with pytest.raises(Exception, match="SHELFCAST_ENDPOINTS__SERVING_IMAGE_URI"):
        VertexBackend(make_settings(endpoints={"serving_image_uri": None})).deploy("book-sales", R1)
    with pytest.raises(Exception, match="GCP_PROJECT"):
        VertexBackend(make_settings(gcp={"project": None}))


def test_every_planned_call_fits_the_installed_sdk(monkeypatch):
    """The kwargs of each call bind to the real google-cloud-aiplatform signature."""
    FakeSdk(monkeypatch)
    backend = VertexBackend(make_settings(), dry_run=True)
    deploy_release(backend, "book-sales", R2)
    real = {
        "Endpoint": aiplatform.models.Endpoint,
        "ModelRegistry": aiplatform.models.ModelRegistry,
        "Model": aiplatform.models.Model,
    }
    for planned in backend.calls:
        head, method = planned.function.rsplit(".", 1)
        if planned.function == "aiplatform.init":
            function, args = aiplatform.initializer.global_config.init, ()
        elif planned.function == "aiplatform.Model":
            function, args = aiplatform.models.Model.__init__, (None,)
        elif head.startswith("aiplatform."):
            function, args = getattr(real[head.removeprefix("aiplatform.")], method), ()
        else:
            function, args = getattr(real[head.split("[")[0]], method), (None,)
        inspect.signature(function).bind(*args, **planned.kwargs)


def test_refusals_from_google_become_one_clear_error(monkeypatch):
    sdk = FakeSdk(monkeypatch)
    sdk.endpoint_cls.list.side_effect = PermissionDenied("aiplatform.endpoints.list denied")
    with pytest.raises(EndpointError, match=r"Endpoint\.list failed: 403 aiplatform\.endpoints"):
        VertexBackend(make_settings()).list_endpoints()


def test_a_deployed_model_without_available_replicas_is_unhealthy(monkeypatch):
    proto = deployed_proto(1, R1, "1")
    proto.status = gca_endpoint.DeployedModel.Status(message="image pull failed")
    FakeSdk(monkeypatch, existing={"book-sales": [proto]})
    model = VertexBackend(make_settings()).health("book-sales", proto.id)
    assert (model.state, model.detail["reason"]) == ("unhealthy", "image pull failed")
