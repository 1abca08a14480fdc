"""Retrain if needed: the titles whose alerts in a monitoring report recommend retraining,
trained on the training data extended by the ingested actuals, through the training
pipeline and its promotion gate (`shelfcast.monitoring.retrain` says how the data are
extended and the gate relaxed). Serving the new champions takes a package and a deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shelfcast.lifecycle.progress import Progress, step
from shelfcast.lifecycle.train import TrainOptions, TrainResult, train_titles
from shelfcast.settings import Settings

if TYPE_CHECKING:
    from shelfcast.monitoring.retrain import RetrainPlan


@dataclass(frozen=True)
class RetrainResult:
    """The report acted on, what it asked for, and (unless a dry run) the training run."""

    report: Path
    report_created: str
    alerts: int
    plan: RetrainPlan
    dry_run: bool
    training_data: str | None = None  # the extended training data trained on
    training: TrainResult | None = None  # None: nothing to retrain, or a dry run


def retrain_if_needed(
    settings: Settings,
    report: Path | None = None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> RetrainResult:
    """Act on `report` (default: the latest monitoring report): retrain the titles whose
    alerts say retrain; the others (roll back, investigate) are listed in the plan only."""
    from shelfcast.monitoring.report import latest_report_path, read_report
    from shelfcast.monitoring.retrain import plan_retraining, retraining_settings

    path = report or latest_report_path(settings)
    document = read_report(path)
    plan = plan_retraining(document)
    facts = {
        "report": path,
        "report_created": str(document.get("created", "")),
        "alerts": len(document.get("alerts", [])),
        "plan": plan,
        "dry_run": dry_run,
    }
    if not plan.retrain or dry_run:
        return RetrainResult(**facts)
    step(progress, "retrain", "Extending the training data by the ingested actuals")
    extended = retraining_settings(settings)
    step(
        progress, "retrain", f"Retraining {len(plan.retrain)} title(s) on {extended.data.paths[0]}"
    )
    trained = train_titles(extended, TrainOptions(isbns=tuple(plan.retrain)), progress)
    return RetrainResult(**facts, training_data=extended.data.paths[0], training=trained)
