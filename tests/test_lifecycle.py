"""The application layer's own logic, without ZenML: what a cached rerun reports per title,
and the tables the command prints at an ordinary terminal width."""

import pytest
from rich.console import Console

from shelfcast.lifecycle import train as lifecycle_train
from shelfcast.lifecycle.train import KEPT, NOT_REGISTERED, PROMOTED, UNCHANGED
from shelfcast.settings import Settings
from shelfcast.training.run import TitleSummary, TrainingSummary
from shelfcast.views.common import Col, make_table


def summary(registered: bool, *titles: TitleSummary) -> TrainingSummary:
    return TrainingSummary(
        run_name="run",
        run_id="1",
        status="completed",
        fingerprint="sha256:0",
        data_source="sample",
        executor="",
        titles=list(titles),
        steps=[],
        registered=registered,
    )


def title(isbn: str, version: str = "1", promoted: bool = True, reason: str = "no champion yet"):
    return TitleSummary(
        isbn=isbn,
        selected="dhr",
        model_name=f"arima_book_{isbn}",
        version=version,
        promoted=promoted,
        reason=reason,
        champion_version=version if promoted else "1",
    )


def test_a_fresh_run_reports_what_the_gate_did(tmp_path):
    run = summary(True, title("1"), title("2", "2", promoted=False, reason="MASE does not beat"))
    outcomes = lifecycle_train._outcomes(Settings(home=tmp_path), run)
    assert [o.gate for o in outcomes] == [PROMOTED, KEPT]
    assert outcomes[0].decision == "moved to v1 (no champion yet)"
    assert outcomes[1].decision == "stays on v1 (MASE does not beat)"


def test_a_cached_rerun_says_the_champion_stays_as_the_registry_has_it(tmp_path, monkeypatch):
    """The cached registration says `promoted` (the earlier run's decision); the rerun made
    none, so no row may say an alias moved."""
    champions = {"arima_book_1": "1", "arima_book_2": "3"}
    monkeypatch.setattr(lifecycle_train, "_champions", lambda settings: champions)
    run = summary(False, title("1"), title("2"), title("3"))
    result = lifecycle_train.TrainResult(
        run, lifecycle_train._outcomes(Settings(home=tmp_path), run)
    )
    assert [o.gate for o in result.titles] == [UNCHANGED, UNCHANGED, NOT_REGISTERED]
    assert [o.decision for o in result.titles[:2]] == [
        "unchanged: v1 stays champion",
        "unchanged: v3 stays champion",
    ]
    assert "--no-cache" in result.titles[2].decision
    assert result.aliases_moved == 0 and result.registered_versions == 0 and not result.ok


def test_tables_fit_80_columns_with_whole_headers():
    columns = [
        Col("model"),
        Col("title", wrap=True, drop=2, max_width=32),
        Col("backtest MASE", justify="right"),
        Col("seasonal naive", justify="right"),
        Col("holdout MASE", justify="right", drop=1),
        Col("release URI", wrap=True),
    ]
    uri = "gs://a-long-bucket-name/shelfcast/releases/r-20240801-ab12cd34ef"
    rows = [("arima_book_9780722532935", "The Alchemist", "0.812", "1.204", "0.9", uri)]
    console = Console(width=80, record=True, color_system=None)
    console.print(make_table(columns, rows, out=console))
    text = console.export_text()
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), text
    assert "\N{HORIZONTAL ELLIPSIS}" not in text
    assert "arima_book_9780722532935" in text  # ids stay on one line
    for word in ("backtest", "MASE", "seasonal", "naive", "release", "URI"):
        assert f" {word} " in text, text
    assert "".join(uri.split()) in "".join(text.replace("│", " ").split())
    assert "hidden at this width: title, holdout MASE" in text
    wide = Console(width=200, record=True, color_system=None)
    wide.print(make_table(columns, rows, out=wide))
    text = wide.export_text()
    assert "hidden" not in text and uri in text


def test_the_vertex_plan_of_a_run_over_every_title_calls_nothing(monkeypatch, tmp_path):
    """`shelfcast run --all`'s options, planned on Vertex AI: the train stage says every
    title, and nothing is trained or called."""
    from support.vertex import FakeSdk, make_settings

    from shelfcast.lifecycle.run import LifecycleOptions, plan_lifecycle
    from shelfcast.lifecycle.train import TrainOptions

    sdk = FakeSdk(monkeypatch)
    monkeypatch.setattr(
        "shelfcast.lifecycle.run.train_titles", lambda *a, **k: pytest.fail("trained")
    )
    settings = make_settings(home=tmp_path, artifact_uri="gs://b")
    every = plan_lifecycle(settings, LifecycleOptions(train=TrainOptions(all_titles=True)))
    assert "every title with sales" in dict(every.stages)["train"]
    selection = plan_lifecycle(settings, LifecycleOptions())
    assert "the seasonal selection" in dict(selection.stages)["train"]
    assert sdk.sdk_calls() == []
