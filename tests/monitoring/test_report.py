"""The monitoring report against real releases: figures by hand, the judging release, the
alerts of a title whose sales were shifted on purpose, and the written files."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pandas as pd
import pytest
from support.monitoring import (
    CONFIG,
    ISBN_A,
    ISBN_B,
    ISBN_C,
    ISBNS,
    SHIFTED,
    TRAIN_WEEKS,
    bookscan_actuals,
    model_name,
    publish_release,
    write_csv,
)

from shelfcast.catalog.segments import Segment, segment_of
from shelfcast.catalogue_releases import CatalogueSource, publish_catalogue
from shelfcast.forecasting import bundle_table, fit_title
from shelfcast.forecasting.segment_accuracy import segment_accuracy
from shelfcast.monitoring.actuals import ingest_actuals
from shelfcast.monitoring.paths import actuals_path, reports_dir
from shelfcast.monitoring.report import (
    ReportError,
    build_report,
    read_report,
    write_report,
)
from shelfcast.storage import ArtifactStore


def ingest(settings, frame, tmp_path, name="actuals.csv"):
    return ingest_actuals([write_csv(frame, tmp_path / name)], actuals_path(settings))


def by_isbn(report) -> dict:
    return {t["isbn"]: t for t in report.titles}


def test_figures_match_a_hand_computation_from_the_bundles(project, release, catalogue, tmp_path):
    ingest(project, bookscan_actuals(catalogue, {SHIFTED: 3.0}), tmp_path)
    report = build_report(project)
    titles = by_isbn(report)
    assert set(titles) == set(ISBNS)
    errors, sold, scaled = [], [], []
    for isbn in ISBNS:
        bundle = catalogue.bundles[isbn]
        a = catalogue.actual_weeks(isbn)["volume"].to_numpy().round()
        if isbn == SHIFTED:
            a = (a * 3.0).round()
        f = bundle.forecast(len(a), (80, 95))
        h = bundle.history.values
        scale = np.mean(np.abs(h[52:] - h[:-52]))  # in-sample seasonal-naive MAE
        e = f["mean"].to_numpy() - a
        got = titles[isbn]
        assert got["weeks"] == 12
        assert got["wape"] == pytest.approx(100 * np.abs(e).sum() / a.sum())
        assert got["mase"] == pytest.approx(np.abs(e).mean() / scale)
        assert got["bias"] == pytest.approx(e.mean() / a.mean())
        inside_80 = (a >= f["lo_80"]) & (a <= f["hi_80"])
        assert got["coverage_80"] == pytest.approx(100 * inside_80.mean())
        inside_95 = (a >= f["lo_95"]) & (a <= f["hi_95"])
        assert got["coverage_95"] == pytest.approx(100 * inside_95.mean())
        champion = bundle.evaluation["selected"]
        expected = bundle.evaluation["backtest"]["mean"][champion]["mase"]
        assert got["expected_mase"] == pytest.approx(expected)
        assert (got["release_id"], got["model_name"]) == (release.release_id, model_name(isbn))
        errors.append(np.abs(e))
        sold.append(a)
        scaled.append(np.abs(e) / scale)
    overall = report.overall
    assert overall["weeks"] == 36
    assert overall["wape"] == pytest.approx(100 * np.concatenate(errors).sum() / np.sum(sold))
    assert overall["mase"] == pytest.approx(np.concatenate(scaled).mean())
    weeks = report.weeks[report.weeks["isbn"] == ISBN_A]
    assert weeks["horizon"].tolist() == list(range(1, 13))
    assert report.actuals["not_forecast"] == 0


def test_titles_carry_their_bundles_segment_and_accuracy_is_given_per_segment(
    project, catalogue, tmp_path
):
    """A's bundle records another segment, C's was written before segments were recorded."""
    lumpy = Segment("young", "lumpy", weeks=80, adi=2.0, cv2=0.8, weeks_since_sale=1)
    a, c = catalogue.bundles[ISBN_A], catalogue.bundles[ISBN_C]
    older = {k: v for k, v in c.evaluation.items() if k != "segment"}
    bundles = {
        **catalogue.bundles,
        ISBN_A: dataclasses.replace(a, evaluation={**a.evaluation, "segment": lumpy.as_dict()}),
        ISBN_C: dataclasses.replace(c, evaluation=older),
    }
    publish_release(project, bundles)
    ingest(project, bookscan_actuals(catalogue, {SHIFTED: 3.0}), tmp_path)
    report = build_report(project)
    titles = by_isbn(report)
    recorded = catalogue.bundles[ISBN_B].evaluation["segment"]["name"]
    computed = segment_of(c.history.values).name
    assert recorded == computed == "established/smooth"
    assert {isbn: t["segment"] for isbn, t in titles.items()} == {
        ISBN_A: "young/lumpy",
        ISBN_B: recorded,
        ISBN_C: computed,
    }
    assert all(t["model_family"] == bundles[i].family for i, t in titles.items())
    assert set(report.weeks.loc[report.weeks["isbn"] == ISBN_A, "segment"]) == {"young/lumpy"}

    segments = {s["segment"]: s for s in report.segments}
    assert list(segments) == ["young/lumpy", "established/smooth", "all"]
    assert report.segments == segment_accuracy(report.titles)
    young = segments["young/lumpy"]
    assert (young["titles"], young["weeks"]) == (1, 12)
    for key in ("wape", "mase", "coverage_80", "coverage_95"):
        assert young[key] == pytest.approx(titles[ISBN_A][key])
    established = segments["established/smooth"]
    rows = report.weeks[report.weeks["isbn"].isin([ISBN_B, ISBN_C])]
    errors = (rows["actual"] - rows["mean"]).abs()
    assert (established["titles"], established["weeks"]) == (2, 24)
    assert established["wape"] == pytest.approx(100 * errors.sum() / rows["actual"].sum())
    assert established["mase"] == pytest.approx(
        (titles[ISBN_B]["mase"] + titles[ISBN_C]["mase"]) / 2
    )
    inside = (rows["actual"] >= rows["lo_95"]) & (rows["actual"] <= rows["hi_95"])
    assert established["coverage_95"] == pytest.approx(100 * inside.mean())
    every = segments["all"]  # WAPE and coverage as the report's overall figures
    assert (every["titles"], every["weeks"]) == (3, 36)
    for key in ("wape", "coverage_80", "coverage_95"):
        assert every[key] == pytest.approx(report.overall[key])


def test_a_shifted_title_raises_level_shift_and_error_alerts_the_others_none(
    project, release, catalogue, tmp_path
):
    ingest(project, bookscan_actuals(catalogue, {SHIFTED: 3.0}), tmp_path)
    report = build_report(project)
    fired = {(a.isbn, a.rule): a for a in report.alerts}
    assert {isbn for isbn, _ in fired} == {SHIFTED}
    assert {rule for _, rule in fired} == {
        "error_above_expectation",
        "level_shift",
        "coverage_low",
        "bias",
    }
    shift = fired[(SHIFTED, "level_shift")]
    assert shift.action == "retrain" and shift.figures["direction"] == "above"
    assert shift.model_name == model_name(SHIFTED) and shift.release_id == release.release_id
    assert fired[(SHIFTED, "bias")].action == "investigate"
    assert by_isbn(report)[SHIFTED]["actions"] == ["investigate", "retrain"]
    assert by_isbn(report)[ISBN_A]["alerts"] == []


def test_each_week_is_judged_by_the_newest_release_trained_before_it(
    project, release, catalogue, tmp_path
):
    later = fit_title(catalogue.series[ISBN_A].head(TRAIN_WEEKS + 4), CONFIG).bundle
    time.sleep(1.1)  # release times have one-second resolution
    newer = publish_release(project, {**catalogue.bundles, ISBN_A: later}, {ISBN_A: "2"})
    ingest(project, bookscan_actuals(catalogue), tmp_path)
    weeks = build_report(project).weeks
    a = weeks[weeks["isbn"] == ISBN_A]
    assert a["release_id"].tolist() == [release.release_id] * 4 + [newer.release_id] * 8
    assert a["model_version"].tolist() == ["1"] * 4 + ["2"] * 8
    assert a["horizon"].tolist() == [1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8]
    expected = later.forecast(8)["mean"].to_numpy()
    assert a["mean"].to_numpy()[4:] == pytest.approx(expected)
    b = weeks[weeks["isbn"] == ISBN_B]  # the same version in both: the newest release judges
    assert set(b["release_id"]) == {newer.release_id}
    only_first = build_report(project, release=release.release_id).weeks
    assert set(only_first["release_id"]) == {release.release_id}
    since = build_report(project, since=str(a["week_ending"].iloc[6].date()))
    assert by_isbn(since)[ISBN_A]["weeks"] == 6


def test_a_new_version_worse_than_the_one_it_replaced_asks_for_a_roll_back(
    project, release, catalogue, tmp_path
):
    low = catalogue.series[ISBN_C].head(TRAIN_WEEKS)
    worse = fit_title(low.with_values(low.values * 0.4), CONFIG).bundle
    time.sleep(1.1)
    newer = publish_release(project, {**catalogue.bundles, ISBN_C: worse}, {ISBN_C: "2"})
    ingest(project, bookscan_actuals(catalogue), tmp_path)
    report = build_report(project)
    fired = {(a.isbn, a.rule): a for a in report.alerts}
    alert = fired[(ISBN_C, "worse_than_previous")]
    assert alert.action == "roll back"
    assert (alert.model_version, alert.release_id) == ("2", newer.release_id)
    assert alert.figures["previous_model_version"] == "1"
    assert alert.figures["previous_release_id"] == release.release_id
    a = catalogue.actual_weeks(ISBN_C)["volume"].to_numpy().round()
    before = np.abs(catalogue.bundles[ISBN_C].forecast(12)["mean"].to_numpy() - a).mean()
    assert alert.figures["previous_mae"] == pytest.approx(before)
    assert not any(isbn == ISBN_A for isbn, _ in fired)


def test_the_report_is_written_as_json_with_latest_and_a_chart_page(
    project, release, catalogue, tmp_path
):
    ingest(project, bookscan_actuals(catalogue, {SHIFTED: 3.0}), tmp_path)
    report = build_report(project)
    written = write_report(report, project)
    folder = reports_dir(project)
    assert written[0].endswith(".json") and written[0].startswith(str(folder))
    assert written[1] == str(folder / "latest.json")
    page = folder / written[0].rsplit("/", 1)[1].replace(".json", ".html")
    assert written[2] == str(page) and "Plotly" in page.read_text()[:100000]
    document = read_report(folder / "latest.json")
    assert document == json.loads((folder / written[0]).read_text())
    assert len(document["alerts"]) == len(report.alerts) == document["overall"]["alerts"]
    assert len(document["weeks"]) == 36 and document["weeks"][0]["week_ending"].count("-") == 2
    assert {t["isbn"] for t in document["titles"]} == set(ISBNS)
    assert [s["segment"] for s in document["segments"]] == ["established/smooth", "all"]
    assert document["segments"][-1]["weeks"] == 36
    assert all(t["segment"] == "established/smooth" for t in document["titles"])
    assert "Accuracy per segment" in page.read_text()
    out = tmp_path / "elsewhere" / "report.json"
    written = write_report(report, project, str(out))
    assert written[:2] == [str(out), str(folder / "latest.json")]
    assert read_report(out)["created"] == report.created


def test_no_actuals_no_release_and_bad_dates_are_clear_errors(project, catalogue, tmp_path):
    with pytest.raises(ReportError, match="monitor actuals"):
        build_report(project)
    ingest(project, bookscan_actuals(catalogue), tmp_path)
    with pytest.raises(ReportError, match="no release"):
        build_report(project)
    publish_release(project, catalogue.bundles)
    with pytest.raises(ReportError, match="--since"):
        build_report(project, since="last tuesday")
    with pytest.raises(ReportError, match="no report"):
        read_report(tmp_path / "absent.json")


def test_titles_in_no_release_and_weeks_inside_training_are_counted_not_compared(
    project, catalogue, tmp_path
):
    publish_release(project, {ISBN_A: catalogue.bundles[ISBN_A]})
    history = catalogue.series[ISBN_A].to_frame().iloc[TRAIN_WEEKS - 2 : TRAIN_WEEKS + 3]
    frame = pd.DataFrame(
        {
            "ISBN": [ISBN_A] * 5 + [ISBN_B],
            "End Date": [*history["week_ending"].dt.strftime("%d/%m/%Y"), "05/08/2017"],
            "Volume": [*history["volume"], 10.0],
        }
    )
    ingest(project, frame, tmp_path)
    report = build_report(project)
    assert report.actuals["titles_in_no_release"] == [ISBN_B]
    # the store's weeks run from two training weeks to ISBN_B's week, 14 in all: ISBN_A's
    # two training weeks were not forecast; its 3 weeks after, and 9 without a row (sold
    # nothing, as in BookScan), are compared
    assert report.actuals["title_weeks"] == 28
    assert report.actuals["not_forecast"] == 2
    assert report.actuals["compared"] == 12
    assert report.weeks["actual"].tolist()[3:] == [0.0] * 9


def test_a_catalogue_release_is_judged_as_the_same_bundles_released_per_title(
    project, catalogue, tmp_path
):
    ingest(project, bookscan_actuals(catalogue, {SHIFTED: 3.0}), tmp_path)
    per_title = build_report(
        project, release=publish_release(project, catalogue.bundles).release_id
    )
    table = bundle_table.from_bundles(list(catalogue.bundles.values()))
    source = CatalogueSource("book_sales_catalogue", "4", run_id="run-4")
    store = ArtifactStore(project.artifact_root)
    released = publish_catalogue(store, table, source).release
    report = build_report(project, release=released.release_id)
    weeks = report.weeks
    assert set(weeks["release_id"]) == {released.release_id}
    assert set(weeks["model_name"]) == {"book_sales_catalogue"}
    assert set(weeks["model_version"]) == {"4"}
    same = ["isbn", "week_ending", "horizon", "actual", "mean", "lo_80", "hi_95", "scale"]
    pd.testing.assert_frame_equal(weeks[same], per_title.weeks[same])
    shown = ["isbn", "segment", "model_family", "wape", "mase", "coverage_80", "alerts"]
    assert [{k: t[k] for k in shown} for t in report.titles] == [
        {k: t[k] for k in shown} for t in per_title.titles
    ]
    assert {a.isbn for a in report.alerts} == {SHIFTED}
