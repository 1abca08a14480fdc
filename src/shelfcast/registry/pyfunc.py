"""A title's bundle as an MLflow pyfunc model, through `loader_module` (no pickle, no code copy).

The logged model folder holds the MLflow metadata (`MLmodel`, requirements) and the bundle's
own files under `data/bundle/`. MLflow loads it by importing the module named in `MLmodel`,
LOADER_MODULE (`shelfcast.mlflow_model`, where this code lived first: every model logged
since names it), and calling its `_load_pyfunc(data_path)`, this module's; so
`mlflow.pyfunc.load_model(uri)` and `mlflow models serve` work wherever Shelfcast is
installed:

    model = mlflow.pyfunc.load_model("models:/arima_book_9780722532935@champion")
    model.predict(pd.DataFrame({"horizon": [8]}))  # week_ending, mean, lo_80, hi_80, ...
    model.predict([  # from the weeks sold since training: a row per actual week
        {"horizon": 8, "week_ending": "2024-07-27", "volume": 782.0},
        {"week_ending": "2024-08-03", "volume": 815.0},
    ])

Volumes are floats: MLflow's schema enforcement refuses an integer column (`782`) for the
signature's `double` (`mlflow models serve` converts JSON numbers itself). `mlflow models
serve` takes the same rows as `{"dataframe_records": [...]}`. The actual weeks
update the title's model as the prediction server's `actuals` do (`Bundle.updated`), so both
answer the same forecast. Models saved before these columns (signature: `horizon` alone) still
forecast; MLflow drops the columns their signature lacks, so they ignore actual weeks.

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
from shelfcast.forecasting.bundle import ActualWeekError, Bundle, read_bundle, write_bundle
from shelfcast.settings import ServingSettings

LOADER_MODULE = "shelfcast.mlflow_model"  # recorded in every MLmodel: keep it importable
BUNDLE_DIR = "bundle"  # the bundle's files land in <model>/data/bundle/
DATA_SUBPATH = f"data/{BUNDLE_DIR}"
MLMODEL = "MLmodel"
HORIZON, WEEK_ENDING, VOLUME = "horizon", "week_ending", "volume"  # the input's columns
# A model loaded by MLflow (`mlflow models serve`, `pyfunc.load_model`) runs without Shelfcast's
# settings: it forecasts the settings' default horizon and levels.
DEFAULTS = ServingSettings()


class BundleModel:
    """What `mlflow.pyfunc.load_model` wraps: forecasts from a bundle, horizon (and any newer
    actual weeks) from the input."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle

    def predict(self, model_input: Any, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Forecast frame for the requested horizon: week_ending, mean, lo_80, hi_80, lo_95, hi_95.

        `model_input` is a frame (or dict, or list of records) whose rows carry a `horizon`, an
        actual week (`week_ending`, a date, and `volume`, a number >= 0), or both. With several
        horizons the longest is answered (shorter ones are its first weeks). With actual weeks
        the title's model is first updated with them (`Bundle.updated`: parameters unchanged),
        as the prediction server does with an instance's `actuals`. `params` may carry
        `horizon` when the input has none, and `levels` (e.g. [50, 90]). A ForecastError names
        the row (counted from 0), column and value of bad input.
        """
        params = dict(params or {})
        frame = _frame(model_input)
        horizon = _horizon(frame, params.get("horizon"))
        levels = params.get("levels") or DEFAULTS.levels
        if isinstance(levels, str):
            levels = [v for v in levels.split(",") if v.strip()]
        try:
            levels = tuple(sorted({int(v) for v in levels}))
        except (TypeError, ValueError):
            raise ForecastError(f"levels must be whole percentages, got {levels!r}") from None
        rows, weeks, volumes = _actual_weeks(frame)
        if not rows:
            return self.bundle.forecast(horizon, levels)
        return self._updated(rows, weeks, volumes).forecast(horizon, levels)

    def _updated(self, rows: list[int], weeks: list[Any], volumes: list[float]) -> Bundle:
        """`Bundle.updated` with these weeks, a refused week's error prefixed with its row."""
        try:
            return self.bundle.updated(zip(weeks, volumes, strict=True))
        except ActualWeekError as exc:
            raise ForecastError(f"row {rows[exc.index]}: {exc}") from None


def _frame(model_input: Any) -> pd.DataFrame:
    if isinstance(model_input, pd.DataFrame):
        return model_input
    if isinstance(model_input, Mapping):
        return pd.DataFrame({k: np.atleast_1d(v) for k, v in model_input.items()})
    if isinstance(model_input, list) and model_input:
        return pd.DataFrame(model_input)
    return pd.DataFrame()


def _horizon(frame: pd.DataFrame, fallback: Any) -> int:
    """The largest horizon of the rows that give one; else `fallback`, else the default."""
    if HORIZON in frame.columns:
        given = frame[HORIZON].to_numpy()
        values = np.asarray(pd.to_numeric(given, errors="coerce"), dtype=np.float64)
        bad = ~pd.isna(given) & ~(np.isfinite(values) & (np.floor(values) == values))
        if bad.any():
            row = int(np.argmax(bad))
            raise ForecastError(
                f"row {row}, column {HORIZON}: {_shown(given, row)} is not a whole number of weeks"
            )
        values = values[~np.isnan(values)]
        if len(values):
            return int(values.max())
    value = DEFAULTS.horizon if fallback is None else fallback
    try:
        if float(value) % 1 == 0:
            return int(float(value))
    except (TypeError, ValueError):
        pass
    raise ForecastError(f"horizon must be a whole number of weeks, got {value!r}")


def _actual_weeks(frame: pd.DataFrame) -> tuple[list[int], list[Any], list[float]]:
    """The rows of `frame` that give an actual week, their weeks and volumes (none without the
    columns). Weeks at midnight are dates (others Timestamps, which `extended` refuses with
    their time). ForecastError for a week that is not a date, a volume that is not a number,
    or a row with one but not the other; `extended` checks the weeks and volumes themselves."""
    present = [c for c in (WEEK_ENDING, VOLUME) if c in frame.columns]
    if not present:
        return [], [], []
    if len(present) == 1:
        other = VOLUME if present[0] == WEEK_ENDING else WEEK_ENDING
        raise ForecastError(f"column {present[0]} is given without column {other}")
    raw_weeks, raw_volumes = frame[WEEK_ENDING].to_numpy(), frame[VOLUME].to_numpy()
    stamps = _datetimes(frame[WEEK_ENDING])
    volumes = np.asarray(pd.to_numeric(raw_volumes, errors="coerce"), dtype=np.float64)
    has_week, has_volume = ~np.isnat(stamps), ~np.isnan(volumes)
    for column, raw, ok, what in (
        (WEEK_ENDING, raw_weeks, has_week, "a date (YYYY-MM-DD)"),
        (VOLUME, raw_volumes, has_volume, "a number"),
    ):
        bad = ~pd.isna(raw) & ~ok
        if bad.any():
            row = int(np.argmax(bad))
            raise ForecastError(f"row {row}, column {column}: {_shown(raw, row)} is not {what}")
    lone = has_week != has_volume
    if lone.any():
        row = int(np.argmax(lone))
        if has_week[row]:
            given, missing = f"{WEEK_ENDING} {str(stamps[row])[:10]}", VOLUME
        else:
            given, missing = f"{VOLUME} {volumes[row]:g}", WEEK_ENDING
        raise ForecastError(f"row {row}: {given} is given without a {missing}")
    rows = np.flatnonzero(has_week)
    stamps = stamps[rows]
    days = stamps.astype("datetime64[D]")
    weeks = days.tolist() if (days == stamps).all() else list(pd.DatetimeIndex(stamps))
    return rows.tolist(), weeks, volumes[rows].tolist()


def _datetimes(column: pd.Series) -> np.ndarray:
    """`column` as datetime64[ns] (as MLflow's schema enforcement gives it), NaT where a value
    is missing or not a date."""
    if column.dtype != "datetime64[ns]":
        column = pd.to_datetime(column, errors="coerce", format="ISO8601")
        if not isinstance(column.dtype, np.dtype):  # a time zone: not a week ending
            raise ForecastError(
                f"column {WEEK_ENDING}: dates without a time zone, not {column.dtype}"
            )
    return column.to_numpy(dtype="datetime64[ns]")


def _shown(values: np.ndarray, row: int) -> str:
    value = values[row]
    return repr(value.item() if isinstance(value, np.generic) else value)


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
    """Inputs, each optional: `horizon` (any type: a whole number, checked by `predict`),
    `week_ending` (datetime) and `volume` (double), a row per actual week; parameter `levels`
    (interval levels, default the settings' `serving.levels`); output: the forecast frame's
    columns for the default levels.

    `horizon` is not `long`: MLflow's schema enforcement cannot cast a column with missing
    values to an integer, which records of actual weeks without a horizon make (`double`
    would refuse an integer column, `pd.DataFrame({"horizon": [8]})`)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
    from mlflow.types.schema import AnyType

    outputs = [ColSpec("datetime", "week_ending"), ColSpec("double", "mean")]
    for level in DEFAULTS.levels:
        outputs += [ColSpec("double", f"lo_{level}"), ColSpec("double", f"hi_{level}")]
    inputs = [
        ColSpec(AnyType(), HORIZON, required=False),
        ColSpec("datetime", WEEK_ENDING, required=False),
        ColSpec("double", VOLUME, required=False),
    ]
    return ModelSignature(
        inputs=Schema(inputs),
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
