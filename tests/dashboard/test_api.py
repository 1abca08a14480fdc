"""The dashboard's routes through FastAPI's TestClient: answers, JSON errors naming the field,
the endpoint-down message and the token. The endpoint is an in-memory backend serving a
real release (its forecasts are the backend's, checked to be passed through unchanged)."""

import dataclasses
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from support.actuals import ingest_after
from support.catalogue_release import MODEL, catalogue_table, publish_table, versions_of
from support.memory_backend import MemoryBackend
from support.releases import ISBN_A, ISBN_B, NAME_A, NAME_B, publish_release
from typer.testing import CliRunner

from shelfcast.catalog.segments import Segment
from shelfcast.cli import app as cli
from shelfcast.dashboard import source as source_module
from shelfcast.dashboard.app import COOKIE, create_app
from shelfcast.dashboard.server import DashboardConfig, DashboardConfigError
from shelfcast.dashboard.source import DashboardSource, backtest_summary
from shelfcast.endpoints.base import PredictionFailed
from shelfcast.monitoring.report import build_report, latest_report_path, read_report, write_report
from shelfcast.releases import MANIFEST
from shelfcast.settings import Settings

ENDPOINT = "book-sales"
UNKNOWN_ISBN = "9780141439518"  # valid, not in the release


class DownBackend(MemoryBackend):
    def predict(self, name, instances, deployed_model_id=None):
        raise PredictionFailed("cannot reach http://127.0.0.1:1/predict: Connection refused")


def deployed(backend: MemoryBackend, release) -> MemoryBackend:
    backend.get_or_create(ENDPOINT)
    model = backend.deploy(ENDPOINT, release)
    backend.set_traffic(ENDPOINT, {model.id: 100})
    return backend


@pytest.fixture
def settings(tmp_path, release) -> Settings:
    return Settings(home=tmp_path / "home", artifact_uri=release.store)


@pytest.fixture
def backend(release) -> MemoryBackend:
    return deployed(MemoryBackend(), release)


@pytest.fixture
def client(backend, settings):
    with TestClient(create_app(DashboardSource(backend, ENDPOINT, settings))) as c:
        yield c


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["error"]


def test_titles_lists_the_serving_release_and_filters(client, release):
    body = client.get("/api/titles").json()
    assert body["release_id"] == release.release_id
    assert {t["isbn"] for t in body["titles"]} == {ISBN_A, ISBN_B}
    (found,) = client.get("/api/titles", params={"q": ISBN_A[-6:]}).json()["titles"]
    assert found["isbn"] == ISBN_A
    assert client.get("/api/titles", params={"q": "no such title"}).json()["titles"] == []


@pytest.fixture(scope="module")
def segmented(tmp_path_factory, bundles):
    """A release whose title A's bundle records another segment: young/lumpy."""
    lumpy = Segment("young", "lumpy", weeks=90, adi=1.8, cv2=0.7, weeks_since_sale=2)
    a = bundles[NAME_A]
    evaluation = {**a.evaluation, "segment": lumpy.as_dict()}
    edited = {**bundles, NAME_A: dataclasses.replace(a, evaluation=evaluation)}
    return publish_release(tmp_path_factory.mktemp("segmented"), edited)


def client_for(release, tmp_path) -> TestClient:
    settings = Settings(home=tmp_path / "home", artifact_uri=release.store)
    return TestClient(
        create_app(DashboardSource(deployed(MemoryBackend(), release), ENDPOINT, settings))
    )


def test_titles_show_their_segment_and_family_filter_by_segment_and_count_them(
    segmented, bundles, tmp_path
):
    family_a, family_b = bundles[NAME_A].family, bundles[NAME_B].family
    with client_for(segmented, tmp_path) as client:
        body = client.get("/api/titles").json()
        by_segment = {
            wanted: [
                t["isbn"]
                for t in client.get("/api/titles", params={"segment": wanted}).json()["titles"]
            ]
            for wanted in ("young", "lumpy", "young/lumpy", "established/smooth", "smooth", "new")
        }
        error = error_of(client.get("/api/titles", params={"segment": "young/steady"}), 422)
        page = client.get("/").text
        title = client.get(f"/api/titles/{ISBN_A}").json()
    assert {t["isbn"]: (t["segment"], t["model_family"]) for t in body["titles"]} == {
        ISBN_A: ("young/lumpy", family_a),
        ISBN_B: ("established/smooth", family_b),
    }
    assert by_segment == {
        "young": [ISBN_A],
        "lumpy": [ISBN_A],
        "young/lumpy": [ISBN_A],
        "established/smooth": [ISBN_B],
        "smooth": [ISBN_B],
        "new": [],
    }
    assert body["segments"] == [
        {"segment": "young/lumpy", "titles": 1, "families": {family_a: 1}},
        {"segment": "established/smooth", "titles": 1, "families": {family_b: 1}},
    ]
    assert error["field"] == "segment" and "young/steady" in error["reason"]
    assert '<option value="young/lumpy">young/lumpy (1)</option>' in page
    assert f'<option value="{ISBN_A}" data-segment="young/lumpy"' in page
    assert f"· young/lumpy · {family_a}" in page
    counts = page[page.index('data-testid="segment-counts"') :]
    assert '<tr data-segment="established/smooth">' in counts[: counts.index("</table>")]
    assert (title["segment"], title["model_family"]) == ("young/lumpy", family_a)
    assert title["segment_detail"] == {
        "name": "young/lumpy",
        "stage": "young",
        "demand": "lumpy",
        "weeks": 90,
        "adi": 1.8,
        "cv2": 0.7,
        "weeks_since_sale": 2,
    }


def test_a_release_without_recorded_segments_shows_each_titles_from_its_bundle(bundles, tmp_path):
    release = publish_release(tmp_path / "store", bundles)
    path = Path(release.uri) / MANIFEST
    manifest = json.loads(path.read_text())
    for entry in manifest["models"]:  # as manifests were written before segments
        del entry["segment"]
    path.write_text(json.dumps(manifest))
    with client_for(release, tmp_path) as client:
        body = client.get("/api/titles").json()
        page = client.get("/").text
        title = client.get(f"/api/titles/{ISBN_B}").json()
    assert [t["segment"] for t in body["titles"]] == [None, None]
    families = Counter(b.family for b in bundles.values())
    assert body["segments"] == [{"segment": None, "titles": 2, "families": families}]
    assert 'id="segment-filter"' not in page and "not recorded in the release" in page
    assert title["segment"] == bundles[NAME_B].segment.name == "established/smooth"


def test_title_shows_history_backtest_and_the_endpoints_forecast(client, backend, bundles):
    body = client.get(f"/api/titles/{ISBN_A}", params={"horizon": 6}).json()
    history = bundles[NAME_A].history
    assert body["model_name"] == NAME_A and body["release_id"]
    assert body["history"]["week_ending"][-1] == history.end.date().isoformat()
    assert body["history"]["volume"] == history.values.tolist()
    backtest = body["backtest"]
    assert backtest["selected"] == bundles[NAME_A].evaluation["selected"]
    assert backtest["metrics"][0]["candidate"] == backtest["selected"]
    evaluation = bundles[NAME_A].evaluation
    stored = evaluation["backtest"]["forecasts"]
    assert stored and [dict(f, week_ending=None) for f in backtest["forecasts"]] == [
        dict(f, week_ending=None) for f in stored
    ]
    for shown in [*backtest["forecasts"], backtest["holdout_forecast"]]:
        weeks = pd.date_range(shown["start"], periods=len(shown["mean"]), freq="7D")
        assert shown["week_ending"] == [f"{d:%Y-%m-%d}" for d in weeks]
    held = dict(backtest["holdout_forecast"])
    del held["week_ending"]
    assert held == evaluation["holdout_forecast"]
    expected = backend.predict(ENDPOINT, [{"isbn": ISBN_A, "horizon": 6}]).predictions[0]
    forecast = body["forecast"]
    assert forecast["available"] is True
    assert forecast["weeks"] == expected["weeks"]
    assert body["accuracy"] == {"actual_weeks": 0, "weeks": [], "figures": None, "report": None}


def test_the_endpoint_is_asked_for_the_settings_levels_and_quantiles(release, settings):
    asked = []

    class Recording(MemoryBackend):
        def predict(self, name, instances, deployed_model_id=None):
            asked.extend(instances)
            return super().predict(name, instances, deployed_model_id)

    serving = settings.serving.model_copy(update={"levels": (90,), "quantiles": (0.05, 0.95)})
    chosen = settings.model_copy(update={"serving": serving})
    source = DashboardSource(deployed(Recording(), release), ENDPOINT, chosen)
    with TestClient(create_app(source)) as client:
        client.get(f"/api/titles/{ISBN_A}", params={"horizon": 4})
        page = client.get("/").text
    assert asked == [{"isbn": ISBN_A, "horizon": 4, "level": [90], "quantiles": [0.05, 0.95]}]
    assert 'data-quantiles="p5,p95"' in page and "<th>p5</th><th>p95</th>" in page


def test_actual_weeks_are_shown_beside_the_releases_forecast_of_them(
    client, settings, bundles, tmp_path
):
    bundle = bundles[NAME_A]
    expected = bundle.forecast(6)
    weeks = ingest_after(settings, bundle.history, [100.0 + i for i in range(6)], tmp_path)
    accuracy = client.get(f"/api/titles/{ISBN_A}").json()["accuracy"]
    compared = accuracy["weeks"]
    assert weeks == [f"{d:%Y-%m-%d}" for d in expected.week_ending]
    assert [w["week_ending"] for w in compared] == weeks
    assert [w["actual"] for w in compared] == [100.0 + i for i in range(6)]
    assert [w["mean"] for w in compared] == pytest.approx(expected["mean"].tolist())
    assert [w["horizon"] for w in compared] == list(range(1, 7))
    assert accuracy["figures"]["weeks"] == 6


def test_a_bundle_without_stored_forecasts_shows_none():
    evaluation = {"champion": "theta", "backtest": {"horizon": 32, "origins": [], "mean": {}}}
    summary = backtest_summary(evaluation)  # written before `champion` became `selected`
    assert summary["forecasts"] == [] and summary["holdout_forecast"] is None
    assert summary["selected"] == "theta"


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        (f"/api/titles/{UNKNOWN_ISBN}", {}, 404, "isbn"),
        ("/api/titles/not-an-isbn", {}, 422, "isbn"),
        ("/api/titles/9780722532936", {}, 422, "isbn"),  # wrong check digit
        (f"/api/titles/{ISBN_A}", {"horizon": 0}, 422, "horizon"),
        (f"/api/titles/{ISBN_A}", {"horizon": 261}, 422, "horizon"),
        (f"/api/titles/{ISBN_A}", {"horizon": "soon"}, 422, "horizon"),
        ("/api/titles", {"q": "x" * 201}, 422, "q"),
        ("/api/report", {}, 404, "report"),
        ("/api/nothing-here", {}, 404, "path"),
    ],
)
def test_bad_input_gets_a_json_error_naming_the_field(client, path, params, status, field):
    error = error_of(client.get(path, params=params), status)
    assert error["field"] == field and error["reason"]


def test_wrong_method_is_a_json_4xx(client):
    assert error_of(client.post("/api/titles"), 405)["field"] == "path"


def test_the_latest_report_and_its_alerts_are_shown(client, settings, bundles, tmp_path):
    bundle = bundles[NAME_B]
    shifted = (3 * bundle.forecast(8, (95,))["hi_95"] + 50).tolist()  # far above the 95% interval
    ingest_after(settings, bundle.history, shifted, tmp_path)
    write_report(build_report(settings), settings)

    report = client.get("/api/report").json()
    assert report == read_report(latest_report_path(settings))
    assert "level_shift" in {a["rule"] for a in report["alerts"] if a["isbn"] == ISBN_B}
    page = client.get("/").text
    assert f'data-testid="alert" data-isbn="{ISBN_B}" data-rule="level_shift"' in page
    segments = page[page.index('data-testid="report-segments"') :]
    segments = segments[: segments.index("</table>")]
    assert '<tr data-segment="established/smooth">' in segments
    assert '<tr data-segment="all">' in segments
    assert [s["segment"] for s in report["segments"]] == ["established/smooth", "all"]
    titles = page[page.index('data-testid="report-titles"') :]
    row = titles[titles.index(f'<tr data-isbn="{ISBN_B}">') :]
    row = row[: row.index("</tr>")]
    assert '<td data-testid="segment">established/smooth</td>' in row
    assert f"<td>{bundle.family}</td>" in row
    title = client.get(f"/api/titles/{ISBN_B}").json()["accuracy"]["report"]
    assert title["title"]["isbn"] == ISBN_B and title["alerts"]


def test_endpoint_down_says_so_and_gives_no_forecast(release, settings):
    source = DashboardSource(deployed(DownBackend(), release), ENDPOINT, settings)
    with TestClient(create_app(source)) as client:
        forecast = client.get(f"/api/titles/{ISBN_B}").json()["forecast"]
    assert forecast == {
        "available": False,
        "reason": f"endpoint {ENDPOINT} is not answering: cannot reach "
        "http://127.0.0.1:1/predict: Connection refused",
    }


def test_without_an_endpoint_the_page_and_api_say_why(settings):
    with TestClient(create_app(DashboardSource(MemoryBackend(), ENDPOINT, settings))) as client:
        error = error_of(client.get("/api/titles"), 503)
        page = client.get("/")
    assert error["field"] == "endpoint" and ENDPOINT in error["reason"]
    assert page.status_code == 200
    assert "No titles to show" in page.text and "no memory endpoint named" in page.text
    # Nothing deployed yet is an empty state that says what to run, not an error.
    assert 'data-testid="titles-empty"' in page.text and "shelfcast run" in page.text
    assert 'data-testid="titles-problem"' not in page.text


def test_an_endpoint_that_serves_nothing_is_still_a_problem(settings):
    backend = MemoryBackend()
    backend.get_or_create(ENDPOINT)
    with TestClient(create_app(DashboardSource(backend, ENDPOINT, settings))) as client:
        page = client.get("/").text
    assert 'data-testid="titles-problem"' in page and "no deployed model" in page


def test_endpoints_report_health_traffic_and_model_versions(client, release):
    body = client.get("/api/endpoints").json()
    (endpoint,) = body["endpoints"]
    (model,) = endpoint["deployed_models"]
    assert (endpoint["name"], endpoint["status"], endpoint["serving"]) == (
        ENDPOINT,
        "serving",
        model["id"],
    )
    assert (model["traffic"], model["release_id"]) == (100, release.release_id)
    assert {
        (m["name"], m["version"], m["model_family"], m["segment"]) for m in model["models"]
    } == {(m.name, m.version, m.model_family, "established/smooth") for m in release.models}


def test_page_and_static_files_are_served_without_network(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="title-search"' in page.text
    assert ISBN_A in page.text and "/static/plotly.min.js" in page.text
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and b"plotly" in plotly.content[:2000].lower()
    assert client.get("/static/dashboard.js").status_code == 200


def test_a_token_guards_every_route(backend, settings):
    app = create_app(DashboardSource(backend, ENDPOINT, settings), token="s3cret")
    with TestClient(app) as client:
        assert error_of(client.get("/api/titles"), 401)["field"] == "Authorization"
        assert client.get("/", params={"token": "wrong"}).status_code == 401
        headers = {"Authorization": "Bearer s3cret"}
        assert client.get("/api/titles", headers=headers).status_code == 200
        opened = client.get("/", params={"token": "s3cret", "isbn": ISBN_A}, follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"] == f"/?isbn={ISBN_A}"
        assert client.cookies.get(COOKIE) == "s3cret"
        assert client.get("/api/titles").status_code == 200


def test_the_command_refuses_an_open_address_without_a_token(tmp_path):
    env = {"SHELFCAST_HOME": str(tmp_path), "SHELFCAST_SERVER_TOKEN": None}
    result = CliRunner().invoke(cli, ["dashboard", "--host", "0.0.0.0"], env=env)
    assert result.exit_code == 1
    assert "needs a token" in result.output


def test_binding_beyond_loopback_needs_a_token():
    DashboardConfig(ENDPOINT, host="127.0.0.1").check()
    DashboardConfig(ENDPOINT, host="0.0.0.0", token="s3cret").check()
    with pytest.raises(DashboardConfigError, match="needs a token"):
        DashboardConfig(ENDPOINT, host="0.0.0.0").check()


def test_a_fresh_install_shows_what_to_run_not_an_error(client):
    """No report yet is an empty state: neutral, with the commands that make one."""
    assert error_of(client.get("/api/report"), 404)["field"] == "report"
    page = client.get("/").text
    assert 'data-testid="report-empty"' in page
    assert 'data-testid="report-problem"' not in page
    section = page[page.index('id="report-section"') :]
    empty = section[: section.index("</section>")]
    assert 'class="problem"' not in empty
    assert "shelfcast monitor actuals" in empty and "shelfcast monitor report" in empty
    css = client.get("/static/dashboard.css").text
    rule = css[css.index(".empty {") : css.index("}", css.index(".empty {"))]
    assert "var(--bad)" not in rule and "font-weight" not in rule


def test_a_report_that_cannot_be_read_is_still_a_problem(client, settings):
    path = latest_report_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    page = client.get("/").text
    assert 'data-testid="report-problem"' in page and 'data-testid="report-empty"' not in page


def test_no_endpoints_yet_is_an_empty_state(settings):
    with TestClient(create_app(DashboardSource(MemoryBackend(), ENDPOINT, settings))) as client:
        page = client.get("/").text
    section = page[page.index('id="endpoints-section"') :]
    section = section[: section.index("</section>")]
    assert 'data-testid="endpoints-empty"' in section and 'class="problem"' not in section
    assert "shelfcast run" in section


def test_a_catalogue_release_lists_its_tables_titles_and_shows_one(bundles, tmp_path, monkeypatch):
    table = catalogue_table(30, extra={NAME_A: bundles[NAME_A]})
    release = publish_table(tmp_path / "store", table).release
    monkeypatch.setattr(source_module, "TITLES_SHOWN", 10)
    with client_for(release, tmp_path) as client:
        body = client.get("/api/titles").json()
        found = client.get("/api/titles", params={"q": ISBN_A}).json()
        title = client.get(f"/api/titles/{ISBN_A}", params={"horizon": 4}).json()
        page = client.get("/").text
    assert body["release_id"] == release.release_id
    assert body["matched"] == 31 and len(body["titles"]) == 10
    assert "31 titles in" in page and "the first\n    10 by title" in page
    counted = Counter(table.column("segment"))
    assert {s["segment"]: s["titles"] for s in body["segments"]} == counted
    (entry,) = found["titles"]
    versions = versions_of(table)
    assert entry["model_name"] == MODEL and entry["model_version"] == versions[ISBN_A]
    assert entry["model_family"] == bundles[NAME_A].family
    assert title["history"]["volume"] == bundles[NAME_A].history.values.tolist()
    assert title["backtest"]["selected"] == bundles[NAME_A].evaluation["selected"]
    assert title["forecast"]["available"] is True
    assert title["forecast"]["model_name"] == MODEL
