"""The Grafana dashboard and docs/metrics.md use exactly the metrics a server exports: every
metric name in their PromQL appears in a real server's /metrics after some traffic."""

import json
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from support.releases import ISBN_A

from shelfcast.serving.app import create_app
from shelfcast.serving.config import ServerConfig

DOCS = Path(__file__).parents[2] / "docs"
DASHBOARD = DOCS / "grafana" / "shelfcast-server.json"
METRIC = re.compile(r"\bshelfcast_[a-z_]+\b")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@pytest.fixture(scope="module")
def metrics_text(release, tmp_path_factory) -> str:
    """A server's /metrics (with its prediction log) after good, refused and bad requests."""
    log = str(tmp_path_factory.mktemp("predictions"))
    config = ServerConfig(release_uri=release.uri, prediction_log=log)
    with TestClient(create_app(release.uri, config)) as client:
        deadline = time.monotonic() + 30
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline, client.get("/health").text
            time.sleep(0.05)
        for body in (
            {"instances": [{"isbn": ISBN_A, "horizon": 4}]},
            {"instances": [{"isbn": "9780141439518"}]},
            {"instances": [{"isbn": ISBN_A, "horizon": 0}, {"isbn": ISBN_A}]},
        ):
            client.post("/predict", json=body)
        client.post("/predict", content=b"{not json", headers={"Content-Type": "application/json"})
        return client.get("/metrics").text


@pytest.fixture(scope="module")
def exported(metrics_text) -> set[str]:
    """The sample names exported (`shelfcast_requests_total`, `..._bucket`, ...)."""
    families = text_string_to_metric_families(metrics_text)
    return {s.name for family in families for s in family.samples}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def queries(board: dict) -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and variable queries."""
    found = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            found.append(variable["query"]["query"])
    return found


def test_every_metric_in_the_dashboard_is_exported(exported):
    exprs = queries(dashboard())
    assert len(exprs) >= 10
    for expr in exprs:
        names = set(METRIC.findall(expr))
        assert names, f"no Shelfcast metric in {expr!r}"
        assert names <= exported, f"{expr!r} uses {sorted(names - exported)}, not exported"


def test_every_metric_in_the_docs_is_exported(metrics_text, exported):
    text = (DOCS / "metrics.md").read_text()
    promql = "\n".join(re.findall(r"```promql\n(.*?)```", text, flags=re.S))
    assert set(METRIC.findall(promql)) <= exported
    server = text.split("## The metrics", 1)[1].split("\n## ", 1)[0]  # the router's are apart
    documented = set(re.findall(r"^\| `(shelfcast_[a-z_]+)` \|", server, flags=re.M))
    families = {
        f"{f.name}_total" if f.type == "counter" else f.name
        for f in text_string_to_metric_families(metrics_text)
        if not f.name.endswith("_created")  # the text format lists these apart
    }
    assert documented == families


def test_the_dashboard_asks_for_its_data_source():
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"] == DATASOURCE
        assert all(t["datasource"] == DATASOURCE for t in panel["targets"])
    titles = " ".join(p["title"] for p in panels).lower()
    for needed in ("requests/s", "p50", "p99", "error rate", "top titles"):
        assert needed in titles
