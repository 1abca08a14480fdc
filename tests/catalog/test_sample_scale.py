"""Sample catalogues of any size: the mix scales, the output is deterministic, generation in
chunks covers every title, and names stay unique when the word lists run out."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog.isbn import is_valid_isbn13
from shelfcast.catalog.sample import (
    DEFAULT_MIX,
    plan_catalogue,
    sample_catalogue,
    scaled_mix,
    write_sample,
)
from shelfcast.catalog.sample import sales as sample_sales
from shelfcast.catalog.sample.mix import ADDED_ARCHETYPES, CORE_ARCHETYPES, CORE_ISBNS
from shelfcast.catalog.sample.names import Namer
from shelfcast.errors import ShelfcastError


def _archetypes(mix) -> Counter:
    """ISBNs per (sheet, archetype) of a mix."""
    counts: Counter = Counter()
    for sheet, per_sheet in mix.core.items():
        for name, n, size in zip(CORE_ARCHETYPES, per_sheet, CORE_ISBNS, strict=True):
            counts[sheet, name] += n * size
    for sheet, per_sheet in mix.added.items():
        for name, n in zip(ADDED_ARCHETYPES, per_sheet, strict=True):
            counts[sheet, name] += n
    return +counts


@pytest.mark.parametrize("titles", [2, 60, 597, 1_000, 10_000, 100_000])
def test_scaled_mix_has_exactly_the_titles_asked_for(titles: int) -> None:
    mix = scaled_mix(titles)
    assert mix.titles == titles
    if titles == 597:
        assert mix == DEFAULT_MIX == scaled_mix(None)
    scale = (titles - 2) / (DEFAULT_MIX.titles - 2)
    for key, n in _archetypes(DEFAULT_MIX).items():
        assert abs(_archetypes(mix)[key] - n * scale) <= 2  # an edition pair is 2 ISBNs


@pytest.mark.parametrize("titles", [1, 200_001])
def test_scaled_mix_refuses_sizes_out_of_range(titles: int) -> None:
    with pytest.raises(ShelfcastError, match="2 to 200,000 titles"):
        scaled_mix(titles)


def test_60_titles_deterministic_in_the_scaled_mix(tmp_path) -> None:
    catalogue = plan_catalogue(42, titles=60)
    found = Counter((t.sheet, t.archetype) for t in catalogue.titles if t.archetype != "seed")
    assert found == _archetypes(scaled_mix(60))
    assert len({t.isbn for t in catalogue.titles}) == 60

    first = write_sample(tmp_path / "a", fmt="csv", titles=60)
    second = write_sample(tmp_path / "b", fmt="csv", titles=60)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    frame = sample_catalogue(42, titles=60)
    back = pd.read_csv(first[0], dtype={"ISBN": str}, parse_dates=["End Date"])
    frame["Author"] = frame["Author"].where(frame["Author"].notna(), np.nan)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    title_list = pd.read_csv(first[1], dtype={"ISBN": str})
    assert len(title_list) == 60 and set(frame["ISBN"]) <= set(title_list["ISBN"])
    assert not sample_catalogue(7, titles=60).equals(frame)


def test_chunks_cover_every_title_once(monkeypatch) -> None:
    monkeypatch.setattr(sample_sales, "CHUNK_TITLES", 10)
    catalogue = plan_catalogue(42, titles=60)
    done: list[tuple[int, int]] = []
    tables = list(catalogue.sales(lambda n, total: done.append((n, total))))
    assert len(tables) == len(done) == -(-len(catalogue.core) // 10) - (-len(catalogue.added) // 10)
    assert done[-1] == (60, 60) and [n for n, _ in done] == sorted(n for n, _ in done)
    frame = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    assert not frame.duplicated(["ISBN", "End Date"]).any()
    runs = (frame["ISBN"] != frame["ISBN"].shift()).sum()
    assert runs == frame["ISBN"].nunique()  # a title's rows are together
    assert (frame.groupby("ISBN")["End Date"].is_monotonic_increasing).all()
    assert frame.groupby("ISBN")["Author"].apply(lambda a: a.isna().all()).sum() == 6
    again = pd.concat([t.to_pandas() for t in catalogue.sales()], ignore_index=True)
    pd.testing.assert_frame_equal(again, frame)


def test_titles_stay_unique_once_the_words_run_out() -> None:
    def draw() -> list[str]:
        namer = Namer(np.random.default_rng(3), titles=(), isbns=())
        return [namer.title("early") for _ in range(3000)]  # under 100 word combinations

    titles = draw()
    assert len(set(titles)) == len(titles)
    assert sum("(Book " in t for t in titles) > 2800
    assert draw() == titles


def test_isbns_stay_unique_beyond_an_imprints_block() -> None:
    namer = Namer(np.random.default_rng(3), titles=(), isbns=())
    isbns = [namer.isbn("978184731") for _ in range(3000)]  # the block holds 1,000
    assert len(set(isbns)) == 3000
    assert all(is_valid_isbn13(i) and i.startswith("97818473") for i in isbns)
    assert sum(i.startswith("978184731") for i in isbns) >= 500
