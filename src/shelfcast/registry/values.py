"""Values as the registry records them: finite numbers or None, tag and param text, times."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

MAX_TAG = 5000  # characters of a long tag or description value kept


def number(value: Any) -> float | None:
    """`value` as a finite float; None for None, NaN, infinities and what is not a number."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt(value: Any) -> str:
    """A number as a tag value: six significant digits, "nan" when there is none."""
    x = number(value)
    return "nan" if x is None else f"{x:.6g}"


def param_value(value: Any) -> str:
    """A param value: strings as they are, anything else (numpy scalars included) as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    return json.dumps(value, default=str)


def now_ms() -> int:
    """Now in milliseconds since the epoch (MLflow's metric timestamps)."""
    return int(time.time() * 1000)


def now_iso() -> str:
    """Now in UTC, to the second, as ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")
