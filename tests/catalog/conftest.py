"""Fixtures writing small sales files into tmp_path (or fsspec's in-memory filesystem)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import fsspec
import pandas as pd
import pytest
import xlsxwriter

Sheets = dict[str, list[list[object]]]


@pytest.fixture
def write_text(tmp_path: Path) -> Callable[..., str]:
    """Write `text` as is (csv quirks and all) and return the path."""

    def write(name: str, text: str, encoding: str = "utf-8") -> str:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return str(path)

    return write


@pytest.fixture
def write_xlsx(tmp_path: Path) -> Callable[[str, Sheets], str]:
    """Write a workbook from rows of cells per sheet (header row first) and return the path.

    Cells keep their types: numbers stay numbers, dates are real date cells, `None` leaves the
    cell out, and "" writes a formatted but empty cell (as exports leave below the data).
    """

    def write(name: str, sheets: Sheets) -> str:
        path = tmp_path / name
        workbook = xlsxwriter.Workbook(path)
        date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
        for sheet, rows in sheets.items():
            worksheet = workbook.add_worksheet(sheet)
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    if isinstance(cell, dt.date):
                        worksheet.write_datetime(r, c, cell, date_format)
                    elif cell == "":
                        worksheet.write_blank(r, c, None, date_format)
                    elif cell is not None:
                        worksheet.write(r, c, cell)
        workbook.close()
        return str(path)

    return write


@pytest.fixture
def write_frame(tmp_path: Path) -> Callable[[str, pd.DataFrame], str]:
    """Write a frame as csv or parquet (by the name's suffix) and return the path."""

    def write(name: str, frame: pd.DataFrame) -> str:
        path = tmp_path / name
        if path.suffix == ".parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        return str(path)

    return write


@pytest.fixture
def memory_dir() -> Iterator[str]:
    """A fresh folder on fsspec's in-memory filesystem, as a `memory://` URI."""
    fs = fsspec.filesystem("memory")
    root = "/shelfcast-reader-tests"
    fs.mkdir(root)
    yield f"memory://{root}"
    fs.rm(root, recursive=True)
