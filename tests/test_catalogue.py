"""The catalogue the commands cover (`lifecycle.catalogue`): every title with its segment,
narrowed by ISBN, segment and count, the titles without a series and why, and the titles
table at an ordinary terminal width."""

import pytest
from rich.console import Console
from support.catalogue import FADED, GONE, LUMPY, START, STEADY, small_catalogue

from shelfcast.catalog.reader import read_sales
from shelfcast.errors import ShelfcastError
from shelfcast.lifecycle.catalogue import (
    TitleFilter,
    TitlesOptions,
    catalogue_titles,
    read_catalogue,
    summarise_segments,
)
from shelfcast.settings import Settings
from shelfcast.views.catalogue import print_titles


@pytest.fixture(scope="module")
def sales_file(tmp_path_factory):
    return small_catalogue(tmp_path_factory.mktemp("catalogue") / "sales.csv")


@pytest.fixture(scope="module")
def catalogue(sales_file):
    return read_catalogue(read_sales([str(sales_file)]), START)


def test_every_title_has_a_segment_and_a_title_without_a_series_says_why(catalogue):
    assert catalogue.keys == (STEADY, LUMPY, FADED, GONE)
    assert set(catalogue.series) == {STEADY, LUMPY, FADED}
    names = {k: s.name for k, s in catalogue.segments.items()}
    assert names == {
        STEADY: "established/smooth",
        LUMPY: "young/lumpy",
        FADED: "inactive",
        GONE: "inactive",  # from its whole history
    }
    assert catalogue.missing == {GONE: f"no sales on or after {START} (last sale 2021-06-26)"}
    assert catalogue.skipped(GONE, "why").title == "Title 040"


def test_the_whole_history_leaves_no_title_out(sales_file):
    whole = read_catalogue(read_sales([str(sales_file)]), None)
    assert set(whole.series) == set(whole.keys) and not whole.missing


def test_narrowing_by_isbn_segment_and_best_sellers(catalogue):
    assert catalogue.narrow(TitleFilter()) == [STEADY, LUMPY, FADED, GONE]
    assert catalogue.narrow(TitleFilter(isbns=(GONE, STEADY))) == [GONE, STEADY]
    assert catalogue.narrow(TitleFilter(segments=("inactive",))) == [FADED, GONE]
    assert catalogue.narrow(TitleFilter(segments=("young", "smooth"))) == [STEADY, LUMPY]
    # the best-selling over the last 104 weeks, kept in catalogue order
    volumes = [catalogue.recent_volume(k) for k in (STEADY, FADED, LUMPY, GONE)]
    assert volumes == sorted(volumes, reverse=True) and volumes[-1] == 0
    assert catalogue.narrow(TitleFilter(max_titles=2)) == [STEADY, FADED]
    assert catalogue.narrow(TitleFilter(isbns=(GONE, LUMPY, STEADY), max_titles=2)) == [
        LUMPY,
        STEADY,
    ]
    assert catalogue.narrow(TitleFilter(segments=("inactive",), max_titles=1)) == [FADED]
    with pytest.raises(ShelfcastError, match=r"not in the sales data: 1 key\(s\)"):
        catalogue.narrow(TitleFilter(isbns=("9780000000057",)))


@pytest.mark.parametrize("bad", ["old", "young/slow", "lumpy/young"])
def test_an_unknown_segment_is_refused_with_the_valid_names(bad):
    with pytest.raises(ShelfcastError, match="a stage \\(pre-publication, new, young"):
        TitleFilter(segments=(bad,))


def test_segment_summaries_count_titles_forecasts_and_models():
    segments = {"a": "inactive", "b": "young/lumpy", "c": "young/lumpy", "d": "new/smooth"}
    summary = summarise_segments(segments, {"b": "tsb", "c": "tsb", "d": "naive"})
    assert [(s.segment, s.titles, s.forecast, s.skipped) for s in summary] == [
        ("new/smooth", 1, 1, 0),
        ("young/lumpy", 2, 2, 0),
        ("inactive", 1, 0, 1),
    ]
    assert summary[1].models == {"tsb": 2}


def test_the_titles_table_and_the_selection_only(sales_file, tmp_path):
    settings = Settings(home=tmp_path)
    options = TitlesOptions(data=(str(sales_file),), start=START)
    result = catalogue_titles(settings, options)
    table = result.table.set_index("key")
    assert list(table.index) == [STEADY, LUMPY, FADED, GONE]
    assert table.loc[LUMPY, "segment"] == "young/lumpy" and table.loc[LUMPY, "adi"] >= 1.32
    assert table.loc[GONE, "weeks"] == 0 and not table.loc[GONE, "selected"]
    assert table.loc[GONE, "reason"].startswith("no sales on or after")
    assert result.by_segment == {"young/lumpy": 1, "established/smooth": 1, "inactive": 2}
    assert result.catalogue_titles == 4 and result.selected_titles == 0
    only = catalogue_titles(settings, TitlesOptions(data=options.data, selected_only=True))
    assert only.table.empty and only.catalogue_titles == 4

    console = Console(width=80, record=True, color_system=None)
    print_titles(result, out=console)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert "hidden at this width: title" in text
    assert "By segment: young/lumpy 1, established/smooth 1, inactive 2" in text
    for header in ("ISBN", "segment", "ADI", "selected", "why"):
        assert header in text


def test_a_forecast_result_lists_the_skipped_and_the_segments_at_80_columns(sales_file, tmp_path):
    from shelfcast.lifecycle.forecast import FitOptions, forecast_titles
    from shelfcast.views.forecast import print_fits

    options = FitOptions(
        out=str(tmp_path / "f.parquet"),
        data=(str(sales_file),),
        wanted=TitleFilter(segments=("inactive", "young/lumpy")),
        horizon=4,
        start=START,
        workers=1,
    )
    result = forecast_titles(Settings(home=tmp_path), options)
    assert [f.key for f in result.fits] == [LUMPY, FADED]
    assert [(s.key, s.segment) for s in result.skipped] == [(GONE, "inactive")]
    assert result.segments == {LUMPY: "young/lumpy", FADED: "inactive", GONE: "inactive"}
    assert [(s.segment, s.titles, s.forecast) for s in result.by_segment] == [
        ("young/lumpy", 1, 1),
        ("inactive", 2, 1),
    ]
    assert result.skipped_file == str(tmp_path / "f_skipped.csv")

    console = Console(width=80, record=True, color_system=None)
    print_fits(result, out=console)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert "1 title(s) not forecast" in text and "no sales on or after 2022-01-01" in text
    assert "By segment" in text and "models chosen" in text
