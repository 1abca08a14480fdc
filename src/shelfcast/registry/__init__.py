"""MLflow tracking and the model registry: runs, registered models, aliases, promotion gate.

One training run is one parent MLflow run in the environment's experiment (data fingerprint,
git commit, settings, counts, the data as a dataset input) with a nested run per title
(model family and orders, backtest metrics per origin and their means, baseline and holdout
metrics, training window, a Plotly forecast page, the backtest table, and the bundle as a
pyfunc model). Each title's model is registered as `arima_book_<ISBN>`; the new version gets
the alias `challenger`, and the promotion gate moves `champion` to it when there is no
champion or when it beats the champion on the newest weeks (the new fit's holdout). Why is
recorded as version tags; the champions' succession is a registered-model tag
(`champion_history`) that `rollback` walks back. Stages are not used: aliases only.

The gate compares like with like: the new version's holdout MASE (its champion fitted
before the holdout weeks) against the champion's forecast of the same weeks from the new
history before them. A new model identical to the champion's (a rerun on unchanged data)
keeps the champion. `settings.registry.promotion_min_improvement` is the margin the new one needs.

Speed (MLflow 3.17; per title, see TitleRegistration.timings): runs are created with their
tags in one call; params and metrics go in one `log_batch`; the plot, the backtest table and
the pyfunc model folder are written once, ahead, by a helper thread, and uploaded by one
`log_artifacts` (for a local store, renamed into the run's artifact folder); requirements
are explicit and `save_model` runs once per training run (`PyfuncWriter`); each promotion
decision is made before its version is created so that its tags go with it. Over HTTP a
small thread pool logs several titles at once; a local SQLite store (put in WAL mode) is
written by one thread, to avoid "database is locked".

Modules, by what they do:

- `connection`: the MLflow client for the settings and MLflow's environment defaults (set
  when this package is imported, before MLflow is), the local store's defaults, the
  experiment, MLflow errors as registry errors.
- `names`: registered model names and aliases; `local_store`: registered versions read
  straight from the project's SQLite store, where it is one MLflow's schema this reads.
- `runs`: the training run (parent run, dataset input, every title, summary).
- `title_record`: what is logged of one title (params, metrics, tags, files), no MLflow call.
- `title_run`: one title's nested run, upload, gate and registration.
- `models`: registered models, versions and aliases: names, lookups, list and show,
  bundles, the versions to package.
- `catalogue`: the catalogue model (`registry.catalogue_model`): one version per training
  run holding every title, gated title by title; `champion_table`. Beside it
  `catalogue_versions` (its versions, files and champion map), `catalogue_files` (the files
  of a version), `catalogue_lookup` (a version and one title's row in it, without MLflow's
  client or a fitting library where the store allows) and `catalogue_titles` (one title:
  history, extract, promote, roll back).
- `gate`: the promotion gate, a pure function of the two versions' scores.
- `challenge`: the evidence the gate decides on (the champion scored on the newest window).
- `history`: the champions' succession (the `champion_history` tag).
- `promotion`: moving `champion` (gate, `promote`, `rollback`), history and reason together.
- `artifacts`: artifact transfer (a title's files up, bundle files down).
- `pyfunc`: the bundle as an MLflow pyfunc model (loaded through `shelfcast.mlflow_model`).
- `errors`, `values`: the registry's errors; numbers, tag text and times as it records them.
"""

# `connection` first: it sets MLflow's environment defaults before anything imports MLflow.
from shelfcast.registry import connection  # isort: skip

import importlib
from typing import Any

# The names below are imported from their modules on first use (PEP 562), so that importing
# the package, or one light module of it (`catalogue_lookup`, `local_store`, `names`), does not
# import MLflow and the fitting libraries that the training side of the registry needs.
_EXPORTS = {
    "shelfcast.errors": ("BundleError",),  # a version that holds no bundle (load_bundle, ...)
    "shelfcast.registry.challenge": ("decide", "score_on_newest_window"),
    "shelfcast.registry.connection": ("client_for", "experiment_id"),
    "shelfcast.registry.errors": (
        "ModelNotFound",
        "NoPreviousChampion",
        "RegistryError",
        "VersionNotFound",
    ),
    "shelfcast.registry.gate": ("GateDecision",),
    "shelfcast.registry.names": (
        "CHALLENGER",
        "CHAMPION",
        "MODEL_PREFIX",
        "model_name",
        "registered_name",
        "resolve_name",
    ),
    "shelfcast.registry.models": (
        "LIST_COLUMNS",
        "aliases",
        "bundle_files",
        "list_models",
        "load_bundle",
        "select_versions",
        "show_model",
    ),
    "shelfcast.registry.promotion": ("promote", "rollback"),
    "shelfcast.registry.runs": ("DATASET_NAME", "TrainingRun", "git_commit", "log_training_run"),
    "shelfcast.registry.title_run": ("TitleRegistration",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["connection", *_MODULE_OF]
