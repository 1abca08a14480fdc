"""ZenML under the project folder, set up on first use: nothing to run by hand.

`setup_zenml(settings)` points ZenML at `<home>/zenml` (its global configuration, the local
SQLite store and the local artifact store), turns analytics off, and makes `<home>` the ZenML
repository (what `zenml init` would do there) with the default local stack active. It must run
before `zenml` is imported in this process, because ZenML reads its environment variables on
import; every Shelfcast module that needs ZenML imports it inside functions, after calling this.
If ZenML was already imported for another project folder (tests do this), its global
configuration and client are reset to the new folder.

After a run, the same state is visible from the shell:

    ZENML_CONFIG_PATH=<home>/zenml ZENML_REPOSITORY_PATH=<home> zenml pipeline runs list
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from shelfcast.settings import Settings

ZENML_FOLDER = "zenml"
# Set unless the user set them: quiet, offline, no rich traceback handler taking over, and no
# copies of the console logs in the artifact store for local runs (they cost about 0.3 s a
# step; a remote orchestrator's steps, which run elsewhere, still store theirs).
DEFAULTS = {
    "ZENML_ENABLE_RICH_TRACEBACK": "false",
    "ZENML_LOGGING_VERBOSITY": "WARN",
    "ZENML_DISABLE_STEP_LOGS_STORAGE": "true",
    "ZENML_DISABLE_PIPELINE_LOGS_STORAGE": "true",
    "AUTO_OPEN_DASHBOARD": "false",
    "ZENML_AUTO_OPEN_DASHBOARD": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


def zenml_environment(settings: Settings) -> dict[str, str]:
    """The variables that point ZenML at this project folder (also for the `zenml` command)."""
    home = Path(settings.home).expanduser().resolve()
    return {
        "ZENML_CONFIG_PATH": str(home / ZENML_FOLDER),
        "ZENML_REPOSITORY_PATH": str(home),
        "ZENML_ANALYTICS_OPT_IN": "false",
    }


def setup_zenml(settings: Settings, *, verbose: bool = False) -> Path:
    """Point ZenML at `settings.home`, creating its repository and store there on first use.

    Returns the repository root (the project folder). `verbose` keeps ZenML's INFO logs
    (only effective before ZenML is first imported in this process).
    """
    variables = zenml_environment(settings)
    home = Path(variables["ZENML_REPOSITORY_PATH"])
    home.mkdir(parents=True, exist_ok=True)
    changed = any(os.environ.get(k) != v for k, v in variables.items())
    os.environ.update(variables)
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    if verbose:
        os.environ["ZENML_LOGGING_VERBOSITY"] = "INFO"
    if changed and "zenml" in sys.modules:
        _forget_previous_store()

    from zenml.client import Client

    if not Client.is_repository_directory(home):
        with _quiet(verbose):  # "Setting the global active stack to default." and such
            Client.initialize(root=home)
    return home


@contextlib.contextmanager
def _quiet(verbose: bool) -> Iterator[None]:
    if verbose:
        yield
        return
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _forget_previous_store() -> None:
    """Drop ZenML's cached configuration and client so that the new variables take effect."""
    from zenml.client import Client
    from zenml.config.global_config import GlobalConfiguration
    from zenml.utils import source_utils

    GlobalConfiguration._reset_instance()
    Client._reset_instance()
    source_utils.set_custom_source_root(None)
