"""Demand segments: where a title is in its life, and how it sells.

The **stage** comes from the weeks since its first sale (a series runs from there to the
catalogue's last week): `new` under 13, `young` 13 to 103, `established` 104 or more;
`pre-publication` for a title known from its metadata alone (a publication date, no sales
yet); `inactive` for one without a sale in the last 52 weeks, whatever its age.

The **demand class** is Syntetos and Boylan's (2005), from the last 104 weeks (fewer for a
younger title): the average interval between sales (ADI, weeks per week with a sale) and the
squared coefficient of variation of the sizes of the weeks with sales (CV²). An ADI of 1.32 or
more is intermittent demand, a CV² of 0.49 or more is erratic sizes:

|            | CV² < 0.49   | CV² >= 0.49 |
|------------|--------------|-------------|
| ADI < 1.32 | smooth       | erratic     |
| ADI >= 1.32| intermittent | lumpy       |
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NEW_WEEKS = 13  # under this many weeks since the first sale: new
ESTABLISHED_WEEKS = 104  # this many or more: established (two seasons)
INACTIVE_WEEKS = 52  # no sale in this many weeks: inactive
DEMAND_WINDOW = 104  # weeks the demand class is measured on
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49

STAGES = ("pre-publication", "new", "young", "established", "inactive")
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")


@dataclass(frozen=True)
class Segment:
    """A title's stage and demand class (None before any sale), with the statistics behind
    them."""

    stage: str
    demand: str | None
    weeks: int  # weeks since the first sale (0 before publication)
    adi: float | None = None
    cv2: float | None = None
    weeks_since_sale: int | None = None

    @property
    def name(self) -> str:
        """`stage/demand`, or the stage alone before any sale and once inactive."""
        if self.demand is None or self.stage in ("pre-publication", "inactive"):
            return self.stage
        return f"{self.stage}/{self.demand}"

    @property
    def intermittent(self) -> bool:
        """Intermittent or lumpy: sales in fewer than most weeks."""
        return self.demand in ("intermittent", "lumpy")

    def matches(self, wanted: str) -> bool:
        """True for a stage, a demand class or a `stage/demand` name that describes it."""
        return wanted in (self.stage, self.demand, self.name)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "stage": self.stage,
            "demand": self.demand,
            "weeks": self.weeks,
            "adi": _rounded(self.adi),
            "cv2": _rounded(self.cv2),
            "weeks_since_sale": self.weeks_since_sale,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Segment:
        def number(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)  # type: ignore[arg-type]

        since = data.get("weeks_since_sale")
        return cls(
            stage=str(data["stage"]),
            demand=None if data.get("demand") is None else str(data["demand"]),
            weeks=int(data.get("weeks", 0)),  # type: ignore[call-overload]
            adi=number("adi"),
            cv2=number("cv2"),
            weeks_since_sale=None if since is None else int(since),  # type: ignore[call-overload]
        )


def adi(y: np.ndarray) -> float:
    """Average weeks between sales, from the first sale on (inf when it never sold)."""
    sold = np.flatnonzero(np.asarray(y) > 0)
    if not sold.size:
        return math.inf
    return (len(y) - sold[0]) / sold.size


def cv2(y: np.ndarray) -> float:
    """Squared coefficient of variation of the weeks with sales (nan without any)."""
    sizes = np.asarray(y, dtype=np.float64)
    sizes = sizes[sizes > 0]
    if not sizes.size:
        return math.nan
    return float(sizes.var() / sizes.mean() ** 2)


def demand_class(y: np.ndarray) -> str | None:
    """Syntetos-Boylan class of `y` (None when it has no sale)."""
    a, c = adi(y), cv2(y)
    if not math.isfinite(a):
        return None
    erratic = c >= CV2_CUTOFF
    if a >= ADI_CUTOFF:
        return "lumpy" if erratic else "intermittent"
    return "erratic" if erratic else "smooth"


def segment_of(values: np.ndarray) -> Segment:
    """The segment of a weekly series that runs from its first sale to the catalogue's last
    week."""
    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    sold = np.flatnonzero(y > 0)
    since = int(n - 1 - sold[-1]) if sold.size else n
    recent = y[-DEMAND_WINDOW:]
    if since >= INACTIVE_WEEKS:
        stage = "inactive"
    elif n < NEW_WEEKS:
        stage = "new"
    elif n < ESTABLISHED_WEEKS:
        stage = "young"
    else:
        stage = "established"
    a = adi(recent)
    return Segment(
        stage=stage,
        demand=demand_class(recent),
        weeks=n,
        adi=a if math.isfinite(a) else None,
        cv2=None if math.isnan(cv2(recent)) else cv2(recent),
        weeks_since_sale=since,
    )


def prepublication() -> Segment:
    """The segment of a title known from its metadata alone."""
    return Segment(stage="pre-publication", demand=None, weeks=0)


def is_segment_name(wanted: str) -> bool:
    """Whether `wanted` names a stage, a demand class or a `stage/demand` pair."""
    stage, _, demand = wanted.partition("/")
    if not demand:
        return wanted in STAGES or wanted in DEMAND_CLASSES
    return stage in STAGES and demand in DEMAND_CLASSES


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
