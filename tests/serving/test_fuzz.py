"""Schemathesis fuzzes the server against its own OpenAPI schema, with valid and invalid
bodies: no server error, and every status, content type and body as documented."""

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from shelfcast.forecasting.calibration import quantile_column
from shelfcast.serving.app import create_app
from shelfcast.serving.config import ServerConfig
from shelfcast.serving.pool import ModelPool

EXAMPLES = 150
# Not schemathesis' data acceptance checks: a schema-valid instance may still be refused (an
# unknown ISBN, an actual week that is not one of the title's week endings), and a request
# with one schema-invalid instance among good ones is answered (200, an error in its place).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def api_schema(bundles):
    app = create_app(ModelPool.from_bundles(bundles), ServerConfig(release_uri="unused"))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize(
    ("route", "mode"),
    [
        ("POST /predict", GenerationMode.POSITIVE),
        ("POST /predict", GenerationMode.NEGATIVE),
        ("GET /health", GenerationMode.POSITIVE),
        ("GET /metrics", GenerationMode.POSITIVE),
    ],
    ids=["predict-valid", "predict-invalid", "health", "metrics"],
)
def test_no_input_makes_a_server_error(api_schema, route, mode):
    method, path = route.split()
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        response = case.call_and_validate(checks=CHECKS)
        if mode is GenerationMode.POSITIVE and method == "POST":
            assert response.status_code in (200, 404, 413, 422), response.text

    check()


@pytest.fixture(scope="module")
def client(bundles):
    from fastapi.testclient import TestClient

    app = create_app(ModelPool.from_bundles(bundles), ServerConfig(release_uri="unused"))
    with TestClient(app) as c:
        yield c


def _instances(bundles):
    """Instances for known titles with any horizon, levels, quantiles and actual weeks near
    their end."""
    ends = {b.key: b.history.end.date() for b in bundles.values()}
    volumes = st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-10, 10**12),
        st.sampled_from([0, 1e9, 1e-300]),
    )

    @st.composite
    def instance(draw):
        isbn = draw(st.sampled_from(sorted(ends)))
        weeks = draw(st.lists(st.integers(-600, 300), max_size=8))
        days = draw(st.sampled_from([0, 0, 0, 1, 3]))
        actuals = [
            {
                "week_ending": str(ends[isbn] + timedelta(weeks=w, days=days)),
                "volume": draw(volumes),
            }
            for w in weeks
        ]
        out = {"isbn": isbn, "actuals": actuals}
        if draw(st.booleans()):
            out["horizon"] = draw(st.integers(-2, 270))
        if draw(st.booleans()):
            out["level"] = draw(st.lists(st.integers(-1, 101), max_size=6))
        if draw(st.booleans()):
            quantile = st.one_of(st.floats(-0.1, 1.1), st.sampled_from([0.005, 0.995, 0, 1]))
            out["quantiles"] = draw(st.lists(quantile, max_size=22))
        return out

    return st.lists(instance(), min_size=1, max_size=4)


def test_known_titles_with_any_horizon_levels_quantiles_and_actuals(client, bundles):
    @given(instances=_instances(bundles))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
    def check(instances):
        response = client.post("/predict", json={"instances": instances})
        assert response.status_code in (200, 413, 422), response.text
        predictions = response.json()["predictions"]
        assert len(predictions) == len(instances)
        for instance, prediction in zip(instances, predictions, strict=True):
            if "error" in prediction:
                assert prediction["error"]["field"].startswith("instances[")
                continue
            assert len(prediction["weeks"]) == instance.get("horizon", 32)
            quantiles = sorted({round(q, 5) for q in instance.get("quantiles", (0.1, 0.5, 0.9))})
            for week in prediction["weeks"]:
                assert all(v >= 0 for k, v in week.items() if k != "week_ending")
                values = [week[quantile_column(q)] for q in quantiles]
                assert values == sorted(values)

    check()
