"""The ZenML training pipeline (thin steps over the core) and the engines that fit titles.

`run_training(settings, ...)` is the entry point; it sets ZenML up under the project folder
before importing it. Modules that import ZenML at import time (`steps`, `pipeline`,
`materializers`) are loaded only after that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["TitleSummary", "TrainingFailed", "TrainingSummary", "fit_config", "run_training"]

if TYPE_CHECKING:
    from shelfcast.training.run import (
        TitleSummary,
        TrainingFailed,
        TrainingSummary,
        fit_config,
        run_training,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        from shelfcast.training import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
