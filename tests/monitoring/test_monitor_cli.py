"""`shelfcast monitor`: exit statuses and what each command prints and writes."""

from __future__ import annotations

import json
import re

from support.monitoring import ISBN_C, SHIFTED, bookscan_actuals, write_csv
from typer.testing import CliRunner

from shelfcast.cli import app
from shelfcast.monitoring.paths import reports_dir
from shelfcast.monitoring.report import EXIT_ALERTS

runner = CliRunner()


def monitor(*args: str):
    return runner.invoke(app, ["monitor", *args])


def test_actuals_counts_new_known_and_refuses_conflicts(project, catalogue, tmp_path):
    frame = bookscan_actuals(catalogue)
    path = write_csv(frame, tmp_path / "weeks.csv")
    first = monitor("actuals", path)
    assert first.exit_code == 0, first.output
    assert "new" in first.output and "36" in first.output
    again = monitor("actuals", path)
    assert again.exit_code == 0
    assert re.search(r"already known\s+36\s", again.output)
    frame.loc[frame["ISBN"] == ISBN_C, "Volume"] += 1
    changed = write_csv(frame, tmp_path / "changed.csv")
    refused = monitor("actuals", changed)
    assert refused.exit_code == 1
    assert "12 conflicting week(s)" in refused.output and "--replace" in refused.output
    replaced = monitor("actuals", changed, "--replace")
    assert replaced.exit_code == 0 and "(replaced)" in replaced.output


def test_actuals_with_bad_rows_exit_1_naming_file_row_and_column(project, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "ISBN,End Date,Volume\n9780722532935,03/08/2024,12\n9780722532935,04/08/2024,x\n"
    )
    result = monitor("actuals", str(bad))
    assert result.exit_code == 1
    assert f"{bad}, row 3, column 'End Date'" in result.output
    assert f"{bad}, row 3, column 'Volume'" in result.output


def test_report_exits_3_with_alerts_and_0_without(project, release, catalogue, tmp_path):
    ingest = monitor("actuals", write_csv(bookscan_actuals(catalogue), tmp_path / "a.csv"))
    assert ingest.exit_code == 0
    calm = monitor("report")
    assert calm.exit_code == 0, calm.output
    assert "No alerts." in calm.output
    assert "Accuracy per segment" in calm.output
    assert re.search(r"│ established/smooth\s+│\s+3 │\s+36 │", calm.output)  # titles, weeks
    assert re.search(r"│ all\s+│\s+3 │\s+36 │", calm.output)
    shifted = bookscan_actuals(catalogue, {SHIFTED: 3.0})
    monitor("actuals", write_csv(shifted, tmp_path / "b.csv"), "--replace")
    out = tmp_path / "report.json"
    alarmed = monitor("report", "--out", str(out))
    assert alarmed.exit_code == EXIT_ALERTS == 3
    assert "level_shift" in alarmed.output and "retrain" in alarmed.output
    document = json.loads(out.read_text())
    assert {a["isbn"] for a in document["alerts"]} == {SHIFTED}
    assert json.loads((reports_dir(project) / "latest.json").read_text()) == document


def test_report_without_actuals_exits_1(project):
    result = monitor("report")
    assert result.exit_code == 1 and "monitor actuals" in result.output


def test_retrain_if_needed_dry_run_names_the_titles_to_retrain(
    project, release, catalogue, tmp_path
):
    missing = monitor("retrain-if-needed", "--dry-run")
    assert missing.exit_code == 1 and "no report" in missing.output
    shifted = bookscan_actuals(catalogue, {SHIFTED: 3.0})
    monitor("actuals", write_csv(shifted, tmp_path / "a.csv"))
    assert monitor("report").exit_code == 3
    dry = monitor("retrain-if-needed", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert SHIFTED in dry.output and "1 title(s) would be retrained" in dry.output
    assert ISBN_C not in dry.output
