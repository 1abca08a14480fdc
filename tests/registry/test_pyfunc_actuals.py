"""The pyfunc model forecasting from newer actual weeks (`week_ending`, `volume` rows), as the
prediction server does with an instance's `actuals`: through `mlflow.pyfunc.load_model` and
through a real `mlflow models serve` process."""

import contextlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from support.registry import ISBN_A, train
from support.servers import call, free_port, stop_group, wait_ready

import shelfcast
from shelfcast import registry
from shelfcast.errors import ForecastError
from shelfcast.registry.pyfunc import BundleModel, save_pyfunc
from shelfcast.settings import Settings

LEVELS = Settings().serving.levels  # the pyfunc's default levels
SERVE_TIMEOUT = 120.0


def newer_weeks(bundle, volumes=(31.0, 0.0, 57.5, 40.0)) -> list[tuple[str, float]]:
    """Weeks after the bundle's last, one a volume (ISO dates, as a JSON client sends them)."""
    end = bundle.history.end.date()
    return [(str(end + timedelta(weeks=k)), v) for k, v in enumerate(volumes, start=1)]


def records(horizon: int, weeks: list[tuple[str, float]]) -> list[dict]:
    """The horizon in the first record beside its week; the other records a week each."""
    rows = [{"week_ending": w, "volume": v} for w, v in weeks]
    rows[0] = {"horizon": horizon, **rows[0]}
    return rows


@pytest.fixture(scope="module")
def saved(fits, tmp_path_factory):
    """The first title's pyfunc folder as Shelfcast saves it, loaded by MLflow."""
    folder = save_pyfunc(fits[0].bundle, tmp_path_factory.mktemp("pyfunc") / "model")
    return folder, mlflow.pyfunc.load_model(str(folder))


def test_actual_weeks_update_the_model_before_it_forecasts(saved, fits):
    bundle = fits[0].bundle
    _, model = saved
    weeks = newer_weeks(bundle)
    expected = bundle.updated(weeks).forecast(6, LEVELS)
    got = model.predict(records(6, weeks))
    pd.testing.assert_frame_equal(got, expected)
    assert got["week_ending"].iloc[0] == pd.Timestamp(weeks[-1][0]) + pd.Timedelta(weeks=1)
    before = model.predict(pd.DataFrame({"horizon": [6]}))
    pd.testing.assert_frame_equal(before, bundle.forecast(6, LEVELS))
    assert not np.allclose(got["mean"], before["mean"])
    # a frame with dates, the horizon as a parameter, other levels: the same update
    frame = pd.DataFrame(
        {"week_ending": pd.to_datetime([w for w, _ in weeks]), "volume": [v for _, v in weeks]}
    )
    narrow = model.predict(frame, params={"levels": [50]})
    pd.testing.assert_frame_equal(narrow, bundle.updated(weeks).forecast(32, (50,)))
    # a correction of a week inside the history changes the forecast too
    last = str(bundle.history.end.date())
    corrected = model.predict([{"horizon": 6, "week_ending": last, "volume": 0.0}])
    pd.testing.assert_frame_equal(corrected, bundle.updated([(last, 0.0)]).forecast(6, LEVELS))
    assert not np.allclose(corrected["mean"], before["mean"])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"week_ending": "2031-01-02", "volume": 3.0},
            r"row 1: week_ending 2031-01-02 is a Thursday: this title.s weeks end on a Saturday",
        ),
        ({"week_ending": "2001-01-06", "volume": 3.0}, r"row 1: week_ending 2001-01-06 is before"),
        (
            {"week_ending": "NEXT", "volume": -2.0},
            r"row 1: volume for \S+ must be a number >= 0, got -2",
        ),
        (
            {"week_ending": "NEXT", "volume": float("nan")},
            r"row 1: week_ending \S+ is given without a volume",
        ),
        ({"week_ending": "NEXT"}, r"row 1: week_ending \S+ is given without a volume"),
        ({"volume": 3.0}, r"row 1: volume 3 is given without a week_ending"),
        (
            {"week_ending": "FIRST", "volume": 3.0},
            r"row 1: week_ending \S+ is given more than once",
        ),
        (
            {"week_ending": "2099-01-03", "volume": 3.0},
            r"row 1: week_ending 2099-01-03 is more than 260",
        ),
    ],
)
def test_bad_actual_weeks_name_their_row_column_and_value(saved, fits, row, message):
    bundle = fits[0].bundle
    _, model = saved
    first, second = newer_weeks(bundle)[:2]
    if row.get("week_ending") in ("NEXT", "FIRST"):
        row = {**row, "week_ending": (second if row["week_ending"] == "NEXT" else first)[0]}
    with pytest.raises(ForecastError, match=message):
        model.predict([*records(4, [first]), row])


def test_columns_missing_or_unparsed_are_named(saved, fits):
    """What MLflow's schema enforcement lets through, and what only a direct caller can send."""
    _, model = saved
    ((week, _),) = newer_weeks(fits[0].bundle, (5.0,))
    with pytest.raises(ForecastError, match="column week_ending is given without column volume"):
        model.predict([{"horizon": 4, "week_ending": week}])
    direct = BundleModel(fits[0].bundle)
    with pytest.raises(ForecastError, match=r"row 0, column week_ending: 'soon' is not a date"):
        direct.predict([{"week_ending": "soon", "volume": 1.0}])
    with pytest.raises(ForecastError, match=r"row 1, column volume: 'many' is not a number"):
        direct.predict(
            [{"week_ending": week, "volume": 1.0}, {"week_ending": week, "volume": "many"}]
        )
    with pytest.raises(ForecastError, match=r"row 0, column horizon: 2.5 is not a whole number"):
        direct.predict([{"horizon": 2.5, "week_ending": week, "volume": 1.0}])


def test_a_model_saved_before_actual_weeks_still_forecasts(tmp_path, fits):
    """Its signature has a required `horizon` (long) alone: MLflow drops other columns."""
    bundle = fits[0].bundle
    folder = save_pyfunc(bundle, tmp_path / "model")
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    old = [{"type": "long", "name": "horizon", "required": True}]
    mlmodel["signature"]["inputs"] = json.dumps(old)
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    model = mlflow.pyfunc.load_model(str(folder))
    assert [c.name for c in model.metadata.get_input_schema().inputs] == ["horizon"]
    expected = bundle.forecast(5, LEVELS)
    pd.testing.assert_frame_equal(model.predict(pd.DataFrame({"horizon": [5]})), expected)
    pd.testing.assert_frame_equal(model.predict({"horizon": 5}), expected)


@contextlib.contextmanager
def models_serve(uri: str, tracking_uri: str, log: Path):
    """`mlflow models serve -m uri` on a free 127.0.0.1 port, Shelfcast's source importable."""
    port = free_port()
    src = str(Path(shelfcast.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_REGISTRY_URI": tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "--workers", "1"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        ping = f"{url}/ping"
        wait_ready(process, lambda: _answers(ping), log, "mlflow models serve", SERVE_TIMEOUT)
        yield url
    finally:
        stop_group(process)


@pytest.mark.integration
def test_mlflow_models_serve_takes_actual_weeks_as_dataframe_records(settings, fits, tmp_path):
    train(settings, fits[:1])
    bundle = fits[0].bundle
    weeks = newer_weeks(bundle)
    uri = f"models:/{registry.model_name(ISBN_A)}@champion"
    with models_serve(uri, settings.tracking_uri, tmp_path / "serve.log") as url:

        def invoke(rows: list[dict]) -> tuple[int, dict]:
            body = json.dumps({"dataframe_records": rows}).encode()
            status, answer = call(f"{url}/invocations", body)
            return status, json.loads(answer)

        status, answer = invoke(records(8, weeks))
        plain_status, plain = invoke([{"horizon": 8}])
        bad_status, bad = invoke([*records(8, weeks), {"week_ending": weeks[0][0]}])
    assert status == 200, answer
    got = pd.DataFrame(answer["predictions"])
    expected = bundle.updated(weeks).forecast(8, LEVELS)
    assert got["week_ending"].str[:10].tolist() == [str(d.date()) for d in expected["week_ending"]]
    for column in expected.columns[1:]:
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-12, atol=1e-9)
    assert plain_status == 200
    without = pd.DataFrame(plain["predictions"])
    np.testing.assert_allclose(without["mean"], bundle.forecast(8, LEVELS)["mean"], rtol=1e-12)
    assert not np.allclose(without["mean"], got["mean"])
    assert bad_status == 400
    # MLflow's scoring server answers any error but its own with a generic message: the
    # ForecastError's text ends the stack trace it returns
    assert (
        bad["stack_trace"]
        .strip()
        .endswith(f"ForecastError: row 4: week_ending {weeks[0][0]} is given without a volume")
    )


def _answers(url: str) -> bool:
    try:
        return call(url)[0] == 200
    except OSError:
        return False
