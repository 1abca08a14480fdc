"""The application layer: each stage of a model's life as a plain function.

Every function takes the settings (and typed options), returns a typed, frozen result and
prints nothing; progress goes to an optional callback (`lifecycle.progress`). The command
line (the `cli` package), the seed's scripts (`pipelines/`, `deploy/`), the dashboard and the
tests call these, never the command line.

    train_titles(settings, TrainOptions(isbns=...))     train, register, gate  (lifecycle.train)
    promote_model / rollback_model                      move `champion` by hand (lifecycle.models)
    package_release(settings, PackageOptions(...))      champions -> a release  (lifecycle.package)
    deploy_release / deploy_per_title / promote_canary /
      rollback_endpoint / check_endpoint / ask          releases -> endpoints   (lifecycle.deploy)
    run_lifecycle / plan_lifecycle                      all of it, or its plan  (lifecycle.run)
    retrain_if_needed(settings, ...)                    act on a monitoring report
                                                        (lifecycle.retrain)
    forecast_titles / forecast_release                  forecasts without an endpoint
                                                        (lifecycle.forecast, lifecycle.batch)
    catalogue_titles(settings, TitlesOptions(...))      every title, its segment and the
                                                        seasonal selection (lifecycle.catalogue)

Layering: this package calls training, packaging, endpoints, monitoring, registry, releases,
serving, forecasting, catalog and storage; none of those import it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "progress": ("Progress", "ProgressEvent", "quiet"),
    "data": ("load_sales",),
    "catalogue": ("TitleFilter", "TitlesOptions", "TitlesResult", "catalogue_titles"),
    "train": ("TitleOutcome", "TrainOptions", "TrainResult", "train_titles"),
    "models": ("ChampionChange", "promote_model", "rollback_model"),
    "package": ("PackageOptions", "package_release"),
    "deploy": (
        "Answer",
        "DeployResult",
        "DryRunPlan",
        "PerTitleResult",
        "TitleDeploy",
        "ask",
        "check_endpoint",
        "deploy_per_title",
        "deploy_release",
        "describe_endpoint",
        "find_release",
        "list_endpoints",
        "promote_canary",
        "rollback_endpoint",
        "start_endpoint",
        "stop_endpoint",
    ),
    "run": (
        "LifecycleOptions",
        "LifecyclePlan",
        "LifecycleResult",
        "plan_lifecycle",
        "run_lifecycle",
    ),
    "retrain": ("RetrainResult", "retrain_if_needed"),
    "forecast": (
        "FitForecastResult",
        "FitOptions",
        "ReleaseForecastOptions",
        "ReleaseForecastResult",
        "forecast_release",
        "forecast_titles",
    ),
    "batch": ("BatchError", "BatchResult", "batch_forecast"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = [
    "Answer",
    "BatchError",
    "BatchResult",
    "ChampionChange",
    "DeployResult",
    "DryRunPlan",
    "FitForecastResult",
    "FitOptions",
    "LifecycleOptions",
    "LifecyclePlan",
    "LifecycleResult",
    "PackageOptions",
    "PerTitleResult",
    "Progress",
    "ProgressEvent",
    "ReleaseForecastOptions",
    "ReleaseForecastResult",
    "RetrainResult",
    "TitleDeploy",
    "TitleFilter",
    "TitleOutcome",
    "TitlesOptions",
    "TitlesResult",
    "TrainOptions",
    "TrainResult",
    "ask",
    "batch_forecast",
    "catalogue_titles",
    "check_endpoint",
    "deploy_per_title",
    "deploy_release",
    "describe_endpoint",
    "find_release",
    "forecast_release",
    "forecast_titles",
    "list_endpoints",
    "load_sales",
    "package_release",
    "plan_lifecycle",
    "promote_canary",
    "promote_model",
    "quiet",
    "retrain_if_needed",
    "rollback_endpoint",
    "rollback_model",
    "run_lifecycle",
    "start_endpoint",
    "stop_endpoint",
    "train_titles",
]

if TYPE_CHECKING:
    from shelfcast.lifecycle.batch import BatchError, BatchResult, batch_forecast
    from shelfcast.lifecycle.catalogue import (
        TitleFilter,
        TitlesOptions,
        TitlesResult,
        catalogue_titles,
    )
    from shelfcast.lifecycle.data import load_sales
    from shelfcast.lifecycle.deploy import (
        Answer,
        DeployResult,
        DryRunPlan,
        PerTitleResult,
        TitleDeploy,
        ask,
        check_endpoint,
        deploy_per_title,
        deploy_release,
        describe_endpoint,
        find_release,
        list_endpoints,
        promote_canary,
        rollback_endpoint,
        start_endpoint,
        stop_endpoint,
    )
    from shelfcast.lifecycle.forecast import (
        FitForecastResult,
        FitOptions,
        ReleaseForecastOptions,
        ReleaseForecastResult,
        forecast_release,
        forecast_titles,
    )
    from shelfcast.lifecycle.models import ChampionChange, promote_model, rollback_model
    from shelfcast.lifecycle.package import PackageOptions, package_release
    from shelfcast.lifecycle.progress import Progress, ProgressEvent, quiet
    from shelfcast.lifecycle.retrain import RetrainResult, retrain_if_needed
    from shelfcast.lifecycle.run import (
        LifecycleOptions,
        LifecyclePlan,
        LifecycleResult,
        plan_lifecycle,
        run_lifecycle,
    )
    from shelfcast.lifecycle.train import TitleOutcome, TrainOptions, TrainResult, train_titles


def __getattr__(name: str) -> Any:
    """The exports, imported on first use (the command line starts faster for it)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
