"""The actuals store: validation as for training data, idempotent ingests, conflicts."""

from __future__ import annotations

import pandas as pd
import pytest
from support.monitoring import ISBN_A, ISBN_B, ISBN_C, bookscan_actuals, write_csv

from shelfcast.errors import DataValidationError
from shelfcast.monitoring.actuals import (
    ActualsConflict,
    ActualsError,
    ingest_actuals,
    read_actuals,
    weekly_actuals,
)


@pytest.fixture
def store(tmp_path):
    return tmp_path / "home" / "monitoring" / "actuals.parquet"


def test_a_second_ingest_of_the_same_weeks_changes_nothing(catalogue, tmp_path, store):
    first_half = write_csv(bookscan_actuals(catalogue, weeks=slice(0, 6)), tmp_path / "a.csv")
    everything = write_csv(bookscan_actuals(catalogue), tmp_path / "b.csv")
    result = ingest_actuals([first_half], store)
    assert (result.rows, result.new, result.known, result.changed) == (18, 18, 0, 0)
    assert (result.titles, result.stored) == (3, 18)
    assert result.first_week == catalogue.actual_weeks(ISBN_A)["week_ending"].iloc[0]
    again = ingest_actuals([first_half], store)
    assert (again.new, again.known, again.changed, again.stored) == (0, 18, 0, 18)
    before = store.read_bytes()
    ingest_actuals([first_half], store)
    assert store.read_bytes() == before  # nothing rewritten
    more = ingest_actuals([everything], store)
    assert (more.new, more.known, more.stored) == (18, 18, 36)
    stored = read_actuals(store)
    expected = catalogue.actual_weeks(ISBN_B)
    mine = stored[stored["isbn"] == ISBN_B].reset_index(drop=True)
    assert mine["week_ending"].tolist() == expected["week_ending"].tolist()
    assert mine["volume"].tolist() == expected["volume"].round().tolist()
    assert set(stored["title"]) == {"The Alchemist", "The Very Hungry Caterpillar", "Third"}


def test_a_changed_volume_is_refused_unless_replace(catalogue, tmp_path, store):
    frame = bookscan_actuals(catalogue)
    ingest_actuals([write_csv(frame, tmp_path / "a.csv")], store)
    changed = frame.copy()
    changed.loc[changed["ISBN"] == ISBN_C, "Volume"] += 5  # 12 weeks of one title corrected
    path = write_csv(changed, tmp_path / "corrected.csv")
    before = store.read_bytes()
    with pytest.raises(ActualsConflict, match="12 week") as refused:
        ingest_actuals([path], store)
    assert store.read_bytes() == before
    conflicts = refused.value.conflicts
    assert set(conflicts["isbn"]) == {ISBN_C}
    assert (conflicts["volume"] - conflicts["stored"]).tolist() == [5.0] * 12
    assert "--replace" in str(refused.value)
    result = ingest_actuals([path], store, replace=True)
    assert (result.new, result.known, result.changed, result.replaced) == (0, 24, 12, True)
    stored = read_actuals(store)
    assert stored.loc[stored["isbn"] == ISBN_C, "volume"].tolist() == (
        changed.loc[changed["ISBN"] == ISBN_C, "Volume"].tolist()
    )
    assert len(stored) == 36


def test_bad_files_are_refused_whole_naming_file_row_and_column(catalogue, tmp_path, store):
    frame = bookscan_actuals(catalogue).astype({"Volume": object})
    frame.loc[3, "Volume"] = "lots"
    frame.loc[5, "ISBN"] = "9780722532936"  # wrong check digit
    path = write_csv(frame, tmp_path / "bad.csv")
    with pytest.raises(DataValidationError) as refused:
        ingest_actuals([path], store)
    problems = {(p.file, p.row, p.column) for p in refused.value.problems}
    assert (path, 5, "Volume") in problems  # data row 3 is file row 5 (header is row 1)
    assert (path, 7, "ISBN") in problems
    assert not store.exists()


def test_long_format_series_are_not_book_actuals(tmp_path, store):
    path = tmp_path / "long.csv"
    path.write_text("unique_id,ds,y\nstore-a,2024-08-03,5\n")
    with pytest.raises(ActualsError, match="BookScan"):
        ingest_actuals([str(path)], store)


def test_weekly_actuals_fill_weeks_without_a_row_with_zeros():
    stored = pd.DataFrame(
        {
            "isbn": [ISBN_A, ISBN_A, ISBN_B],
            "week_ending": pd.to_datetime(["2024-08-03", "2024-08-17", "2024-08-10"]),
            "volume": [5.0, 7.0, 3.0],
        }
    )
    weekly = weekly_actuals(stored)
    assert len(weekly) == 6  # two titles, three weeks
    a = weekly[weekly["isbn"] == ISBN_A]
    assert a["volume"].tolist() == [5.0, 0.0, 7.0]
    assert weekly[weekly["isbn"] == ISBN_B]["volume"].tolist() == [0.0, 3.0, 0.0]
