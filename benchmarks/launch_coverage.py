"""New titles' intervals on every launch of the sample catalogue, by weeks seen and by size.

The segment table of `catalogue_accuracy.py` scores the 13 to 16 titles that are new at its
origins. Here every title launched inside the catalogue is cut 1 to 12 weeks after its first
sale, as a new title is at some origin, fitted by `fit_title` with the launch curves trained up
to its cut (`pools_by_quarter`: no look-ahead in the curves), and forecast 13 weeks ahead.
Its 80% / 95% intervals are scored on those weeks as the model gives them and with every
title's calibration, which is what `fit_titles` gives a new title. That calibration is the one
of `fit_titles` over the whole catalogue at the benchmark's first origin, for every cut: it saw
weeks after earlier cuts, a level the same for all; so these rows show how coverage moves with
a launch's size and age, not a forecast's accuracy (the segment table gives that).

Example:
    .venv/bin/python benchmarks/launch_coverage.py            # the weeks before the origins
    .venv/bin/python benchmarks/launch_coverage.py --all      # up to the catalogue's end
"""

from __future__ import annotations

# isort: off
import _common  # first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from _common import Table, fmt_seconds, load_note, machine_line
from catalogue_accuracy import (
    cases_at,
    cut_catalogue,
    launches,
    load_catalogue,
    origin_weeks,
    pools_by_quarter,
)
from m4_weekly import LEVELS, probabilistic, shelfcast_forecast

HORIZON = 13
AGES = range(1, 13)  # weeks seen by a new title
AGE_BANDS = ((1, 1), (2, 3), (4, 5), (6, 9), (10, 12))
SIZE_BANDS = ((0.0, 2.0), (2.0, 5.0), (5.0, 20.0), (20.0, np.inf))  # copies a week, seen


@dataclass
class Replay:
    k: int
    size: float  # mean weekly copies over the weeks seen
    actual: np.ndarray
    own: Any  # Forecast: the model's own intervals
    calibrated: Any  # Forecast: with every title's calibration


def replays(cat: Any, config: Any, calibration: Any) -> list[Replay]:
    """Every launch cut at each of `AGES` with `HORIZON` weeks after the cut, fitted and
    forecast with and without `calibration`."""
    from shelfcast.errors import ForecastError
    from shelfcast.forecasting import fit_title

    found = [x for x in launches(cat) if len(x.series) > AGES[0] + HORIZON - 1]
    cuts = [x.series.start + pd.Timedelta(weeks=k - 1) for x in found for k in AGES]
    pools = pools_by_quarter(cat, config, cuts)
    out = []
    for i, x in enumerate(found):
        if i % 50 == 0:
            print(f"launches {i} / {len(found)}", flush=True)
        for k in AGES:
            actual = x.series.values[k : k + HORIZON]
            if len(actual) < HORIZON:
                continue
            try:
                fit = fit_title(x.series.head(k), config, pools)
            except (ForecastError, ValueError, ArithmeticError):
                continue
            calibrated = replace(fit, bundle=replace(fit.bundle, calibration=calibration))
            out.append(
                Replay(
                    k,
                    float(x.series.values[:k].mean()),
                    actual,
                    shelfcast_forecast(fit, HORIZON),
                    shelfcast_forecast(calibrated, HORIZON),
                )
            )
    return out


def band_label(lo: float, hi: float) -> str:
    if lo == hi:
        return f"{lo:g}"
    return f"under {hi:g}" if lo == 0 else f"{lo:g}+" if np.isinf(hi) else f"{lo:g}-{hi:g}"


def table(rows: Sequence[Replay], title: str, notes: list[str]) -> Table:
    """Per band of weeks seen, per band of size, and over all: the replays, their summed sales
    over their summed forecasts, and the coverage of both intervals."""
    t = Table(
        title=title,
        columns=[
            "weeks seen",
            "copies a week seen",
            "replays",
            "actual / forecast sales",
            "80% / 95% coverage, own intervals",
            "80% / 95% coverage, every title's calibration",
        ],
        right_align_from=2,
    )
    groups = [
        (band_label(lo, hi), "all", [r for r in rows if lo <= r.k <= hi]) for lo, hi in AGE_BANDS
    ]
    groups += [
        ("1-12", band_label(lo, hi), [r for r in rows if lo <= r.size < hi])
        for lo, hi in SIZE_BANDS
    ]
    groups.append(("**all**", "**all**", list(rows)))
    for ages, sizes, group in groups:
        if not group:
            continue
        actual = sum(float(r.actual.sum()) for r in group)
        forecast = sum(float(r.own.mean.sum()) for r in group)
        cells = []
        for which in ("own", "calibrated"):
            p = probabilistic([r.actual for r in group], [getattr(r, which) for r in group])
            cells.append(" / ".join(f"{p.coverage[lv]:.1f}%" for lv in LEVELS) if p else "-")
        t.add(ages, sizes, len(group), f"{actual / forecast:.2f}", *cells)
    t.notes += notes
    return t


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="the whole catalogue (default: cut at the first of catalogue_accuracy.py's three"
        " origins, the weeks where choices are made)",
    )
    p.add_argument("--workers", type=int, default=2, help="fit_titles processes (2)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _common.exit_on_sigterm()
    from shelfcast.forecasting import fit_titles
    from shelfcast.forecasting.calibration import fit_calibration
    from shelfcast.settings import load_settings
    from shelfcast.training.run import fit_config

    t0 = time.perf_counter()
    load = load_note()
    cat = load_catalogue(None)
    config = fit_config(load_settings(), horizon=HORIZON)
    origins = origin_weeks(max(s.end for s in cat.series), 3, HORIZON)
    if not args.all:
        cat = cut_catalogue(cat, origins[0])
        origins = origin_weeks(origins[0], 3, HORIZON)
    print(f"every title's calibration: fit_titles at {origins[0]:%Y-%m-%d}", flush=True)
    at = cases_at(cat.series, origins[0], HORIZON)
    fits, _ = fit_titles([c.history for c in at], config, workers=args.workers)
    calibration = fit_calibration(f.scores_for_calibration for f in fits)
    found = replays(cat, config, calibration)
    end = max(s.end for s in cat.series)
    notes = [
        f"every launch inside the catalogue up to {end:%Y-%m-%d} (first sale at least 13 weeks"
        " after its first week) cut 1 to 12 weeks after its first sale, with 13 weeks after the"
        " cut; `fit_title(the cut, the default configuration, the launch curves trained every 13"
        " weeks up to the cut)`, `bundle.forecast(13, levels=(80, 95))`; coverage pooled over"
        " the replays' weeks",
        "own intervals: the bundle as `fit_title` returns it; every title's calibration: the"
        f" conformal calibration of `fit_titles` over the {len(at)} titles cut at"
        f" {origins[0]:%Y-%m-%d} ({calibration.n_titles} titles' backtest scores), as"
        " `fit_titles` gives a new title, on every replay",
        f"copies a week seen: the launch's mean weekly sales over the weeks it was cut on; {load}",
        f"{machine_line()}; whole run {fmt_seconds(time.perf_counter() - t0)}",
    ]
    title = "New titles' intervals on every launch, by weeks seen and size"
    table(found, title, notes).print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
