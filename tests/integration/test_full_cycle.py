"""The whole cycle on the sample catalogue, through the command line: train on sales up to a
date and deploy (`shelfcast run`), ask the endpoint (predictions are logged), ingest the
following 8 weeks of actual sales (one title's tripled on purpose), and get a monitoring
report whose figures match a computation done here from the release's bundles."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.cli import shelfcast

from shelfcast.releases import list_releases, load_bundles
from shelfcast.settings import load_settings

pytestmark = pytest.mark.integration

STEADY, SHIFTED = "9780722532935", "9780241003008"
CUTOFF = pd.Timestamp("2024-05-25")  # the sample catalogue ends 8 weeks later, 2024-07-20
WEEKS = 8


@pytest.fixture
def project(tmp_path: Path):
    yield tmp_path
    shelfcast(tmp_path, "endpoints", "stop", "book-sales")


def split_catalogue(project: Path) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """The sample catalogue up to CUTOFF (training data) and the 8 weeks after it (actuals,
    SHIFTED's volumes tripled)."""
    written = shelfcast(project, "data", "sample", "--out", "sample", "--format", "parquet")
    assert written.returncode == 0, written.stderr
    sales = pd.read_parquet(next((project / "sample").glob("*.parquet")))
    dates = pd.to_datetime(sales["End Date"], dayfirst=True)
    train = project / "train.parquet"
    sales[dates <= CUTOFF].to_parquet(train, index=False)
    later = sales[(dates > CUTOFF) & sales["ISBN"].astype(str).isin([STEADY, SHIFTED])].copy()
    later.loc[later["ISBN"].astype(str) == SHIFTED, "Volume"] *= 3
    actuals = project / "actuals.csv"
    later.to_csv(actuals, index=False)
    later["week"] = pd.to_datetime(later["End Date"], dayfirst=True)
    weekly = {
        isbn: rows.groupby("week")["Volume"].sum().sort_index().to_numpy(float)
        for isbn, rows in later.groupby(later["ISBN"].astype(str))
    }
    return train, actuals, weekly


def by_hand(bundle, actual: np.ndarray) -> dict[str, float]:
    forecast = bundle.forecast(WEEKS, levels=(80, 95))
    f = forecast["mean"].to_numpy()
    history = bundle.history.values
    scale = np.mean(np.abs(history[52:] - history[:-52]))
    inside = (forecast["lo_95"].to_numpy() <= actual) & (actual <= forecast["hi_95"].to_numpy())
    return {
        "wape": 100 * np.abs(actual - f).sum() / actual.sum(),  # percent
        "mase": np.mean(np.abs(actual - f)) / scale,
        "bias": np.mean(f - actual) / np.mean(actual),
        "coverage_95": 100 * inside.mean(),  # percent
    }


def test_train_deploy_predict_ingest_and_report(project: Path):
    train, actuals, weekly = split_catalogue(project)
    run = shelfcast(project, "run", f"--isbn={STEADY},{SHIFTED}", data=train)
    assert run.returncode == 0, run.stderr[-3000:]

    asked = shelfcast(project, "predict", "--isbn", SHIFTED, "--horizon", str(WEEKS))
    assert asked.returncode == 0, asked.stderr
    assert "2024-06-01" in asked.stdout  # the first week after the training data

    settings = load_settings(home=project / ".shelfcast")
    (release,) = list_releases(settings.artifact_root)
    logged = [
        json.loads(line)
        for path in (project / ".shelfcast/monitoring/predictions").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert any(SHIFTED in json.dumps(entry) for entry in logged)
    assert all(release.release_id in json.dumps(entry) for entry in logged)

    ingested = shelfcast(project, "monitor", "actuals", str(actuals))
    assert ingested.returncode == 0, ingested.stderr
    again = shelfcast(project, "monitor", "actuals", str(actuals))
    assert again.returncode == 0, again.stderr  # the same weeks twice: nothing changes

    out = project / "report.json"
    report = shelfcast(project, "monitor", "report", "--out", str(out))
    assert report.returncode == 3, report.stdout + report.stderr  # alerts raised
    content = json.loads(out.read_text())
    titles = {t["isbn"]: t for t in content["titles"]}
    bundles = load_bundles(release)
    for isbn in (STEADY, SHIFTED):
        actual = weekly[isbn]
        assert len(actual) == WEEKS and titles[isbn]["weeks"] == WEEKS
        expected = by_hand(bundles[f"arima_book_{isbn}"], actual)
        for key, value in expected.items():
            assert titles[isbn][key] == pytest.approx(value, rel=1e-6), (isbn, key)
    alerted = {a["isbn"]: a for a in content["alerts"] if a["isbn"] == SHIFTED}
    assert SHIFTED in alerted and "level_shift" in titles[SHIFTED]["alerts"]
    assert "retrain" in titles[SHIFTED]["actions"]
    assert "level_shift" not in titles[STEADY]["alerts"]
