"""Retraining the titles whose alerts call for it, on the training data extended by the
actuals, through the training pipeline and its promotion gate.

The training data (`settings.data.paths`, else the sample catalogue) is read and validated as the
pipeline reads it; the stored actuals go on top: an ISBN-week in both takes the actual
volume (a correction), the other actual weeks are added. The result is one BookScan parquet
file, `<home>/monitoring/training-data/sales-<sha256 prefix>.parquet`, named after its
content, so an unchanged rerun finds the same bytes and ZenML's cache (nothing is retrained
or registered twice). `run_training(retraining_settings(settings), isbns=...)` then trains
only the alerting titles on it, and the promotion gate decides whether each new version
takes `champion`, with one difference from an ordinary training run: a retrained version
wins unless it does more than `monitoring.retrain_tolerance` (5%) worse than the champion on
the newest window. The gate has both forecast that window from the same origin, before the
weeks that raised the alert, so neither can show the benefit of having seen them (after a
level shift both score alike); the alert is the evidence that the champion no longer fits,
and a tie goes to the version that has seen the newest sales.
Serving the new champions takes `shelfcast package` and a deploy.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shelfcast.atomic import write_atomic
from shelfcast.errors import ShelfcastError
from shelfcast.monitoring.actuals import KEY, read_actuals
from shelfcast.monitoring.alerts import RETRAIN
from shelfcast.monitoring.paths import actuals_path, training_data_dir
from shelfcast.settings import Settings

DIGEST_CHARS = 16


class RetrainError(ShelfcastError):
    """Titles cannot be retrained from this report or data."""


@dataclass
class RetrainPlan:
    """What a report asks for: titles to retrain (with the rules behind each), and alerting
    titles left alone because their action is something else."""

    retrain: dict[str, list[str]] = field(default_factory=dict)  # ISBN -> rules
    other: dict[str, list[str]] = field(default_factory=dict)  # ISBN -> "rule: action"


def plan_retraining(report: Mapping[str, Any]) -> RetrainPlan:
    """The titles of a report's alerts whose recommended action is retrain."""
    plan = RetrainPlan()
    for alert in report.get("alerts", []):
        isbn, rule, action = str(alert["isbn"]), str(alert["rule"]), str(alert["action"])
        if action == RETRAIN:
            plan.retrain.setdefault(isbn, []).append(rule)
        else:
            plan.other.setdefault(isbn, []).append(f"{rule}: {action}")
    plan.other = {k: v for k, v in plan.other.items() if k not in plan.retrain}
    return plan


def extended_training_data(settings: Settings) -> Path:
    """Write the training data with the actuals applied (see above); returns its path."""
    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.validation import BOOKSCAN_COLUMNS
    from shelfcast.training.sources import resolve_sources

    actuals = read_actuals(actuals_path(settings))
    if actuals.empty:
        raise RetrainError(
            "no actual sales have been ingested: retraining would see nothing new "
            "(`shelfcast monitor actuals PATH`)"
        )
    sources = resolve_sources(settings)
    base = read_sales(list(sources.sales), isbn_list=sources.isbn_list)
    if base.kind != "bookscan":
        raise RetrainError("the training data is not BookScan data: actuals cannot extend it")
    frame = base.frame
    replaced = frame.merge(actuals[KEY], on=KEY, how="left", indicator=True)["_merge"]
    added = actuals[["isbn", "week_ending", "volume", "title", "author"]].reindex(
        columns=BOOKSCAN_COLUMNS
    )
    merged = pd.concat(
        [frame[(replaced == "left_only").to_numpy()], added.astype(frame.dtypes.to_dict())],
        ignore_index=True,
    ).sort_values(KEY, ignore_index=True)
    buffer = io.BytesIO()
    merged.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    folder = training_data_dir(settings)
    target = folder / f"sales-{hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]}.parquet"
    if not target.exists():
        write_atomic(target, data)
    for old in folder.glob("sales-*.parquet"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def retraining_settings(settings: Settings) -> Settings:
    """`settings` with the extended training data as the data and the retraining gate: give
    them to `run_training` with the titles to retrain."""
    return settings.replace(
        data={"paths": (str(extended_training_data(settings)),)},
        registry={"promotion_min_improvement": -settings.monitoring.retrain_tolerance},
    )
