"""The model pool: finding titles, forecasting from bundles, the cache, actual weeks."""

import json
from datetime import date, timedelta

import numpy as np
import pytest
from support.releases import ISBN_A, ISBN_B, NAME_A, NAME_B, unforecastable

from shelfcast.errors import ForecastError
from shelfcast.forecasting.batch import Forecasts
from shelfcast.serving.pool import (
    InstanceProblem,
    ModelPool,
    UnknownTitle,
    _prediction_json,
    check_actuals,
)


@pytest.fixture
def pool(bundles) -> ModelPool:
    return ModelPool.from_bundles(bundles, versions={NAME_A: "3"}, release_id="r-test")


def test_titles_are_found_by_name_isbn_and_hyphenated_isbn(pool):
    assert pool.get(NAME_A).isbn == ISBN_A
    assert pool.get(ISBN_B).name == NAME_B
    assert pool.get("978-0-7225-3293-5").name == NAME_A
    with pytest.raises(UnknownTitle, match="r-test") as caught:
        pool.get("9781111111111")
    assert caught.value.field == "isbn"


def test_prediction_is_the_bundles_forecast_rounded(pool, bundles):
    model = pool.get(ISBN_A)
    prediction = json.loads(pool.prediction_json(model, 12, [95, 80]))
    assert prediction["model_name"] == NAME_A
    assert prediction["model_version"] == "3"
    assert prediction["model_family"] == bundles[NAME_A].family
    expected = bundles[NAME_A].forecast(12, (80, 95))
    weeks = prediction["weeks"]
    assert [w["week_ending"] for w in weeks] == list(
        expected["week_ending"].dt.strftime("%Y-%m-%d")
    )
    assert list(weeks[0]) == ["week_ending", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    for column in ("mean", "lo_80", "hi_80", "lo_95", "hi_95"):
        np.testing.assert_allclose([w[column] for w in weeks], expected[column], atol=5e-4)
    assert date.fromisoformat(weeks[0]["week_ending"]).weekday() == 5  # a Saturday


def test_forecasts_without_actuals_are_cached_per_horizon_levels_and_quantiles(pool):
    model = pool.get(NAME_B)
    assert not pool.is_cached(model, 8, (80, 95))
    first = pool.prediction_json(model, 8, (95, 80, 80))
    assert pool.is_cached(model, 8, (80, 95))
    assert pool.prediction_json(model, 8, (80, 95)) is first
    assert not pool.is_cached(model, 9, (80, 95))
    assert not pool.is_cached(model, 8, (80,))
    assert not pool.is_cached(model, 8, (80, 95), (0.1, 0.9))
    quantiled = pool.prediction_json(model, 8, (80, 95), (0.9, 0.1, 0.1))
    assert pool.is_cached(model, 8, (80, 95), (0.1, 0.9))
    assert pool.prediction_json(model, 8, (80, 95), (0.1, 0.9)) is quantiled
    assert pool.prediction_json(model, 8, (80, 95), (0.10000001, 0.9)) is quantiled  # both p10
    weeks = json.loads(quantiled)["weeks"]
    assert "p10" in weeks[0] and "p10" not in json.loads(first)["weeks"][0]


def test_the_cache_is_bounded(bundles):
    pool = ModelPool(ModelPool.from_bundles(bundles).titles, cache_size=2)
    model = pool.get(NAME_A)
    for horizon in (1, 2, 3):
        pool.prediction_json(model, horizon, (80,))
    assert not pool.is_cached(model, 1, (80,))
    assert pool.is_cached(model, 2, (80,)) and pool.is_cached(model, 3, (80,))


def test_actual_weeks_move_the_forecast_origin_without_refitting(pool, bundles):
    model = pool.get(NAME_A)
    end = bundles[NAME_A].history.end.date()
    actuals = [(end + timedelta(weeks=1), 250.0), (end + timedelta(weeks=3), 260.0)]
    prediction = json.loads(pool.prediction_json(model, 4, (80,), actuals=actuals))
    assert prediction["weeks"][0]["week_ending"] == str(end + timedelta(weeks=4))
    expected = bundles[NAME_A].updated(actuals).forecast(4, (80,))
    np.testing.assert_allclose(
        [w["mean"] for w in prediction["weeks"]], expected["mean"], atol=5e-4
    )
    assert not pool.is_cached(model, 4, (80,))  # answers with actuals are never cached


def test_actual_weeks_are_checked_against_the_titles_series(bundles):
    bundle = bundles[NAME_A]
    start, end = bundle.history.start.date(), bundle.history.end.date()
    check_actuals(bundle, [(end, 1.0), (start, 2.0), (end + timedelta(weeks=260), 0.0)])
    cases = [
        ([(end + timedelta(days=1), 1.0)], "actuals[0].week_ending", "Sunday"),
        ([(end, 1.0), (start - timedelta(weeks=1), 1.0)], "actuals[1].week_ending", "before"),
        ([(end + timedelta(weeks=261), 1.0)], "actuals[0].week_ending", "260 weeks"),
        ([(end, 1.0), (end, 2.0)], "actuals[1].week_ending", "more than once"),
    ]
    for actuals, field, reason in cases:
        with pytest.raises(InstanceProblem, match=reason) as caught:
            check_actuals(bundle, actuals)
        assert caught.value.field == field


def test_a_title_that_cannot_be_forecast_gets_its_error_and_the_others_their_answers(bundles):
    good = bundles[NAME_A]
    broken = unforecastable(good, ISBN_B)
    pool = ModelPool.from_bundles({NAME_A: good, NAME_B: broken})
    a, b = pool.get(NAME_A), pool.get(NAME_B)
    answers = pool.predictions_json([(b, []), (a, [])], 8, (80, 95))
    assert isinstance(answers[0], ForecastError)
    assert str(answers[0]).startswith(f"{ISBN_B}: theta forecast exceeds")
    assert answers[1] == pool.prediction_json(a, 8, (80, 95))
    assert not pool.is_cached(b, 8, (80, 95)) and pool.is_cached(a, 8, (80, 95))
    with pytest.raises(ForecastError, match="exceeds"):
        pool.prediction_json(b, 8, (80, 95))


def test_a_prediction_is_compact_json_as_the_standard_library_writes_it(pool, bundles):
    model = pool.get(NAME_A)
    end = bundles[NAME_A].history.end.date()
    for actuals in ([], [(end + timedelta(weeks=1), 250.5)]):
        body = pool.prediction_json(model, 9, (95, 80), (0.025, 0.5, 0.9), actuals)
        prediction = json.loads(body)
        assert json.dumps(prediction, separators=(",", ":")).encode() == body
        assert list(prediction["weeks"][0]) == [
            "week_ending", "mean", "lo_80", "hi_80", "lo_95", "hi_95", "p2.5", "p50", "p90"
        ]  # fmt: skip
        assert len(prediction["weeks"]) == 9


def test_numbers_of_any_size_are_written_as_the_standard_library_writes_them(pool):
    """Rounded to 0.001, from zero and thousandths to 1e15, negative zero as 0.0."""
    model = pool.get(NAME_A)
    rng = np.random.default_rng(3)
    values = np.concatenate([[0.0, -0.0, 0.001, 1.0, 2.5e-4], 10.0 ** rng.uniform(-3, 15, 27)])
    columns = {"mean": values[None], "lo_80": values[None] / 3, "hi_80": values[None] * 3}
    days = 19_000 + 7 * np.arange(len(values))[None]
    body = _prediction_json(model, Forecasts([model.bundle.key], days, columns), 0)
    prediction = json.loads(body)
    assert json.dumps(prediction, separators=(",", ":")).encode() == body
    weeks = prediction["weeks"]
    assert [w["mean"] for w in weeks] == [round(float(v), 3) + 0.0 for v in values]
    assert weeks[0]["week_ending"] == str(date(1970, 1, 1) + timedelta(days=19_000))
    assert "-0.0" not in body.decode()
