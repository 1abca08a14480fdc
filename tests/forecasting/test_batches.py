"""Titles fitted in batches: the batch size rule (guided: big first, shrinking to single titles),
and batches giving the fits, order, failures, calibration and progress of one title at a
time."""

from concurrent.futures import ThreadPoolExecutor

from support.synthetic import seasonal_series

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import fit_titles
from shelfcast.forecasting.parallel import GUIDED_SHARE, MAX_BATCH, batch_sizes
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

CONFIG = fit_config(Settings(), n_origins=1, candidates=("snaive", "theta"))


def catalogue() -> list[TitleSeries]:
    """Sixteen short seasonal titles and one too short to fit, in the middle of a batch."""
    titles = [seasonal_series(130 + 5 * i, seed=i, key=f"k{i}") for i in range(16)]
    return [*titles[:4], TitleSeries("one-week", "2024-01-06", [5.0]), *titles[4:]]


def bundle_json(fit) -> dict:
    return {**fit.bundle.info(), "created_at": None}


def test_batches_start_full_and_shrink_to_single_titles():
    assert batch_sizes(0, 2) == []
    assert batch_sizes(5, 0) == batch_sizes(5, 1) == [3, 1, 1]
    assert batch_sizes(16, 2) == [4, 3, 3, 2, 1, 1, 1, 1]
    assert batch_sizes(1_000, 4)[:30] == [MAX_BATCH] * 30
    for n, workers in [(17, 1), (100, 2), (957, 4), (1_000, 2), (10_000, 3), (100_000, 32)]:
        sizes = batch_sizes(n, workers)
        assert sum(sizes) == n
        assert sizes == sorted(sizes, reverse=True)  # the biggest go first
        assert max(sizes) <= MAX_BATCH and sizes[-workers:] == [1] * workers
        left = n
        for size in sizes:  # each takes its share of the titles left, at most MAX_BATCH
            assert size == min(MAX_BATCH, -(-left // (GUIDED_SHARE * workers)))
            left -= size


def test_batches_give_the_fits_of_one_title_at_a_time():
    series = catalogue()
    heard = []
    # workers=1 with an executor: 17 titles in batches of 9, 4, 2, 1 and 1 (one-week in the
    # first, after k0-k3)
    with ThreadPoolExecutor(max_workers=1) as executor:
        batched, batched_errors = fit_titles(
            series,
            CONFIG,
            workers=1,
            executor=executor,
            progress=lambda s, fit: heard.append((s.key, fit is not None)),
        )
    one_by_one, errors = fit_titles(series, CONFIG, workers=1)

    assert batch_sizes(len(series), 1) == [9, 4, 2, 1, 1]
    assert batched_errors.keys() == errors.keys() == {"one-week"}
    assert [f.key for f in batched] == [f.key for f in one_by_one] == [f"k{i}" for i in range(16)]
    for a, b in zip(batched, one_by_one, strict=True):
        assert a.selected == b.selected
        assert bundle_json(a) == bundle_json(b)  # same model, evaluation and calibration
    assert batched[0].bundle.calibration is not None
    assert sorted(heard) == sorted((s.key, s.key != "one-week") for s in series)
