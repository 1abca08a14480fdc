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
- `runs`: the training run (parent run, dataset input, every title, summary).
- `title_record`: what is logged of one title (params, metrics, tags, files), no MLflow call.
- `title_run`: one title's nested run, upload, gate and registration.
- `models`: registered models, versions and aliases: names, lookups, list and show,
  bundles, the versions to package.
- `catalogue`: the catalogue model (`registry.catalogue_model`): one version per training
  run holding every title, gated title by title; `champion_table`. Beside it
  `catalogue_versions` (its versions, files and champion map), `catalogue_files` (the files
  of a version) and `catalogue_titles` (one title: look up, extract, promote, roll back).
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

from shelfcast.errors import BundleError  # a version that holds no bundle (load_bundle, ...)
from shelfcast.registry.challenge import decide, score_on_newest_window
from shelfcast.registry.connection import client_for, experiment_id
from shelfcast.registry.errors import (
    ModelNotFound,
    NoPreviousChampion,
    RegistryError,
    VersionNotFound,
)
from shelfcast.registry.gate import GateDecision
from shelfcast.registry.models import (
    CHALLENGER,
    CHAMPION,
    LIST_COLUMNS,
    MODEL_PREFIX,
    aliases,
    bundle_files,
    list_models,
    load_bundle,
    model_name,
    registered_name,
    resolve_name,
    select_versions,
    show_model,
)
from shelfcast.registry.promotion import promote, rollback
from shelfcast.registry.runs import DATASET_NAME, TrainingRun, git_commit, log_training_run
from shelfcast.registry.title_run import TitleRegistration

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DATASET_NAME",
    "LIST_COLUMNS",
    "MODEL_PREFIX",
    "BundleError",
    "GateDecision",
    "ModelNotFound",
    "NoPreviousChampion",
    "RegistryError",
    "TitleRegistration",
    "TrainingRun",
    "VersionNotFound",
    "aliases",
    "bundle_files",
    "client_for",
    "connection",
    "decide",
    "experiment_id",
    "git_commit",
    "list_models",
    "load_bundle",
    "log_training_run",
    "model_name",
    "promote",
    "registered_name",
    "resolve_name",
    "rollback",
    "score_on_newest_window",
    "select_versions",
    "show_model",
]
