"""Report figures and alert rules on small hand-made weeks, checked against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from shelfcast.forecasting.segment_accuracy import segment_accuracy, segment_order
from shelfcast.monitoring.accuracy import accuracy, scaled_errors
from shelfcast.monitoring.alerts import (
    DEFAULT_RULES,
    INVESTIGATE,
    RETRAIN,
    ROLL_BACK,
    AlertRules,
    title_alerts,
)

ISBN = "9780722532935"


def weeks(
    actual,
    mean,
    lo_95=None,
    hi_95=None,
    lo_80=None,
    hi_80=None,
    scale=2.0,
    expected=0.5,
) -> pd.DataFrame:
    """Compared weeks as `comparison.compare` returns them; intervals default to +-1000."""
    a = np.asarray(actual, dtype=float)
    f = np.asarray(mean, dtype=float)

    def bound(values, offset):
        return f + offset if values is None else np.asarray(values, dtype=float)

    return pd.DataFrame(
        {
            "isbn": ISBN,
            "week_ending": pd.date_range("2024-08-03", periods=len(a), freq="7D"),
            "release_id": "r-1",
            "model_name": f"arima_book_{ISBN}",
            "model_version": "2",
            "model_family": "sarima",
            "horizon": np.arange(1, len(a) + 1),
            "actual": a,
            "mean": f,
            "lo_80": bound(lo_80, -1000),
            "hi_80": bound(hi_80, 1000),
            "lo_95": bound(lo_95, -1000),
            "hi_95": bound(hi_95, 1000),
            "scale": scale,
            "expected_mase": expected,
        }
    )


def test_accuracy_matches_hand_computation():
    rows = weeks(
        actual=[10, 20, 30, 40],
        mean=[12, 18, 33, 40],
        lo_80=[9, 19, 31, 35],
        hi_80=[11, 21, 35, 45],
        lo_95=[8, 15, 25, 30],
        hi_95=[16, 25, 40, 50],
    )
    got = accuracy(rows)
    # |errors| 2, 2, 3, 0: sum 7 over 100 sold; MAE 1.75 over a scale of 2
    assert got["weeks"] == 4
    assert got["wape"] == pytest.approx(7.0)
    assert got["mae"] == pytest.approx(1.75)
    assert got["mase"] == pytest.approx(0.875)
    assert got["expected_mase"] == pytest.approx(0.5)
    assert got["mase_ratio"] == pytest.approx(1.75)
    # mean (f - a) = (2 - 2 + 3 + 0) / 4 = 0.75 over a mean of 25 sold
    assert got["bias"] == pytest.approx(0.03)
    # 30 is outside [31, 35]; every actual is inside its 95% interval
    assert got["coverage_80"] == pytest.approx(75.0)
    assert got["coverage_95"] == pytest.approx(100.0)
    assert scaled_errors(rows).tolist() == pytest.approx([1.0, 1.0, 1.5, 0.0])


def test_mase_over_titles_weights_each_week_by_its_own_scale():
    first = weeks([10, 10], [12, 12], scale=2.0)  # scaled errors 1, 1
    second = weeks([10, 10], [14, 14], scale=1.0)  # scaled errors 4, 4
    assert accuracy(pd.concat([first, second]))["mase"] == pytest.approx(2.5)


def test_unknown_or_zero_scale_leaves_mase_unknown_and_nothing_sold_leaves_bias_unknown():
    got = accuracy(weeks([0, 0], [1, 2], scale=0.0))
    assert math.isnan(got["mase"]) and math.isnan(got["bias"])
    assert got["wape"] != got["wape"]  # NaN: nothing sold
    assert accuracy(weeks([], []).iloc[:0]) == {"weeks": 0}


def test_accuracy_per_segment_sums_errors_and_weeks_and_averages_titles_mase():
    """Four titles in two segments, their figures as the report computes them per title."""

    def title(segment, actual, mean, lo_80, hi_80, scale):
        return {
            "segment": segment,
            **accuracy(weeks(actual, mean, lo_80=lo_80, hi_80=hi_80, scale=scale)),
        }

    titles = [
        # |errors| 2, 2, 3, 0 (7) over 40 sold; scaled by 2: MASE 0.875; 2 of 4 inside 80%
        title(
            "established/smooth", [10, 0, 30, 0], [12, 2, 27, 0], [9, 3, 28, 1], [11, 4, 35, 1], 2.0
        ),
        # |errors| 0, 4 (4) over 10 sold; scaled by 4: MASE 0.5; 2 of 2 inside
        title("young/lumpy", [5, 5], [5, 9], [0, 0], [10, 10], 4.0),
        # |errors| 2, 2, 0 (4) over 60 sold; scaled by 1: MASE 4/3; 1 of 3 inside
        title("established/smooth", [20, 20, 20], [22, 18, 20], [21, 21, 19], [23, 23, 21], 1.0),
        # nothing sold, |errors| 1, 1; a zero scale: no MASE; 0 of 2 inside
        title("established/smooth", [0, 0], [1, 1], [1, 1], [2, 2], 0.0),
    ]
    young, established, every = segment_accuracy(titles)
    assert [young["segment"], established["segment"], every["segment"]] == [
        "young/lumpy",
        "established/smooth",
        "all",
    ]
    assert (young["titles"], young["weeks"], young["actual"]) == (1, 2, 10.0)
    assert young["wape"] == pytest.approx(40.0)
    assert young["mase"] == pytest.approx(0.5)
    assert young["coverage_80"] == pytest.approx(100.0)
    assert (established["titles"], established["weeks"]) == (3, 9)
    # (7 + 4 + 2) / (40 + 60 + 0), not the mean of the titles' WAPE (17.5%, 6.7%, none)
    assert established["wape"] == pytest.approx(13.0)
    # the mean of the titles' MASE that have one: (0.875 + 4/3) / 2, not the weeks' mean
    assert established["mase"] == pytest.approx((0.875 + 4 / 3) / 2)
    # 2 + 1 + 0 of 9 weeks, not the mean of 50%, 33.3% and 0%
    assert established["coverage_80"] == pytest.approx(100 * 3 / 9)
    assert (every["titles"], every["weeks"], every["actual"]) == (4, 11, 110.0)
    assert every["wape"] == pytest.approx(100 * 17 / 110)
    assert every["mase"] == pytest.approx((0.875 + 0.5 + 4 / 3) / 3)
    assert every["coverage_80"] == pytest.approx(100 * 5 / 11)
    assert every["coverage_95"] == pytest.approx(100.0)
    assert segment_accuracy([]) == [
        {
            "segment": "all",
            "titles": 0,
            "weeks": 0,
            "actual": 0.0,
            **dict.fromkeys(
                ("wape", "mase", "coverage_80", "coverage_95"), pytest.approx(math.nan, nan_ok=True)
            ),
        }
    ]


def test_segments_are_ordered_through_a_titles_life_then_by_demand_class():
    names = [
        "inactive",
        "established/smooth",
        "young/lumpy",
        "young/erratic",
        "new/smooth",
        "pre-publication",
        "established/intermittent",
    ]
    assert sorted(names, key=segment_order) == [
        "pre-publication",
        "new/smooth",
        "young/erratic",
        "young/lumpy",
        "established/smooth",
        "established/intermittent",
        "inactive",
    ]


def rules_fired(rows, previous=None, rules=DEFAULT_RULES) -> dict[str, str]:
    return {a.rule: a.action for a in title_alerts(rows, previous, rules)}


def test_error_above_expectation_needs_every_one_of_the_last_four_weeks_above_the_limit():
    # limit: 1.5 x backtest MASE 0.5 = 0.75 scaled, i.e. an error above 1.5 at scale 2
    fired = weeks([100, 100, 100, 100, 100], [50, 101.6, 101.6, 101.6, 101.6])
    assert rules_fired(fired) == {"error_above_expectation": RETRAIN}
    alert = title_alerts(fired)[0]
    assert alert.figures["scaled_errors"] == pytest.approx([0.8, 0.8, 0.8, 0.8])
    assert alert.figures["limit"] == pytest.approx(0.75)
    assert (alert.isbn, alert.model_version, alert.release_id) == (ISBN, "2", "r-1")
    at_limit = weeks([100] * 4, [101.6, 101.6, 101.5, 101.6])  # one week exactly at 0.75
    assert "error_above_expectation" not in rules_fired(at_limit)
    assert "error_above_expectation" not in rules_fired(weeks([100] * 3, [110] * 3))
    unknown = weeks([100] * 4, [110] * 4, expected=float("nan"))
    assert "error_above_expectation" not in rules_fired(unknown)


def test_coverage_low_below_80_percent_of_weeks_inside_the_95_interval_over_8_weeks():
    actual = [100.0] * 8
    inside, outside = (90.0, 110.0), (101.0, 110.0)
    two_out = [outside] * 2 + [inside] * 6  # 75% covered
    rows = weeks(actual, actual, [b[0] for b in two_out], [b[1] for b in two_out])
    assert rules_fired(rows) == {"coverage_low": RETRAIN}
    assert title_alerts(rows)[0].figures["coverage_95"] == pytest.approx(75.0)
    one_out = [outside] + [inside] * 7  # 87.5%
    rows = weeks(actual, actual, [b[0] for b in one_out], [b[1] for b in one_out])
    assert rules_fired(rows) == {}
    seven = weeks([100.0] * 7, [100.0] * 7, [101.0] * 7, [110.0] * 7)  # too few weeks
    assert "coverage_low" not in rules_fired(seven)


def test_level_shift_when_the_last_four_actuals_leave_the_95_interval_on_one_side():
    lo, hi = [90.0] * 5, [110.0] * 5
    above = weeks([100, 120, 130, 125, 140], [100] * 5, lo, hi, expected=100.0)
    assert rules_fired(above) == {"level_shift": RETRAIN}
    figures = title_alerts(above)[0].figures
    assert figures["direction"] == "above"
    assert figures["mean_actual"] == pytest.approx(128.75)
    below = weeks([100, 80, 70, 60, 85], [100] * 5, lo, hi, expected=100.0)
    assert title_alerts(below)[0].figures["direction"] == "below"
    mixed = weeks([100, 120, 130, 80, 140], [100] * 5, lo, hi, expected=100.0)
    assert rules_fired(mixed) == {}


def test_bias_above_30_percent_over_8_weeks_asks_for_investigation():
    actual = np.array([100.0, 200.0] * 4)
    over = weeks(actual, actual * 1.31, expected=100.0)
    assert rules_fired(over) == {"bias": INVESTIGATE}
    assert title_alerts(over)[0].figures["bias"] == pytest.approx(0.31)
    assert rules_fired(weeks(actual, actual * 1.29, expected=100.0)) == {}
    assert rules_fired(weeks(actual, actual * 0.69, expected=100.0)) == {"bias": INVESTIGATE}
    assert rules_fired(weeks(actual[:7], actual[:7] * 2, expected=100.0)) == {}


def test_worse_than_previous_recommends_rolling_back_to_the_replaced_version():
    rows = weeks([100, 100, 100, 100], [112, 88, 112, 88], expected=100.0)  # MAE 12
    previous = pd.DataFrame(
        {
            "isbn": ISBN,
            "week_ending": rows["week_ending"],
            "previous_release_id": "r-0",
            "previous_model_version": "1",
            "previous_mean": [110.0, 90.0, 110.0, 90.0],  # MAE 10
        }
    )
    rules = AlertRules(rollback_ratio=1.15)
    assert rules_fired(rows, previous, rules) == {"worse_than_previous": ROLL_BACK}
    alert = title_alerts(rows, previous, rules)[0]
    assert alert.figures["mae"] == pytest.approx(12.0)
    assert alert.figures["previous_mae"] == pytest.approx(10.0)
    assert alert.figures["previous_model_version"] == "1"
    assert "roll back to v1" in alert.message
    assert rules_fired(rows, previous) == {}  # 12 is not above 1.2 x 10
    assert rules_fired(rows, previous.iloc[:3], rules) == {}  # fewer than 4 weeks
