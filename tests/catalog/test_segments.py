"""Each title's segment: its stage from the weeks since its first sale, its Syntetos-Boylan
class from the last 104 weeks."""

import numpy as np
import pytest

from shelfcast.catalog.segments import (
    Segment,
    cv2,
    demand_class,
    is_segment_name,
    prepublication,
    segment_of,
)


def weeks(pattern: list[float], n: int) -> np.ndarray:
    return np.resize(np.array(pattern, dtype=float), n)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ([5, 6, 5, 4], "smooth"),  # every week, steady sizes
        ([1, 30, 2, 25], "erratic"),  # every week, sizes swing (CV² >= 0.49)
        ([3, 0, 0, 3, 0], "intermittent"),  # a sale every 2.5 weeks, same size
        ([1, 0, 0, 30, 0, 0], "lumpy"),  # rare sales of very different sizes
    ],
)
def test_syntetos_boylan_classes(pattern, expected):
    assert demand_class(weeks(pattern, 120)) == expected


def test_cv2_is_of_the_weeks_with_sales_only():
    assert cv2(np.array([0, 0, 4, 0, 4.0])) == 0.0
    assert np.isnan(cv2(np.zeros(5)))


@pytest.mark.parametrize(
    ("n", "stage"), [(1, "new"), (12, "new"), (13, "young"), (103, "young"), (104, "established")]
)
def test_stage_counts_weeks_since_the_first_sale(n, stage):
    segment = segment_of(weeks([3, 4], n))
    assert segment.stage == stage and segment.weeks == n
    assert segment.name == f"{stage}/smooth"


def test_a_title_without_a_sale_in_52_weeks_is_inactive_whatever_its_age():
    values = np.r_[weeks([8, 9], 300), np.zeros(52)]
    segment = segment_of(values)
    assert segment.stage == "inactive" and segment.name == "inactive"
    assert segment.weeks_since_sale == 52
    assert segment_of(np.r_[weeks([8, 9], 300), np.zeros(51)]).stage == "established"


def test_the_class_is_measured_on_the_last_104_weeks():
    """A title that sold every week for years and now sells every third week is intermittent."""
    values = np.r_[weeks([20, 22], 400), weeks([0, 0, 5], 104)]
    assert segment_of(values).demand == "intermittent"


def test_names_filters_and_round_trip():
    segment = segment_of(weeks([1, 0, 0, 30, 0, 0], 60))
    assert segment.name == "young/lumpy" and segment.intermittent
    for wanted in ("young", "lumpy", "young/lumpy"):
        assert segment.matches(wanted)
    assert not segment.matches("young/smooth")
    assert Segment.from_dict(segment.as_dict()).name == "young/lumpy"
    assert prepublication().name == "pre-publication" and prepublication().demand is None
    assert all(map(is_segment_name, ["inactive", "lumpy", "new/erratic", "pre-publication"]))
    assert not any(map(is_segment_name, ["old", "young/old", "lumpy/young"]))
