"""Titles fitted in batches: the batch size rule, and batches giving the fits, order, failures,
calibration and progress of one title at a time."""

from concurrent.futures import ThreadPoolExecutor

from support.synthetic import seasonal_series

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import fit_titles
from shelfcast.forecasting.parallel import MAX_BATCH, TASKS_PER_WORKER, batch_size
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

CONFIG = fit_config(Settings(), n_origins=1, candidates=("snaive", "theta"))


def catalogue() -> list[TitleSeries]:
    """Sixteen short seasonal titles and one too short to fit, in the middle of a batch."""
    titles = [seasonal_series(130 + 5 * i, seed=i, key=f"k{i}") for i in range(16)]
    return [*titles[:4], TitleSeries("one-week", "2024-01-06", [5.0]), *titles[4:]]


def bundle_json(fit) -> dict:
    return {**fit.bundle.info(), "created_at": None}


def test_batches_keep_enough_tasks_per_worker_and_at_most_max_batch_titles():
    assert batch_size(16, 2) == 1
    assert batch_size(100, 2) == 6  # 17 tasks: 8-9 a worker
    assert batch_size(10_000, 2) == batch_size(100_000, 32) == MAX_BATCH
    assert batch_size(0, 2) == batch_size(5, 0) == 1
    for n, workers in [(17, 1), (100, 2), (400, 4), (1_000, 2), (10_000, 3)]:
        size = batch_size(n, workers)
        assert 1 <= size <= MAX_BATCH
        assert -(-n // size) >= min(n, workers * TASKS_PER_WORKER)  # tasks


def test_batches_give_the_fits_of_one_title_at_a_time():
    series = catalogue()
    heard = []
    # workers=1 with an executor: 17 titles in batches of 2 (the third: k4 and one-week)
    with ThreadPoolExecutor(max_workers=1) as executor:
        batched, batched_errors = fit_titles(
            series,
            CONFIG,
            workers=1,
            executor=executor,
            progress=lambda s, fit: heard.append((s.key, fit is not None)),
        )
    one_by_one, errors = fit_titles(series, CONFIG, workers=1)

    assert batch_size(len(series), 1) == 2
    assert batched_errors.keys() == errors.keys() == {"one-week"}
    assert [f.key for f in batched] == [f.key for f in one_by_one] == [f"k{i}" for i in range(16)]
    for a, b in zip(batched, one_by_one, strict=True):
        assert a.selected == b.selected
        assert bundle_json(a) == bundle_json(b)  # same model, evaluation and calibration
    assert batched[0].bundle.calibration is not None
    assert sorted(heard) == sorted((s.key, s.key != "one-week") for s in series)
