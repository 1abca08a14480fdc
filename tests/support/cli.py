"""The `shelfcast` command as a user runs it: a fresh process in a project folder, with no
Shelfcast, MLflow or environment settings inherited from the test run."""

import os
import subprocess
import sys
from pathlib import Path

SHELFCAST = str(Path(sys.executable).parent / "shelfcast")
NOT_INHERITED = {"MLFLOW_TRACKING_URI", "DEPLOYMENT_ENV"}


def shelfcast(cwd: Path, *args: str, data: Path | None = None) -> subprocess.CompletedProcess:
    """Run `shelfcast args...` in `cwd` (its project folder is `cwd/.shelfcast`); `data` is
    the sales data setting."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SHELFCAST_") and k not in NOT_INHERITED
    }
    env["COLUMNS"] = "200"
    if data is not None:
        env["SHELFCAST_DATA__PATHS"] = str(data)
    return subprocess.run(
        [SHELFCAST, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
