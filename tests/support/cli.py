"""The `shelfcast` command as a user runs it: a fresh process in a project folder, with no
Shelfcast, MLflow or environment settings inherited from the test run."""

import os
import subprocess
import sys
from pathlib import Path

SHELFCAST = str(Path(sys.executable).parent / "shelfcast")
NOT_INHERITED = {"MLFLOW_TRACKING_URI", "DEPLOYMENT_ENV"}


def environment(data: Path | None = None, **overrides: str) -> dict[str, str]:
    """This process's environment without Shelfcast's, MLflow's or the deployment's
    settings, 200 columns wide; `data` is the sales data setting."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SHELFCAST_") and k not in NOT_INHERITED
    }
    env["COLUMNS"] = "200"
    if data is not None:
        env["SHELFCAST_DATA__PATHS"] = str(data)
    env.update(overrides)
    return env


def inactive_venv_path() -> str:
    """PATH as it is when the venv is not active: without the folder of this Python."""
    here = Path(sys.executable).parent.absolute()
    folders = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join(f for f in folders if f and Path(f).absolute() != here)


def shelfcast(
    cwd: Path, *args: str, data: Path | None = None, **env: str
) -> subprocess.CompletedProcess:
    """Run `shelfcast args...` in `cwd` (its project folder is `cwd/.shelfcast`); `data` is
    the sales data setting, `env` more variables (e.g. COLUMNS="80")."""
    return subprocess.run(
        [SHELFCAST, *args],
        cwd=cwd,
        env=environment(data, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
