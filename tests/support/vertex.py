"""Stand-ins for google-cloud-aiplatform at its boundary (`FakeSdk`), Vertex settings and
releases: for the Vertex backend tests and the seed's step 03 script."""

import warnings
from unittest.mock import MagicMock, PropertyMock

from shelfcast.releases import Release
from shelfcast.settings import Settings
from support.memory_backend import forecast
from support.releases import described_release

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # notices about Python versions
    from google.api_core.exceptions import NotFound
    from google.cloud import aiplatform
    from google.cloud.aiplatform_v1.types import endpoint as gca_endpoint
    from google.cloud.aiplatform_v1.types import io as gca_io
    from google.cloud.aiplatform_v1.types import machine_resources as gca_machine
    from google.protobuf import timestamp_pb2

PROJECT, REGION = "shelf-proj", "europe-west2"
STORE = "gs://shelf-bucket/shelfcast"
IMAGE = "europe-west2-docker.pkg.dev/shelf-proj/shelfcast/server:0.1.0"
SA = "shelfcast-serving@shelf-proj.iam.gserviceaccount.com"
MODELS = f"projects/{PROJECT}/locations/{REGION}/models"
ISBNS = ("9780722532935", "9780241003008")


def make_settings(**changes) -> Settings:
    """Production settings for Vertex AI; `changes` as for `Settings.replace`."""
    settings = Settings(
        environment="production",
        gcp={"project": PROJECT, "region": REGION},
        endpoints={
            "backend": "vertex",
            "serving_image_uri": IMAGE,
            "vertex_machine_type": "n1-standard-4",
            "vertex_min_replicas": 2,
            "vertex_max_replicas": 5,
            "vertex_cpu_target": 70,
            "vertex_service_account": SA,
        },
        serving={"prediction_log_sample_rate": 0.25},
    )
    return settings.replace(**changes)


def make_release(release_id: str, version: int, isbns=ISBNS) -> Release:
    return described_release(release_id, version, isbns, STORE)


R1 = make_release("r-20261120-aaaaaaaaaa", 1)
R2 = make_release("r-20261126-bbbbbbbbbb", 2)


def deployed_proto(number: int, release: Release, version: str) -> gca_endpoint.DeployedModel:
    proto = gca_endpoint.DeployedModel(
        id=str(1000 + number),
        model=f"{MODELS}/shelfcast-catalogue",
        model_version_id=version,
        display_name=release.release_id,
        dedicated_resources=gca_machine.DedicatedResources(
            machine_spec=gca_machine.MachineSpec(machine_type="n1-standard-4"),
            min_replica_count=2,
            max_replica_count=5,
        ),
    )
    proto.create_time = timestamp_pb2.Timestamp(seconds=1_790_000_000 + number)
    return proto


class FakeSdk:
    """Stand-ins for aiplatform.Endpoint, Model and ModelRegistry that keep state."""

    def __init__(self, monkeypatch, existing: dict[str, list] | None = None, models=()):
        self.endpoints: dict[str, MagicMock] = {}
        self.uploaded: dict[str, MagicMock] = {}  # release alias -> model version
        self.models = set(models)  # model ids that exist
        self.count = 0
        self.endpoint_cls = MagicMock(name="aiplatform.Endpoint")
        self.endpoint_cls.list.side_effect = self._list
        self.endpoint_cls.create.side_effect = lambda **kw: self.add_endpoint(kw["display_name"])
        self.model_cls = MagicMock(name="aiplatform.Model", side_effect=self._get_model)
        self.model_cls.upload.side_effect = self._upload
        self.registry_cls = MagicMock(name="aiplatform.ModelRegistry")
        self.init = MagicMock(name="aiplatform.init")
        monkeypatch.setattr(aiplatform, "init", self.init)
        monkeypatch.setattr(aiplatform, "Endpoint", self.endpoint_cls)
        monkeypatch.setattr(aiplatform, "Model", self.model_cls)
        monkeypatch.setattr(aiplatform, "ModelRegistry", self.registry_cls)
        for name, deployed in (existing or {}).items():
            self.add_endpoint(name, deployed)

    def add_endpoint(self, name: str, deployed=()) -> MagicMock:
        endpoint = MagicMock(name=f"Endpoint {name}")
        endpoint.display_name = name
        endpoint.resource_name = (
            f"projects/{PROJECT}/locations/{REGION}/endpoints/{len(self.endpoints) + 1}"
        )
        endpoint.state = {"models": list(deployed), "traffic": {}}
        if deployed:
            endpoint.state["traffic"] = {deployed[-1].id: 100}
        endpoint.list_models.side_effect = lambda: list(endpoint.state["models"])
        type(endpoint).traffic_split = PropertyMock(
            side_effect=lambda: dict(endpoint.state["traffic"])
        )
        endpoint.gca_resource.predict_request_response_logging_config = (
            gca_endpoint.PredictRequestResponseLoggingConfig(
                enabled=True,
                sampling_rate=0.25,
                bigquery_destination=gca_io.BigQueryDestination(
                    output_uri=f"bq://{PROJECT}.shelfcast_logs"
                ),
            )
        )
        endpoint.deploy.side_effect = lambda **kw: self._deploy(endpoint, **kw)
        endpoint.update.side_effect = lambda traffic_split: endpoint.state.update(
            traffic=dict(traffic_split)
        )
        endpoint.undeploy.side_effect = lambda deployed_model_id: self._undeploy(
            endpoint, deployed_model_id
        )
        endpoint.predict.side_effect = lambda instances: self._predict(endpoint, instances)
        self.endpoints[name] = endpoint
        return endpoint

    def _list(self, filter: str, order_by: str):
        if filter.startswith("display_name="):
            name = filter.split('"')[1]
            return [self.endpoints[name]] if name in self.endpoints else []
        return list(self.endpoints.values())

    def _get_model(self, model_name: str, version: str | None = None):
        if "@" in model_name:  # a deployed model's version: projects/.../models/ID@V
            model = MagicMock(name=model_name)
            model.uri = next(
                (u.uri for u in self.uploaded.values() if u.version_id == model_name.split("@")[1]),
                f"{STORE}/releases/{R1.release_id}",
            )
            return model
        if version is not None:
            if version in self.uploaded:
                return self.uploaded[version]
            raise NotFound(f"{model_name}@{version}")
        if model_name in self.models:
            return MagicMock(name=model_name)
        raise NotFound(model_name)

    def _upload(self, **kwargs):
        model = MagicMock(name=kwargs["display_name"])
        model.version_id = str(len(self.uploaded) + 1)
        model.resource_name = f"{MODELS}/shelfcast-catalogue"
        model.uri = kwargs["artifact_uri"]
        model.release_id = kwargs["display_name"].split()[-1]
        self.uploaded[kwargs["version_aliases"][0]] = model
        self.models.add(kwargs.get("model_id") or kwargs["parent_model"])
        return model

    def _deploy(self, endpoint, model, deployed_model_display_name, traffic_percentage, **kw):
        self.count += 1
        release = make_release(deployed_model_display_name, int(model.version_id))
        proto = deployed_proto(self.count + 10, release, model.version_id)
        endpoint.state["models"].append(proto)
        if not endpoint.state["traffic"]:
            endpoint.state["traffic"] = {proto.id: 100}

    def _undeploy(self, endpoint, deployed_model_id):
        endpoint.state["models"] = [
            m for m in endpoint.state["models"] if m.id != deployed_model_id
        ]
        endpoint.state["traffic"].pop(deployed_model_id, None)

    def _predict(self, endpoint, instances):
        serving = max(endpoint.state["traffic"], key=endpoint.state["traffic"].get)
        proto = next(m for m in endpoint.state["models"] if m.id == serving)
        release = make_release(proto.display_name, int(proto.model_version_id))
        models = {m.isbn: m for m in release.models}
        answers = [forecast(models[i["isbn"]], i["horizon"]) for i in instances]
        return aiplatform.models.Prediction(predictions=answers, deployed_model_id=serving)

    def sdk_calls(self) -> list:
        mocks = [
            self.init,
            self.endpoint_cls,
            self.model_cls,
            self.registry_cls,
            *self.endpoints.values(),
        ]
        return [c for m in mocks for c in m.mock_calls]
