"""The dashboard in headless Chromium (Playwright) against a real local endpoint: a router
and a prediction server on 127.0.0.1 serving a small release, and `shelfcast dashboard` in
its own process. The chart's traces and the table's numbers must be the endpoint's answer;
with the endpoint stopped the page must say so and show no forecast. Screenshots are kept
in tests/artifacts/."""

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from support.actuals import ingest_after
from support.releases import ISBN_A, ISBN_B, publish_release

from shelfcast.endpoints.local import LocalBackend
from shelfcast.endpoints.processes import free_port
from shelfcast.endpoints.rollout import deploy_release
from shelfcast.monitoring.report import build_report, write_report
from shelfcast.releases import Release
from shelfcast.settings import Settings

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium")
SHELFCAST = str(Path(sys.executable).parent / "shelfcast")
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
ENDPOINT = "book-sales"
TITLES = {ISBN_A: "The Alchemist", ISBN_B: "The Very Hungry Caterpillar"}
BOUNDS = ("lo_80", "hi_80", "lo_95", "hi_95")
QUANTILES = ("p10", "p50", "p90")  # the settings' serving.quantiles
CHART_TRACES = """() => Object.fromEntries(
    document.getElementById("forecast-chart").data.map((t) => [t.meta, {x: t.x, y: t.y}]))"""
TABLE_ROWS = """(rows) => rows.map((row) => Object.fromEntries([...row.querySelectorAll("td")]
    .map((td) => [td.dataset.testid, td.dataset.value ?? td.textContent])))"""


@pytest.fixture(scope="module")
def titled_release(tmp_path_factory, bundles) -> Release:
    """The serving tests' two titles, named, as a release in a local artifact store."""
    named = {
        name: replace(b, history=replace(b.history, title=TITLES[b.key]))
        for name, b in bundles.items()
    }
    return publish_release(tmp_path_factory.mktemp("store"), named)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory, titled_release) -> Iterator[LocalBackend]:
    """Endpoint `book-sales` serving the release; stopped at the end."""
    home = tmp_path_factory.mktemp("home")
    backend = LocalBackend(Settings(home=home, artifact_uri=titled_release.store))
    deploy_release(backend, ENDPOINT, titled_release)
    yield backend
    for name in backend.store.names():
        backend.stop(name)


@pytest.fixture(scope="module")
def dashboard(endpoint, tmp_path_factory) -> Iterator[str]:
    """`shelfcast dashboard` on a free port, in the endpoint's project folder."""
    folder = tmp_path_factory.mktemp("dashboard")
    settings = endpoint.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHELFCAST_")}
    env.update(SHELFCAST_HOME=str(settings.home), SHELFCAST_ARTIFACT_URI=settings.artifact_root)
    port = free_port()
    log = folder / "dashboard.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SHELFCAST, "dashboard", "--port", str(port), "--endpoint", ENDPOINT],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health", process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the dashboard exited: {log.read_text()}"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    pytest.fail(f"the dashboard did not answer {url} in {timeout} s: {log.read_text()}")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"


def screenshot(page, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path}")
    return path


def wait_for_title(page, isbn: str) -> None:
    """Wait until the page shows the title `isbn`."""
    page.locator(f'[data-testid="title-detail"][data-isbn="{isbn}"][data-state="ready"]').wait_for()


def test_the_chart_and_table_show_the_endpoints_forecast(
    page, endpoint, dashboard, bundles, tmp_path
):
    endpoint.start(ENDPOINT)  # running already unless another test stopped it
    history = next(b.history for b in bundles.values() if b.key == ISBN_B)
    actuals = history.values[-52:-44].tolist()  # the same weeks a year before
    ingest_after(endpoint.settings, history, actuals, tmp_path)
    report = build_report(endpoint.settings)
    write_report(report, endpoint.settings)
    page.goto(dashboard)
    page.get_by_test_id("title-search").fill("hungry caterpil")  # part of a title finds it
    page.get_by_test_id("title-show").click()
    wait_for_title(page, ISBN_B)

    instance = {"isbn": ISBN_B, "horizon": 32, "level": [80, 95], "quantiles": [0.1, 0.5, 0.9]}
    answer = endpoint.predict(ENDPOINT, [instance])
    expected = answer.predictions[0]["weeks"]
    weeks = [w["week_ending"] for w in expected]
    assert len(weeks) == 32

    traces = page.evaluate(CHART_TRACES)
    assert traces["forecast"] == {"x": weeks, "y": [w["mean"] for w in expected]}
    for bound in (*BOUNDS, *QUANTILES):
        assert traces[bound] == {"x": weeks, "y": [w[bound] for w in expected]}
    band = page.evaluate(
        """() => document.getElementById("forecast-chart").data
            .filter((t) => t.fill === "tonexty").map((t) => [t.meta, t.name])"""
    )
    assert ["p90", "p10-p90"] in band
    assert any(w["p10"] < w["p90"] for w in expected)
    assert traces["history"]["y"] == history.values.tolist()
    evaluation = next(b.evaluation for b in bundles.values() if b.key == ISBN_B)
    stored = evaluation["backtest"]["forecasts"]
    assert stored
    for f in [*stored, evaluation["holdout_forecast"]]:
        name = f"backtest {f['origin']}" if "origin" in f else "holdout forecast"
        assert traces[name]["y"] == f["mean"]
        assert traces[name]["x"][0] == f["start"] and len(traces[name]["x"]) == len(f["mean"])
    assert traces["actual"] == {"x": weeks[:8], "y": actuals}
    past = [w["mean"] for w in expected[:8]]  # the same release, unrounded
    assert traces["past_forecast"]["y"] == pytest.approx(past, abs=5e-4)
    assert page.get_by_test_id("accuracy-week").count() == 8

    rows = page.get_by_test_id("forecast-week").evaluate_all(TABLE_ROWS)
    assert [r["week_ending"] for r in rows] == weeks
    for column in ("mean", *BOUNDS, *QUANTILES):
        assert [float(r[column]) for r in rows] == [w[column] for w in expected]
    headers = page.locator('[data-testid="forecast-table"] th').all_inner_texts()
    assert headers[-3:] == list(QUANTILES)
    shown = page.locator('[data-testid="forecast-week"] [data-testid="mean"]').all_inner_texts()
    assert all(
        abs(float(text.replace(",", "")) - w["mean"]) <= 0.5
        for text, w in zip(shown, expected, strict=True)
    )

    status = page.get_by_test_id("forecast-status").inner_text()
    assert status == f"32 weeks forecast by endpoint {ENDPOINT}"
    assert answer.deployed_model_id in page.locator("#title-facts").inner_text()
    card = page.locator(f'[data-testid="endpoint"][data-name="{ENDPOINT}"]')
    assert card.get_by_test_id("endpoint-status").inner_text() == "serving"
    assert card.get_by_test_id("traffic").all_inner_texts() == ["100%"]
    assert page.get_by_test_id("report-created").inner_text() == report.created
    screenshot(page, "dashboard.png")
    screenshot(page, "dashboard-full.png", full_page=True)


def test_a_stopped_endpoint_is_reported_and_no_forecast_shown(page, endpoint, dashboard, bundles):
    endpoint.stop(ENDPOINT)
    page.goto(f"{dashboard}/?isbn={ISBN_A}")  # a link to a title opens it
    wait_for_title(page, ISBN_A)

    status = page.get_by_test_id("forecast-status")
    assert status.inner_text().startswith(f"endpoint {ENDPOINT} is not answering: ")
    assert "problem" in (status.get_attribute("class") or "")
    assert page.get_by_test_id("forecast-week").count() == 0
    assert not page.get_by_test_id("forecast-table").is_visible()
    evaluation = next(b.evaluation for b in bundles.values() if b.key == ISBN_A)
    stored = [f"backtest {f['origin']}" for f in evaluation["backtest"]["forecasts"]]
    assert list(page.evaluate(CHART_TRACES)) == ["history", *stored, "holdout forecast"]
    card = page.locator(f'[data-testid="endpoint"][data-name="{ENDPOINT}"]')
    assert card.get_by_test_id("endpoint-status").inner_text() == "stopped"
    screenshot(page, "dashboard-endpoint-stopped.png")
