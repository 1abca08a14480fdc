"""A title's bundle as an MLflow pyfunc model, through `loader_module` (no pickle, no code copy).

The logged model folder holds the MLflow metadata (`MLmodel`, requirements) and the bundle's
own files under `data/bundle/`. MLflow loads it by importing the module named in `MLmodel`,
LOADER_MODULE (`shelfcast.mlflow_model`, where this code lived first: every model logged
since names it), and calling its `_load_pyfunc(data_path)`, this module's; so
`mlflow.pyfunc.load_model(uri)` and `mlflow models serve` work wherever Shelfcast is
installed:

    model = mlflow.pyfunc.load_model("models:/arima_book_9780722532935@champion")
    model.predict(pd.DataFrame({"horizon": [8]}))  # week_ending, mean, lo_80, hi_80, ...

This module's own code imports MLflow only to save a model: the loader reads the bundle's
files with Shelfcast's forecasting core (nothing is unpickled).
"""

from __future__ import annotations

import functools
import tempfile
import threading
import uuid
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shelfcast.errors import ForecastError
from shelfcast.forecasting.bundle import Bundle, read_bundle, write_bundle
from shelfcast.settings import ServingSettings

LOADER_MODULE = "shelfcast.mlflow_model"  # recorded in every MLmodel: keep it importable
BUNDLE_DIR = "bundle"  # the bundle's files land in <model>/data/bundle/
DATA_SUBPATH = f"data/{BUNDLE_DIR}"
MLMODEL = "MLmodel"
# A model loaded by MLflow (`mlflow models serve`, `pyfunc.load_model`) runs without Shelfcast's
# settings: it forecasts the settings' default horizon and levels.
DEFAULTS = ServingSettings()


class BundleModel:
    """What `mlflow.pyfunc.load_model` wraps: forecasts from a bundle, horizon from the input."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle

    def predict(self, model_input: Any, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Forecast frame for the requested horizon: week_ending, mean, lo_80, hi_80, lo_95, hi_95.

        `model_input` is a frame (or dict, or list of records) with a `horizon` column; with
        several rows the longest horizon is answered (shorter ones are its first weeks).
        `params` may carry `horizon` when the input has none, and `levels` (e.g. [50, 90]).
        """
        params = dict(params or {})
        horizon = _horizon(model_input, params.get("horizon"))
        levels = params.get("levels") or DEFAULTS.levels
        if isinstance(levels, str):
            levels = [v for v in levels.split(",") if v.strip()]
        try:
            levels = tuple(sorted({int(v) for v in levels}))
        except (TypeError, ValueError):
            raise ForecastError(f"levels must be whole percentages, got {levels!r}") from None
        return self.bundle.forecast(horizon, levels)


def _horizon(model_input: Any, fallback: Any) -> int:
    if isinstance(model_input, pd.DataFrame):
        frame = model_input
    elif isinstance(model_input, Mapping):
        frame = pd.DataFrame({k: np.atleast_1d(v) for k, v in model_input.items()})
    elif isinstance(model_input, list) and model_input:
        frame = pd.DataFrame(model_input)
    else:
        frame = pd.DataFrame()
    if "horizon" in frame.columns and len(frame):
        values = pd.to_numeric(frame["horizon"], errors="coerce")
    elif fallback is not None:
        values = pd.Series([fallback], dtype="float64")
    else:
        values = pd.Series([DEFAULTS.horizon], dtype="float64")
    if values.isna().any() or (values % 1 != 0).any():
        raise ForecastError(f"horizon must be a whole number of weeks, got {list(values)}")
    return int(values.max())


def _load_pyfunc(data_path: str) -> BundleModel:
    """MLflow's loader hook: `data_path` is the model's `data/bundle` folder."""
    return BundleModel(read_bundle(data_path))


@functools.cache
def pip_requirements() -> tuple[str, ...]:
    """What the model needs at load time, pinned to this environment (no inference)."""
    out = []
    for name in ("shelfcast", "mlflow", "numpy", "pandas", "scipy"):
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(name)
    return tuple(out)


@functools.cache
def signature():
    """Input: a `horizon` column (long); parameter `levels` (interval levels, default the
    settings' `serving.levels`); output: the forecast frame's columns for the default levels."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    outputs = [ColSpec("datetime", "week_ending"), ColSpec("double", "mean")]
    for level in DEFAULTS.levels:
        outputs += [ColSpec("double", f"lo_{level}"), ColSpec("double", f"hi_{level}")]
    return ModelSignature(
        inputs=Schema([ColSpec("long", "horizon")]),
        outputs=Schema(outputs),
        params=ParamSchema([ParamSpec("levels", "long", list(DEFAULTS.levels), (-1,))]),
    )


def save_pyfunc(
    bundle: Bundle, path: str | Path, requirements: Sequence[str] | None = None
) -> Path:
    """Write `bundle` as a pyfunc model folder at `path` with `mlflow.pyfunc.save_model`.

    `path` must not exist yet. Requirements are given explicitly (never inferred). MLflow's
    environment defaults (no uv.lock in the model) are `registry.connection`'s.
    """
    import mlflow.pyfunc

    target = Path(path)
    with tempfile.TemporaryDirectory(prefix="shelfcast-bundle-") as tmp:
        folder = write_bundle(bundle, Path(tmp) / BUNDLE_DIR)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            mlflow.pyfunc.save_model(
                str(target),
                loader_module=LOADER_MODULE,
                data_path=str(folder),
                pip_requirements=list(requirements or pip_requirements()),
                signature=signature(),
                metadata=_metadata(bundle),
            )
    return target


def _metadata(bundle: Bundle) -> dict[str, str]:
    return {"isbn": bundle.key, "model_family": bundle.family, "format": "shelfcast-bundle"}


class PyfuncWriter:
    """Pyfunc model folders for many bundles at the cost of one `save_model`.

    The first bundle is saved with `mlflow.pyfunc.save_model`; later ones reuse its environment
    files (conda.yaml, python_env.yaml, requirements.txt) and MLmodel, with their own uuid,
    creation time, metadata and size: what `save_model` would write for them, without
    re-checking the same requirements against the environment each time (about 40 ms).
    """

    def __init__(self, requirements: Sequence[str] | None = None):
        self.requirements = list(requirements or pip_requirements())
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._files: dict[str, bytes] = {}  # environment files of the template
        self._mlmodel: dict[str, Any] = {}  # the template's MLmodel as a dict
        self._lock = threading.Lock()

    def write(self, bundle: Bundle, path: str | Path, artifact_path: str | None = None) -> Path:
        """The model folder for `bundle` at `path` (which must not exist yet)."""
        import yaml

        self._ensure_template(bundle)
        target = Path(path)
        (target / DATA_SUBPATH).mkdir(parents=True)
        for name, content in self._files.items():
            (target / name).write_bytes(content)
        size = 0  # as save_model counts it: the model's data, before its own files
        for name, content in bundle.to_files().items():
            (target / DATA_SUBPATH / name).write_bytes(content)
            size += len(content)
        mlmodel = dict(self._mlmodel)
        mlmodel.update(
            model_uuid=uuid.uuid4().hex,
            utc_time_created=str(datetime.now(UTC).replace(tzinfo=None)),
            metadata=_metadata(bundle),
            model_size_bytes=size,
        )
        if artifact_path:
            mlmodel["artifact_path"] = artifact_path
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        text = yaml.dump(mlmodel, Dumper=dumper, default_flow_style=False)
        (target / MLMODEL).write_text(text)
        return target

    def _ensure_template(self, bundle: Bundle) -> None:
        from mlflow.models import Model

        with self._lock:
            if self._mlmodel:
                return
            self._tmp = tempfile.TemporaryDirectory(prefix="shelfcast-pyfunc-")
            template = save_pyfunc(bundle, Path(self._tmp.name) / "template", self.requirements)
            self._files = {
                f.name: f.read_bytes()
                for f in sorted(template.iterdir())
                if f.is_file() and f.name != MLMODEL
            }
            self._mlmodel = Model.load(str(template / MLMODEL)).to_dict()
            self._tmp.cleanup()
            self._tmp = None

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> PyfuncWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
