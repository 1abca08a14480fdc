"""The sample catalogue as files: the sales in csv, parquet or an xlsx workbook of one sheet
per category, and the title list, each streamed chunk by chunk and replaced atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from shelfcast.catalog.sample.layout import SHEETS
from shelfcast.catalog.sample.sales import SALES_SCHEMA, Progress, plan_catalogue
from shelfcast.errors import ShelfcastError

if TYPE_CHECKING:
    from xlsxwriter.format import Format as CellFormat
    from xlsxwriter.worksheet import Worksheet

SALES_STEM = "bookscan_weekly"
ISBN_LIST_FILE = "isbn_list.csv"
Format = Literal["csv", "parquet", "xlsx"]
XLSX_MAX_ROWS = 1_048_575  # data rows of a worksheet, under its header


def write_sample(
    out_dir: str | os.PathLike[str],
    *,
    fmt: Format = "csv",
    seed: int = 42,
    titles: int | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Write the sample catalogue and its title list to `out_dir`; return the paths written.

    csv and parquet: one `bookscan_weekly.<ext>` with a Source column; xlsx: one workbook
    with a sheet per BookScan category (named as the Source values, no Source column).
    Always also `isbn_list.csv`: every title's metadata (`layout.METADATA_COLUMNS`), those
    not yet published included. `titles`: that many ISBNs in the default's mix (None: the
    default catalogue). Sales are generated and written in chunks of titles, so memory stays
    bounded; `progress(done, total)` hears of each chunk. Files are replaced atomically.
    """
    if fmt not in ("csv", "parquet", "xlsx"):
        raise ShelfcastError(f"unknown sample format {fmt!r}: use csv, parquet or xlsx")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    catalogue = plan_catalogue(seed, titles)
    writers: dict[str, Callable[[Iterable[pa.Table], Path], None]] = {
        "csv": _write_csv,
        "parquet": _write_parquet,
        "xlsx": _write_xlsx,
    }
    sales_path = out / f"{SALES_STEM}.{fmt}"
    _atomic(sales_path, lambda p: writers[fmt](catalogue.sales(progress), p))
    list_path = out / ISBN_LIST_FILE
    _atomic(list_path, lambda p: catalogue.title_list().to_csv(p, index=False))
    return [sales_path, list_path]


def _write_csv(tables: Iterable[pa.Table], path: Path) -> None:
    """CSV through Arrow (about 8x faster than pandas); dates as YYYY-MM-DD, text quoted."""
    i = SALES_SCHEMA.get_field_index("End Date")
    schema = SALES_SCHEMA.set(i, pa.field("End Date", pa.date32()))
    with pa_csv.CSVWriter(path, schema) as writer:
        for table in tables:
            writer.write_table(table.set_column(i, "End Date", table["End Date"].cast(pa.date32())))


def _write_parquet(tables: Iterable[pa.Table], path: Path) -> None:
    with pq.ParquetWriter(path, SALES_SCHEMA) as writer:
        for table in tables:
            writer.write_table(table)


def _write_xlsx(tables: Iterable[pa.Table], path: Path) -> None:
    """One sheet per Source value, written row by row in xlsxwriter's constant-memory mode.

    pandas' Excel writer emits cells column by column, which constant-memory mode cannot
    take, and holds every cell in memory (1 GB and twice the time for the full sample).
    """
    import xlsxwriter  # the `train` extra; csv and parquet need only the base install

    columns = [c for c in SALES_SCHEMA.names if c != "Source"]
    excel_epoch = pd.Timestamp("1899-12-30")
    with xlsxwriter.Workbook(str(path), {"constant_memory": True}) as book:
        date_format = book.add_format({"num_format": "yyyy-mm-dd"})
        sheets = {name: book.add_worksheet(name) for name in SHEETS.values()}
        written = dict.fromkeys(sheets, 0)
        for sheet in sheets.values():
            sheet.write_row(0, 0, columns)
        for table in tables:
            for name, part in table.to_pandas().groupby("Source", sort=False):
                first = written[str(name)] + 1
                written[str(name)] += len(part)
                if written[str(name)] > XLSX_MAX_ROWS:
                    raise ShelfcastError(
                        f"sheet {name!r} would have more than {XLSX_MAX_ROWS:,} rows, the most "
                        "an xlsx sheet holds: write csv or parquet, or fewer titles"
                    )
                _write_rows(sheets[str(name)], first, part[columns], excel_epoch, date_format)


def _write_rows(
    sheet: Worksheet,
    first: int,
    part: pd.DataFrame,
    epoch: pd.Timestamp,
    date_format: CellFormat,
) -> None:
    """`part`'s rows into `sheet` from row `first` on: numbers, dates and text cell by cell."""
    cells = [
        (part[c] - epoch).dt.days.tolist() if c == "End Date" else part[c].tolist()
        for c in part.columns
    ]
    kinds = [
        "date" if c == "End Date" else "text" if part[c].dtype == object else "number"
        for c in part.columns
    ]
    write_string, write_number = sheet.write_string, sheet.write_number
    for r, row in enumerate(zip(*cells, strict=True), start=first):
        for j, (kind, value) in enumerate(zip(kinds, row, strict=True)):
            if kind == "number":
                write_number(r, j, value)
            elif kind == "date":
                write_number(r, j, value, date_format)
            elif value is not None:
                write_string(r, j, value)


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename it over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
