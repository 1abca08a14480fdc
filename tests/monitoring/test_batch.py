"""Batch forecasts from a release: parquet, csv, and JSONL in Vertex AI's batch format."""

from __future__ import annotations

import io
import json

import fsspec
import pandas as pd
import pytest
from support.monitoring import ISBN_A, ISBN_B, ISBNS, model_name
from typer.testing import CliRunner

from shelfcast.cli import app
from shelfcast.lifecycle.batch import BatchError, batch_forecast, output_format, select_models
from shelfcast.releases import load_bundles
from shelfcast.serving.pool import ModelPool

runner = CliRunner()
COLUMNS = ["isbn", "model_name", "model_version", "week_ending", "mean"]


def test_parquet_has_every_title_in_long_format(release, catalogue, tmp_path):
    out = tmp_path / "out" / "forecasts.parquet"
    result = batch_forecast(release, str(out), horizon=8, levels=(80, 95), quantiles=(0.1, 0.9))
    assert (result.format, result.titles, result.rows, result.errors) == ("parquet", 3, 24, 0)
    frame = pd.read_parquet(out)
    assert frame.columns.tolist() == [*COLUMNS, "lo_80", "hi_80", "lo_95", "hi_95", "p10", "p90"]
    assert frame["isbn"].tolist() == [i for i in ISBNS for _ in range(8)]
    assert set(frame["model_version"]) == {"1"}
    a = frame[frame["isbn"] == ISBN_A].reset_index(drop=True)
    expected = catalogue.bundles[ISBN_A].forecast(8, (80, 95), quantiles=(0.1, 0.9))
    assert (a["p10"] <= a["p90"]).all() and (a["p10"] >= 0).all()
    pd.testing.assert_frame_equal(a[expected.columns.tolist()], expected, check_freq=False)


def test_csv_through_the_command_for_chosen_titles_levels_and_quantiles(project, release, tmp_path):
    out = tmp_path / "f.csv"
    args = ["forecast", "--release", release.release_id, "--isbn", ISBN_B, "--out", str(out)]
    result = runner.invoke(app, [*args, "--horizon", "4", "--level", "90"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype={"isbn": str, "model_version": str})
    assert frame.columns.tolist() == [*COLUMNS, "lo_90", "hi_90", "p10", "p50", "p90"]
    assert frame["isbn"].tolist() == [ISBN_B] * 4
    assert frame["week_ending"].str.match(r"\d{4}-\d{2}-\d{2}$").all()
    assert release.release_id in result.output
    chosen = runner.invoke(app, [*args, "--horizon", "4", "--quantiles", "0.975,0.025"])
    assert chosen.exit_code == 0, chosen.output
    frame = pd.read_csv(out, dtype={"isbn": str, "model_version": str})
    assert frame.columns.tolist() == [*COLUMNS, "lo_80", "hi_80", "lo_95", "hi_95", "p2.5", "p97.5"]
    assert (frame["p2.5"] <= frame["p97.5"]).all()


@pytest.mark.parametrize("given", ["0.5,1", "0", "ten", "nan", "0.1,0.999"])
def test_bad_quantiles_are_refused_naming_the_option(project, release, tmp_path, given):
    out = tmp_path / "f.csv"
    args = ["forecast", "--release", release.release_id, "--all", "--out", str(out)]
    result = runner.invoke(app, [*args, "--quantiles", given])
    assert result.exit_code == 1
    assert "--quantiles" in result.output and given in result.output
    assert not out.exists()


def vertex_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_for_every_title_matches_the_servers_predictions(release, tmp_path):
    out = tmp_path / "predictions.jsonl"
    result = batch_forecast(release, str(out), horizon=6, levels=(80, 95), quantiles=(0.5,))
    assert (result.format, result.rows, result.errors) == ("jsonl", 3, 0)
    pool = ModelPool.from_release(release, load_bundles(release))
    for line, isbn in zip(vertex_lines(out), ISBNS, strict=True):
        instance = {"isbn": isbn, "horizon": 6, "level": [80, 95], "quantiles": [0.5]}
        assert line["instance"] == instance
        served = pool.prediction_json(pool.get(isbn), 6, (80, 95), (0.5,))
        assert line["prediction"] == json.loads(served)
        assert "p50" in line["prediction"]["weeks"][0]


def test_jsonl_input_in_vertex_batch_format_answers_each_line_in_order(project, release, tmp_path):
    source = tmp_path / "instances.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps({"isbn": ISBN_A, "horizon": 3}),
                json.dumps({"isbn": "9780000000026"}),
                "",
                json.dumps({"model_name": model_name(ISBN_B), "horizon": 0}),
                "{not json",
                json.dumps({"model_name": model_name(ISBN_B)}),
            ]
        )
    )
    out = tmp_path / "out.jsonl"
    args = ["forecast", "--release", release.uri, "--input", str(source), "--out", str(out)]
    result = runner.invoke(app, [*args, "--horizon", "5"])
    assert result.exit_code == 1  # some instances could not be answered
    assert "3 instance(s) answered with an error" in result.output
    good, unknown, bad, broken, default = vertex_lines(out)
    assert good["instance"] == {"isbn": ISBN_A, "horizon": 3}
    assert len(good["prediction"]["weeks"]) == 3 and "error" not in good
    assert unknown["error"]["status"] == "NOT_FOUND"
    assert unknown["error"]["message"].startswith("instance.isbn: no model")
    assert bad["error"]["status"] == "INVALID_ARGUMENT"
    assert bad["error"]["message"].startswith("instance.horizon:")
    assert broken == {
        "instance": "{not json",
        "error": {"status": "INVALID_ARGUMENT", "message": broken["error"]["message"]},
    }
    assert broken["error"]["message"].startswith("line 5: not JSON")
    assert len(default["prediction"]["weeks"]) == 5  # --horizon is the default parameter
    assert {"p10", "p50", "p90"} <= set(default["prediction"]["weeks"][0])  # the settings'


def test_any_fsspec_uri_takes_the_output(release):
    out = "memory://batch-test/forecasts.parquet"
    batch_forecast(release, out, horizon=2, levels=(80, 95), quantiles=(0.5,))
    with fsspec.open(out, "rb") as handle:
        frame = pd.read_parquet(io.BytesIO(handle.read()))
    assert len(frame) == 6


def test_formats_inputs_and_titles_are_checked(project, release, tmp_path):
    assert output_format("gs://b/x.PARQUET", None) == "parquet"
    assert output_format("x.txt", "csv") == "csv"
    with pytest.raises(BatchError, match="--format"):
        output_format("x.txt", None)
    with pytest.raises(BatchError, match="one of"):
        output_format("x.csv", "xlsx")
    with pytest.raises(BatchError, match="jsonl"):
        batch_forecast(
            release,
            str(tmp_path / "x.csv"),
            horizon=2,
            levels=(80, 95),
            quantiles=(0.5,),
            input_uri=str(tmp_path / "i.jsonl"),
        )
    assert [m.isbn for m in select_models(release, [ISBN_B, model_name(ISBN_A)]).models] == [
        ISBN_B,
        ISBN_A,
    ]
    missing = runner.invoke(
        app, ["forecast", "--release", "r-20990101-0000000000", "--all", "--out", "x.csv"]
    )
    assert missing.exit_code == 1 and "no release" in missing.output
    nothing = runner.invoke(app, ["forecast", "--release", release.release_id, "--out", "x.csv"])
    assert nothing.exit_code == 1 and "--all, --isbn or --input" in nothing.output
    unknown = runner.invoke(
        app,
        ["forecast", "--release", release.release_id, "--isbn", "9780000000026", "--out", "x.csv"],
    )
    assert unknown.exit_code == 1 and "no model" in unknown.output
