"""The server as Vertex AI runs it: `python -m shelfcast.serving` configured by AIP_* variables,
a real uvicorn on a free 127.0.0.1 port, serving a release from a local artifact store."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.releases import ISBN_A, ISBN_B, NAME_B, publish_release
from support.servers import Server, call, free_port, health_until, running
from typer.testing import CliRunner

from shelfcast.cli import app as cli
from shelfcast.serving.client import PredictionRequestError
from shelfcast.serving.client import predict as client_predict

pytestmark = pytest.mark.integration

SHELFCAST = str(Path(sys.executable).parent / "shelfcast")
PREDICT_ROUTE = "/v1/endpoints/11/deployedModels/22:predict"
HEALTH_ROUTE = "/v1/endpoints/11/deployedModels/22"


@pytest.fixture(scope="module")
def server(tmp_path_factory, release) -> Iterator[Server]:
    variables = {
        "AIP_HEALTH_ROUTE": HEALTH_ROUTE,
        "AIP_PREDICT_ROUTE": PREDICT_ROUTE,
        "AIP_DEPLOYED_MODEL_ID": "22",
    }
    with running(release.uri, tmp_path_factory.mktemp("server"), variables) as server:
        health_until(server, lambda status, body: status == 200)
        yield server


def predict(server: Server, body) -> tuple[int, dict]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, answer = call(server.url + PREDICT_ROUTE, content)
    return status, json.loads(answer)


def test_serves_every_title_of_the_release(server, release):
    status, health = call(server.url + HEALTH_ROUTE)
    assert status == 200
    assert json.loads(health)["release"] == release.release_id
    status, body = predict(
        server,
        {
            "instances": [
                {"isbn": ISBN_A, "horizon": 32, "level": [80, 95]},
                {"model_name": NAME_B, "horizon": 4, "quantiles": [0.05, 0.5, 0.95]},
            ],
            "parameters": {},
        },
    )
    assert status == 200
    assert body["deployedModelId"] == "22"
    first, second = body["predictions"]
    assert first["isbn"] == ISBN_A and len(first["weeks"]) == 32
    bounds = {"week_ending", "mean", "lo_80", "hi_80", "lo_95", "hi_95"}
    assert set(first["weeks"][0]) == bounds | {"p10", "p50", "p90"}  # the settings' quantiles
    assert (second["isbn"], second["model_version"], len(second["weeks"])) == (ISBN_B, "1", 4)
    assert set(second["weeks"][0]) == bounds | {"p5", "p50", "p95"}
    assert all(0 <= w["p5"] <= w["p50"] <= w["p95"] for w in second["weeks"])


def test_bad_requests_get_4xx_over_http(server):
    cases = [
        (b"{not json", 400, "body"),
        (b'{"instances": [{"isbn": "9781111111111"}]}', 404, "instances[0].isbn"),
        (b'{"instances": [{"isbn": "9780722532935", "horizon": 0}]}', 422, "instances[0].horizon"),
        (b'{"instances": [{"isbn": "9780722532935", "horizon": NaN}]}', 400, "body"),
        (
            b'{"instances": [{"isbn": "9780722532935", "quantiles": [0.5, 1]}]}',
            422,
            "instances[0].quantiles[1]",
        ),
        (
            b'{"instances": ' + json.dumps([{"isbn": ISBN_A}] * 1001).encode() + b"}",
            413,
            "instances",
        ),
        (b'{"instances": [], "pad": "' + b"x" * 1_600_000 + b'"}', 413, "body"),
    ]
    for body, status, field in cases:
        got, answer = predict(server, body)
        assert (got, answer["error"]["field"]) == (status, field), answer
    status, body = predict(
        server, {"instances": [{"isbn": ISBN_A, "horizon": 1}, {"isbn": ISBN_A, "level": [0]}]}
    )
    assert status == 200
    assert body["predictions"][1]["error"]["field"] == "instances[1].level[0]"


def test_the_client_names_every_problem_the_server_listed(server):
    with pytest.raises(PredictionRequestError) as refused:
        client_predict(server.url + PREDICT_ROUTE, [{"isbn": ISBN_A, "horizon": 0, "level": []}])
    assert (refused.value.status, refused.value.field) == (422, "instances[0].horizon")
    message = str(refused.value)
    assert message.startswith("422: instances[0].horizon: ")
    assert "; instances[0].level: " in message


def test_the_client_passes_quantiles_through(server):
    answer = client_predict(
        server.url + PREDICT_ROUTE,
        [{"isbn": ISBN_A, "horizon": 2}, {"isbn": ISBN_A, "horizon": 2, "quantiles": [0.3]}],
        parameters={"quantiles": [0.2, 0.8]},
    )
    first, second = (p["weeks"][0] for p in answer["predictions"])
    assert {"p20", "p80"} <= set(first) and "p10" not in first
    assert "p30" in second and "p20" not in second
    with pytest.raises(PredictionRequestError) as refused:
        client_predict(server.url + PREDICT_ROUTE, [{"isbn": ISBN_A}], {"quantiles": [0.5] * 21})
    assert (refused.value.status, refused.value.field) == (422, "parameters.quantiles")


def test_the_predict_route_asked_with_get_answers_405_naming_post(server):
    request = urllib.request.Request(server.url + PREDICT_ROUTE, method="GET")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405
    assert refused.value.headers["Allow"] == "POST"
    assert refused.value.headers["Content-Type"] == "application/json"
    assert json.loads(refused.value.read())["error"]["field"] == "method"


def test_metrics_count_requests_and_titles(server):
    predict(server, {"instances": [{"isbn": ISBN_B, "horizon": 3}]})
    status, text = call(server.url + "/metrics")
    assert status == 200
    metrics = text.decode()
    assert 'shelfcast_requests_total{route="predict",status="200"}' in metrics
    assert f'shelfcast_predictions_total{{model="{NAME_B}"}}' in metrics
    assert 'shelfcast_request_seconds_count{route="health"}' in metrics
    status, schema = call(server.url + "/openapi.json")
    assert status == 200 and PREDICT_ROUTE in json.loads(schema)["paths"]


def test_shelfcast_predict_prints_a_table(server):
    result = CliRunner().invoke(
        cli, ["predict", "--isbn", ISBN_A, "--horizon", "3", "--url", server.url + PREDICT_ROUTE]
    )
    assert result.exit_code == 0, result.output
    assert "80% interval" in result.output and "95% interval" in result.output
    assert all(q in result.output for q in ("p10", "p50", "p90"))
    assert f"arima_book_{ISBN_A} v1" in result.output
    missing = CliRunner().invoke(
        cli, ["predict", "--isbn", "9781111111111", "--url", server.url + PREDICT_ROUTE]
    )
    assert missing.exit_code == 1
    assert "404: instances[0].isbn: no model for isbn '9781111111111'" in missing.output


def test_a_corrupt_bundle_never_gets_healthy_and_the_log_says_why(tmp_path, bundles):
    release = publish_release(tmp_path / "store", bundles)
    bundle_json = tmp_path / "store" / "models" / NAME_B / "1" / "bundle.json"
    bundle_json.write_bytes(
        bundle_json.read_bytes().replace(b'"format_version": 3', b'"format_version": 4')
    )
    with running(release.uri, tmp_path) as server:
        status, body, seen = health_until(server, lambda status, body: body["status"] != "loading")
        assert status == 503 and body["status"] == "failed"
        assert "ChecksumMismatch" in body["reason"]
        time.sleep(0.5)
        assert call(server.url + server.health_route)[0] == 503
        assert 200 not in seen
        log = server.log_text()
        assert "failed to load" in log and str(bundle_json) in log


def test_shelfcast_serve_runs_in_the_foreground(tmp_path, release):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIP_")}
    env["SHELFCAST_HOME"] = str(tmp_path / "home")
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [SHELFCAST, "serve", "--release", release.uri, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log, time.monotonic())
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"shelfcast serve exited:\n{server.log_text()}")
            with contextlib.suppress(urllib.error.URLError, OSError):
                if call(server.url + "/health")[0] == 200:
                    break
            assert time.monotonic() < deadline, server.log_text()
            time.sleep(0.05)
        body = json.dumps({"instances": [{"isbn": ISBN_A}]}).encode()
        assert call(server.url + "/predict", body)[0] == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    assert "Serving release" in server.log_text()
    assert "Application shutdown complete" in server.log_text()  # a graceful stop
    # The prediction was logged, with its release, in the project folder's prediction log.
    (logged,) = (tmp_path / "home/monitoring/predictions").glob("*.jsonl")
    (entry,) = [json.loads(line) for line in logged.read_text().splitlines()]
    assert entry["release_id"] == release.release_id and entry["status"] == 200
    assert entry["request"] == {"instances": [{"isbn": ISBN_A}]}
    assert entry["response"]["predictions"][0]["isbn"] == ISBN_A
