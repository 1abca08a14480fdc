"""The prediction server's HTTP contract, through FastAPI's TestClient (no network)."""

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from support.releases import ISBN_A, ISBN_B, NAME_A, NAME_B, unforecastable

from shelfcast.serving.app import create_app
from shelfcast.serving.config import ServerConfig
from shelfcast.serving.pool import ModelPool


@pytest.fixture(scope="module")
def pool(bundles) -> ModelPool:
    return ModelPool.from_bundles(bundles, versions={NAME_A: "3", NAME_B: "1"}, release_id="r-1")


def client_for(pool: ModelPool, **config) -> TestClient:
    return TestClient(create_app(pool, ServerConfig(release_uri="unused", **config)))


@pytest.fixture(scope="module")
def client(pool):
    with client_for(pool, deployed_model_id="dm-7") as c:
        yield c


def with_actual(actual: bytes) -> bytes:
    return b'{"instances": [{"isbn": "9780722532935", "actuals": [' + actual + b"]}]}"


def post(client, body, **kwargs):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/predict", content=content, headers={"Content-Type": "application/json"}, **kwargs
    )


def test_predicts_by_isbn_and_model_name_in_request_order(client, bundles):
    response = post(
        client,
        {
            "instances": [
                {"isbn": ISBN_B, "horizon": 32, "level": [80, 95]},
                {"model_name": NAME_A, "horizon": 5, "level": [50]},
            ],
            "parameters": {},
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["deployedModelId"] == "dm-7"
    first, second = body["predictions"]
    assert (first["isbn"], first["model_name"], first["model_version"]) == (ISBN_B, NAME_B, "1")
    assert first["model_family"] == bundles[NAME_B].family
    assert len(first["weeks"]) == 32
    bounds = {"lo_80", "hi_80", "lo_95", "hi_95"}
    assert set(first["weeks"][0]) == {"week_ending", "mean", *bounds, "p10", "p50", "p90"}
    for week in first["weeks"]:
        assert 0 <= week["lo_95"] <= week["lo_80"] <= week["mean"] <= week["hi_80"] <= week["hi_95"]
        assert 0 <= week["p10"] <= week["p50"] <= week["p90"]
    assert (second["model_name"], second["model_version"], len(second["weeks"])) == (NAME_A, "3", 5)
    assert set(second["weeks"][0]) == {"week_ending", "mean", "lo_50", "hi_50", "p10", "p50", "p90"}


def test_quantiles_are_the_bundles_and_requests_choose_them(client, bundles):
    body = {
        "instances": [
            {"isbn": ISBN_A, "horizon": 6},
            {"isbn": ISBN_A, "horizon": 6, "quantiles": [0.975, 0.025, 0.5, 0.025]},
            {"isbn": ISBN_A, "horizon": 6, "quantiles": []},
        ],
        "parameters": {"quantiles": [0.05, 0.95]},
    }
    given, own, none = post(client, body).json()["predictions"]
    assert set(given["weeks"][0]) == {"week_ending", "mean", "lo_80", "hi_80", "lo_95", "hi_95"} | {
        "p5",
        "p95",
    }
    expected = bundles[NAME_A].forecast(6, (80, 95), quantiles=(0.025, 0.5, 0.975))
    for column in ("p2.5", "p50", "p97.5"):
        assert [w[column] for w in own["weeks"]] == expected[column].round(3).tolist()
    assert "p10" not in own["weeks"][0]
    assert set(none["weeks"][0]) == {"week_ending", "mean", "lo_80", "hi_80", "lo_95", "hi_95"}


def test_the_server_configs_quantiles_are_the_default(pool):
    with client_for(pool, quantiles=(0.25, 0.75)) as c:
        week = post(c, {"instances": [{"isbn": ISBN_A, "horizon": 2}]}).json()["predictions"][0]
    assert {"p25", "p75"} <= set(week["weeks"][0]) and "p10" not in week["weeks"][0]


def test_the_cache_keeps_forecasts_with_other_quantiles_apart(pool):
    with client_for(pool) as c:
        for quantiles in ([0.1, 0.9], [0.2], [0.1, 0.9]):
            instance = {"isbn": ISBN_B, "horizon": 3, "quantiles": quantiles}
            week = post(c, {"instances": [instance]}).json()["predictions"][0]["weeks"][0]
            shown = sorted(k for k in week if k.startswith("p"))
            assert shown == sorted(f"p{round(q * 100):g}" for q in quantiles)


def test_parameters_give_defaults_and_instances_override_them(client):
    body = {
        "instances": [{"isbn": ISBN_A}, {"isbn": ISBN_A, "horizon": 2}],
        "parameters": {"horizon": 4, "level": [90]},
    }
    first, second = post(client, body).json()["predictions"]
    assert (len(first["weeks"]), len(second["weeks"])) == (4, 2)
    assert "hi_90" in first["weeks"][0]
    default = post(client, {"instances": [{"isbn": ISBN_A}]}).json()["predictions"][0]
    assert len(default["weeks"]) == 32 and "lo_80" in default["weeks"][0]


def test_actuals_update_the_title_before_forecasting(client, bundles):
    end = bundles[NAME_A].history.end.date()
    actuals = [{"week_ending": str(end + timedelta(weeks=1)), "volume": 312}]
    body = {"instances": [{"isbn": ISBN_A, "horizon": 3, "actuals": actuals}]}
    weeks = post(client, body).json()["predictions"][0]["weeks"]
    assert weeks[0]["week_ending"] == str(end + timedelta(weeks=2))


def test_a_bad_instance_gets_an_error_in_its_place_and_the_others_are_answered(client, bundles):
    end = bundles[NAME_A].history.end.date()
    instances = [
        {"isbn": ISBN_A, "horizon": 3},
        {"isbn": ISBN_A, "horizon": 0},
        {"isbn": "9781111111111"},
        {"isbn": ISBN_B, "actuals": [{"week_ending": str(end + timedelta(days=2)), "volume": 1}]},
        {"isbn": ISBN_B, "actuals": [{"week_ending": str(end), "volume": -1}]},
        "not an object",
        {"isbn": ISBN_A, "model_name": NAME_A},
        {"isbn": ISBN_A, "colour": "blue"},
    ]
    response = post(client, {"instances": instances})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions[0]["weeks"]) == 3
    errors = [p["error"] for p in predictions[1:]]
    assert [e["field"] for e in errors] == [
        "instances[1].horizon",
        "instances[2].isbn",
        "instances[3].actuals[0].week_ending",
        "instances[4].actuals[0].volume",
        "instances[5]",
        "instances[6]",
        "instances[7].colour",
    ]
    assert "greater than or equal to 1" in errors[0]["reason"]
    assert "no model for isbn '9781111111111'" in errors[1]["reason"]
    assert "Monday" in errors[2]["reason"]
    assert "exactly one of isbn and model_name" in errors[5]["reason"]


def test_a_title_that_cannot_be_forecast_gets_an_error_and_the_others_are_answered(bundles):
    good = bundles[NAME_A]
    broken = unforecastable(good, ISBN_B)
    actual = {"week_ending": str(good.history.end.date() + timedelta(weeks=1)), "volume": 2}
    instances = [
        {"isbn": ISBN_B, "actuals": [actual]},
        {"isbn": ISBN_A, "actuals": [actual]},
        {"isbn": ISBN_B},
    ]
    with client_for(ModelPool.from_bundles({NAME_A: good, NAME_B: broken})) as client:
        response = post(client, {"instances": instances})
    assert response.status_code == 200
    first, second, third = response.json()["predictions"]
    assert first["error"]["field"] == "instances[0].actuals"
    assert first["error"]["reason"].startswith(f"cannot forecast: {ISBN_B}: theta forecast")
    assert second["isbn"] == ISBN_A and len(second["weeks"]) == 32
    assert third["error"]["field"] == "instances[2]"


def test_when_no_instance_can_be_answered_the_request_is_refused(client):
    unknown = post(client, {"instances": [{"isbn": "9781111111111"}, {"model_name": "x"}]})
    assert unknown.status_code == 404
    body = unknown.json()
    assert body["error"]["field"] == "instances[0].isbn"
    assert [p["error"]["field"] for p in body["predictions"]] == [
        "instances[0].isbn",
        "instances[1].model_name",
    ]
    invalid = post(
        client, {"instances": [{"isbn": "9781111111111"}, {"isbn": ISBN_A, "horizon": 261}]}
    )
    assert invalid.status_code == 422
    assert invalid.json()["predictions"][1]["error"]["field"] == "instances[1].horizon"


def test_a_request_with_several_bad_fields_names_every_one(client):
    body = {
        "instances": [{"isbn": ISBN_A, "horizon": 0, "level": []}, {"isbn": "9781111111111"}],
        "parameters": {"horizon": 0},
        "colour": "blue",
        "size": 3,
    }
    response = post(client, body)
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == {"field": "colour", "reason": "unknown field 'colour'"}
    assert answer["errors"][0] == answer["error"]
    assert [e["field"] for e in answer["errors"]] == [
        "colour",
        "size",
        "parameters.horizon",
        "instances[0].horizon",
        "instances[0].level",
        "instances[1].isbn",
    ]
    assert all(e["reason"] for e in answer["errors"])


def test_an_instance_with_several_bad_fields_names_every_one(client):
    bad = {"isbn": ISBN_A, "horizon": 0, "level": [0, 100], "colour": "blue"}
    fields = ["horizon", "level[0]", "level[1]", "colour"]
    alone = post(client, {"instances": [bad]})  # nothing answered: refused whole
    assert alone.status_code == 422
    answer = alone.json()
    assert answer["error"]["field"] == "instances[0].horizon"
    assert [e["field"] for e in answer["errors"]] == [f"instances[0].{f}" for f in fields]
    assert answer["predictions"] == [{"error": answer["error"], "errors": answer["errors"]}]
    beside = post(client, {"instances": [{"isbn": ISBN_A, "horizon": 2}, bad]})
    assert beside.status_code == 200  # answered, with every problem of the bad instance
    error = beside.json()["predictions"][1]
    assert error["error"]["field"] == "instances[1].horizon"
    assert [e["field"] for e in error["errors"]] == [f"instances[1].{f}" for f in fields]


def test_one_problem_keeps_the_one_error_body(client):
    response = post(client, {"instances": [{"isbn": ISBN_A, "horizon": 0}]})
    assert response.status_code == 422
    assert set(response.json()) == {"error", "predictions"}
    assert response.json()["predictions"] == [{"error": response.json()["error"]}]
    unknown = post(client, {"instances": [{"isbn": ISBN_A}], "colour": "blue"})
    assert unknown.json() == {"error": {"field": "colour", "reason": "unknown field 'colour'"}}


def test_too_many_instances_beside_another_problem_is_one_of_the_422s_problems(pool):
    with client_for(pool, max_instances=2) as c:
        alone = post(c, {"instances": [{"isbn": ISBN_A}] * 3})
        assert (alone.status_code, alone.json()["error"]["field"]) == (413, "instances")
        both = post(c, {"instances": [{"isbn": ISBN_A}] * 3, "colour": "blue"})
        assert both.status_code == 422
        assert [e["field"] for e in both.json()["errors"]] == ["colour", "instances"]
        assert "at most 2 instances" in both.json()["errors"][1]["reason"]


def test_the_errors_listed_are_bounded(client):
    body = {
        "instances": [{"isbn": ISBN_A, "level": [0] * 5}] * 30,
        **{f"x{i}": 1 for i in range(3)},
    }
    answer = post(client, body).json()
    assert len(answer["errors"]) == 100  # of 3 + 30 x 5 problems
    assert [e["field"] for e in answer["errors"][:4]] == ["x0", "x1", "x2", "instances[0].level[0]"]
    many = {"isbn": ISBN_A, "level": [0] * 5, "horizon": 0, **{f"y{i}": 1 for i in range(6)}}
    answer = post(client, {"instances": [many]}).json()
    assert len(answer["errors"]) == 12
    assert len(answer["predictions"][0]["errors"]) == 10  # an instance's own list: the first 10


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{", 400, "body"),
        (b"", 400, "body"),
        (b'{"instances": [{"isbn": "9780722532935", "horizon": NaN}]}', 400, "body"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "body"),
        (b"\xff\xfe", 400, "body"),
        (b"[]", 422, "body"),
        (b'"instances"', 422, "body"),
        (b"{}", 422, "instances"),
        (b'{"instances": {}}', 422, "instances"),
        (b'{"instances": []}', 422, "instances"),
        (b'{"instances": [{"isbn": "9780722532935"}], "extra": 1}', 422, "extra"),
        (
            b'{"instances": [{"isbn": "9780722532935"}], "parameters": {"horizon": 300}}',
            422,
            "parameters.horizon",
        ),
        (b'{"instances": [{"isbn": "9780722532935"}], "parameters": []}', 422, "parameters"),
        (b'{"instances": [{"isbn": 9780722532935}]}', 422, "instances[0].isbn"),
        (
            b'{"instances": [{"isbn": "9780722532935", "horizon": "32"}]}',
            422,
            "instances[0].horizon",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935", "horizon": 32.5}]}',
            422,
            "instances[0].horizon",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935", "horizon": true}]}',
            422,
            "instances[0].horizon",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935", "horizon": 1e400}]}',
            422,
            "instances[0].horizon",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935", "level": [100]}]}',
            422,
            "instances[0].level[0]",
        ),
        (b'{"instances": [{"isbn": "9780722532935", "level": []}]}', 422, "instances[0].level"),
        (b'{"instances": [{"isbn": "9780722532935", "level": 80}]}', 422, "instances[0].level"),
        (
            b'{"instances": [{"isbn": "9780722532935", "quantiles": [0.1, 1.5]}]}',
            422,
            "instances[0].quantiles[1]",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935", "quantiles": [0]}]}',
            422,
            "instances[0].quantiles[0]",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935", "quantiles": ["0.1"]}]}',
            422,
            "instances[0].quantiles[0]",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935", "quantiles": [true]}]}',
            422,
            "instances[0].quantiles[0]",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935", "quantiles": 0.5}]}',
            422,
            "instances[0].quantiles",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935", "quantiles": [' + b"0.5, " * 20 + b"0.5]}]}",
            422,
            "instances[0].quantiles",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935"}], "parameters": {"quantiles": [0.999]}}',
            422,
            "parameters.quantiles[0]",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935"}], "parameters": {"quantiles": [null]}}',
            422,
            "parameters.quantiles[0]",
        ),
        (
            with_actual(b'{"week_ending": 20240727, "volume": 1}'),
            422,
            "instances[0].actuals[0].week_ending",
        ),
        (
            with_actual(b'{"week_ending": "2024-02-30", "volume": 1}'),
            422,
            "instances[0].actuals[0].week_ending",
        ),
        (
            with_actual(b'{"week_ending": "2024-07-27T00:00:00", "volume": 1}'),
            422,
            "instances[0].actuals[0].week_ending",
        ),
        (
            with_actual(b'{"week_ending": "2017-10-07", "volume": 1e400}'),
            422,
            "instances[0].actuals[0].volume",
        ),
        (
            with_actual(b'{"week_ending": "2017-10-07", "volume": 1e12}'),
            422,
            "instances[0].actuals[0].volume",
        ),
        (with_actual(b'{"week_ending": "2017-10-07"}'), 422, "instances[0].actuals[0].volume"),
        (
            with_actual(b'{"week_ending": "1999-01-02", "volume": 1}'),
            422,
            "instances[0].actuals[0].week_ending",
        ),
        (
            with_actual(b'{"week_ending": "9999-12-25", "volume": 1}'),
            422,
            "instances[0].actuals[0].week_ending",
        ),
        (
            b'{"instances": [{"isbn": "9780722532935", "actuals": "none"}]}',
            422,
            "instances[0].actuals",
        ),
        (b'{"instances": [{"isbn": ""}]}', 422, "instances[0].isbn"),
        (b'{"instances": [null]}', 422, "instances[0]"),
        (b'{"instances": [{"isbn": "' + b"9" * 5000 + b'"}]}', 422, "instances[0].isbn"),
    ],
)
def test_bad_requests_get_a_4xx_json_error_naming_the_field(client, body, status, field):
    response = post(client, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["reason"]


def test_size_limits(pool):
    with client_for(pool, max_body_bytes=2_000, max_instances=5, max_response_bytes=20_000) as c:
        big = {"instances": [{"isbn": ISBN_A, "actuals": []}] * 3, "pad": "x" * 3_000}
        response = post(c, big)
        assert (response.status_code, response.json()["error"]["field"]) == (413, "body")

        def chunks():  # no Content-Length: the limit holds while the body streams in
            yield b'{"instances": ['
            for _ in range(100):
                yield b'{"isbn": "9780722532935"},'
            yield b'{"isbn": "9780722532935"}]}'

        streamed = c.post("/predict", content=chunks())
        assert (streamed.status_code, streamed.json()["error"]["field"]) == (413, "body")
        many = post(c, {"instances": [{"isbn": ISBN_A}] * 6})
        assert (many.status_code, many.json()["error"]["field"]) == (413, "instances")
        assert "at most 5 instances" in many.json()["error"]["reason"]
        long = post(c, {"instances": [{"isbn": ISBN_A, "horizon": 260}] * 2})
        assert (long.status_code, long.json()["error"]["field"]) == (413, "instances")
        assert "at least" in long.json()["error"]["reason"]  # refused before forecasting
        near = post(c, {"instances": [{"isbn": ISBN_A, "horizon": 55}] * 3})
        assert (near.status_code, near.json()["error"]["field"]) == (413, "instances")
        assert "at least" not in near.json()["error"]["reason"]  # refused once measured
        assert post(c, {"instances": [{"isbn": ISBN_A, "horizon": 8}] * 5}).status_code == 200


def test_health_metrics_and_unknown_paths(client):
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ready", "release": "r-1", "loaded": 2, "total": 2}
    post(client, {"instances": [{"isbn": ISBN_A, "horizon": 7}, {"isbn": "9781111111111"}]})
    post(client, b"{")
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "path"
    wrong_method = client.get("/predict")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert wrong_method.json()["error"]["field"] == "method"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'shelfcast_requests_total{route="predict",status="200"}' in text
    assert 'shelfcast_requests_total{route="predict",status="400"}' in text
    assert 'shelfcast_requests_total{route="other",status="404"}' in text
    assert 'shelfcast_request_seconds_bucket{le="0.005",route="predict"}' in text
    assert f'shelfcast_predictions_total{{model="{NAME_A}"}}' in text
    assert 'shelfcast_errors_total{kind="unknown_title"}' in text
    assert 'shelfcast_errors_total{kind="bad_request"}' in text
    assert "shelfcast_models_loaded 2.0" in text and "shelfcast_ready 1.0" in text


def test_vertex_routes(pool):
    route = "/v1/endpoints/123/deployedModels/456:predict"
    with client_for(pool, predict_route=route, health_route="/ping") as c:
        assert c.get("/ping").status_code == 200
        response = c.post(route, json={"instances": [{"isbn": ISBN_A, "horizon": 1}]})
        assert response.status_code == 200
        assert c.post("/predict", json={"instances": [{"isbn": ISBN_A}]}).status_code == 404
        assert 'route="predict",status="200"' in c.get("/metrics").text


def test_a_configured_token_guards_predict_and_metrics_but_not_health(pool):
    body = {"instances": [{"isbn": ISBN_A, "horizon": 1}]}
    with client_for(pool, token="s3cret") as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
            refused = c.post("/predict", json=body, headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.json()["error"]["field"] == "Authorization"
            assert c.get("/metrics", headers=headers).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert c.post("/predict", json=body, headers=good).status_code == 200
        assert c.get("/metrics", headers=good).status_code == 200
        assert c.get("/health").status_code == 200


def test_openapi_schema_describes_the_request_and_resolves(client):
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    for name in (
        "PredictRequest",
        "Instance",
        "Actual",
        "Parameters",
        "PredictResponse",
        "ErrorResponse",
    ):
        assert name in components
    for name in ("Instance", "Parameters"):
        quantiles = components[name]["properties"]["quantiles"]["anyOf"][0]
        assert quantiles["maxItems"] == 20
        assert (quantiles["items"]["minimum"], quantiles["items"]["maximum"]) == (0.005, 0.995)
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/PredictRequest"}
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"].rsplit("/", 1)[1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert refs <= set(components)
