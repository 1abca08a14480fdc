"""Catalogue tables of any size for release and serving measurements, built cheaply.

Fitting 100,000 titles takes hours on two cores, so `synthetic_table` fits `fitted` titles
of the sample catalogue for real (`fit_titles` with the default settings) and re-keys copies
of their bundles onto every title of a sample catalogue of `titles` ISBNs
(`catalog.sample.plan_catalogue(seed, titles)`: the same rows `shelfcast data sample --titles
N` writes, built in memory). Each copy keeps a fitted title's spec, calibration and
evaluation but takes the ISBN, title and own weekly history (its last 208 weeks at most) of
the title it stands for (`dataclasses.replace`), from a donor of the same stage (new, young,
established, inactive) where one was fitted; a copy of a donor whose model is dated by its own
launch (a launch curve) keeps the donor's history under the new ISBN. Forecasting such a row
costs what a fitted one does; the files compress somewhat better than a fitted catalogue's
would, since copies of one donor share their evaluation. Titles without any sale are left
out, as training leaves them.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from types import SimpleNamespace

import numpy as np
import pandas as pd

from shelfcast.catalog.sample.sales import plan_catalogue
from shelfcast.catalog.segments import segment_of
from shelfcast.catalog.series import TitleSeries, weekly_series
from shelfcast.forecasting import bundle_table
from shelfcast.forecasting.bundle import Bundle
from shelfcast.forecasting.bundle_table import BundleTable
from shelfcast.forecasting.parallel import fit_titles
from shelfcast.settings import load_settings
from shelfcast.training.run import fit_config

MAX_WEEKS = 208  # the training window of a fitted bundle (`training.max_train_weeks`)
COLUMNS = {"ISBN": "isbn", "End Date": "week_ending", "Volume": "volume", "Title": "title"}


def sample_series(titles: int, seed: int = 42) -> list[TitleSeries]:
    """The weekly series of every title with sales in the sample catalogue of `titles` ISBNs."""
    out: list[TitleSeries] = []
    for chunk in plan_catalogue(seed, titles).sales():
        frame = chunk.select(list(COLUMNS)).to_pandas().rename(columns=COLUMNS)
        out += weekly_series(SimpleNamespace(frame=frame, kind="bookscan"))
    return out


def synthetic_table(
    titles: int,
    fitted: int = 300,
    workers: int = 2,
    seed: int = 42,
    say: Callable[[str], None] = print,
) -> BundleTable:
    """A table of every title with sales among `titles`: `fitted` of them fitted for real,
    the others copies of those bundles with their own ISBN and history (module docstring)."""
    series = sample_series(titles, seed)
    say(f"{len(series):,} titles with sales")
    step = max(1, len(series) // fitted)
    chosen = series[::step][:fitted]
    fits, errors = fit_titles(chosen, fit_config(load_settings()), workers=workers)
    say(f"{len(fits)} titles fitted ({len(errors)} failed)")
    donors = [fit.bundle for fit in fits]
    return bundle_table.from_bundles(bundle for _, bundle in stand_ins(series, donors))


def stand_ins(series: Sequence[TitleSeries], donors: Sequence[Bundle]) -> list[tuple[int, Bundle]]:
    """For each of `series`: the index of its donor among `donors` (one of the same stage where
    there is one) and the donor's bundle re-keyed onto it with its own history (the module
    docstring)."""
    by_stage: dict[str, list[int]] = defaultdict(list)
    for i, donor in enumerate(donors):
        by_stage[donor.segment.stage].append(i)
    cycles = {stage: itertools.cycle(group) for stage, group in by_stage.items()}
    anyone = itertools.cycle(range(len(donors)))
    out = []
    for s in series:
        i = next(cycles.get(segment_of(s.values).stage, anyone))
        donor = donors[i]
        if json.dumps(donor.model.to_dict()).find('"launch"') >= 0:  # dated by its own launch
            history = dataclasses.replace(donor.history, key=s.key, title=s.title)
        else:
            values = np.asarray(s.values[-MAX_WEEKS:], dtype=np.float64)
            start = s.start + pd.Timedelta(weeks=len(s.values) - len(values))
            history = dataclasses.replace(s, start=start, values=values)
        out.append((i, dataclasses.replace(donor, history=history)))
    return out
