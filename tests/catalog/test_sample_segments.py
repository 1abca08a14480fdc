"""The default sample catalogue covers every demand segment with enough titles to backtest."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd
import pytest

from shelfcast.catalog.sample import FIRST_WEEK, LAST_WEEK, plan_catalogue, sample_catalogue
from shelfcast.catalog.segments import DEMAND_CLASSES, STAGES, Segment, segment_of
from shelfcast.catalog.series import weekly_series

MIN_TITLES = 20


@dataclass
class _Sales:
    frame: pd.DataFrame
    kind: str = "bookscan"


@pytest.fixture(scope="module")
def segments() -> dict[str, Segment]:
    """The segment of every title with sales, by ISBN."""
    frame = sample_catalogue().rename(
        columns={"ISBN": "isbn", "End Date": "week_ending", "Volume": "volume"}
    )
    series = weekly_series(_Sales(frame[["isbn", "week_ending", "volume"]]))
    return {s.key: segment_of(s.values) for s in series}


def test_every_stage_has_enough_titles(segments: dict[str, Segment]) -> None:
    stages = Counter(s.stage for s in segments.values())
    titles = plan_catalogue().titles
    stages["pre-publication"] = sum(t.isbn not in segments for t in titles)
    assert set(stages) == set(STAGES)
    assert min(stages.values()) >= MIN_TITLES, stages
    assert stages["new"] >= 25 and stages["young"] >= 25, stages


def test_every_demand_class_has_enough_active_titles(segments: dict[str, Segment]) -> None:
    active = [s for s in segments.values() if s.stage not in ("inactive", "pre-publication")]
    classes = Counter(s.demand for s in active)
    assert set(classes) == set(DEMAND_CLASSES)
    assert min(classes.values()) >= MIN_TITLES, classes


def test_new_and_forthcoming_titles_have_authors_with_earlier_launches() -> None:
    catalogue = plan_catalogue()
    last = len(pd.date_range(FIRST_WEEK, LAST_WEEK, freq="W-SAT")) - 1
    launched = {t.author for t in catalogue.core if t.launch >= 0}
    for archetype in ("new release", "forthcoming"):
        titles = [t for t in catalogue.added if t.archetype == archetype]
        returning = [t for t in titles if t.author in launched]
        assert 3 <= len(returning) < len(titles), archetype
        assert len({t.sheet for t in titles}) == 4
        assert len({t.imprint for t in titles}) >= 8
        assert len({t.binding for t in titles}) >= 3
    forthcoming = [t for t in catalogue.added if t.archetype == "forthcoming"]
    assert all(last < t.launch <= last + 26 for t in forthcoming)
