"""A small BookScan catalogue with a title in each of several segments, and one without a
sale from `START` on: for the commands that cover the whole catalogue."""

from pathlib import Path

import numpy as np
import pandas as pd

# 160 weeks to 2024-01-20, read from START on.
START = "2022-01-01"
STEADY = "9780000000019"  # sells every week: established/smooth
LUMPY = "9780000000026"  # the last 60 weeks, every third week, uneven sizes: young/lumpy
FADED = "9780000000033"  # 20 weeks in 2022, nothing since: inactive
GONE = "9780000000040"  # sold in 2021 only: no sales from START on (inactive)


def small_catalogue(path: Path) -> Path:
    """Write the catalogue as a BookScan csv at `path`."""
    weeks = pd.date_range("2021-01-02", periods=160, freq="W-SAT")
    index = np.arange(len(weeks))
    lumpy = np.where(index % 3 == 0, np.tile([1, 12, 2, 25], 40), 0) * (index >= 100)
    volume = {
        STEADY: np.random.default_rng(7).poisson(40, len(weeks)),
        LUMPY: lumpy,
        FADED: np.where((weeks >= "2022-02-05") & (weeks < "2022-06-25"), 15, 0),
        GONE: np.where(weeks < "2021-07-01", 8, 0),
    }
    frame = pd.concat(
        pd.DataFrame({"ISBN": isbn, "Title": f"Title {isbn[-3:]}", "End Date": weeks, "Volume": v})
        for isbn, v in volume.items()
    )
    frame["End Date"] = frame["End Date"].dt.strftime("%d/%m/%Y")
    frame.to_csv(path, index=False)
    return path
