"""The bundle as an MLflow pyfunc model: predictions, the model folder the writer makes, and
the loader module every logged model names (`shelfcast.mlflow_model`)."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

import shelfcast
from shelfcast.errors import ForecastError
from shelfcast.registry import pyfunc
from shelfcast.registry.pyfunc import BundleModel, PyfuncWriter, save_pyfunc
from shelfcast.settings import Settings

LEVELS = Settings().serving.levels  # the pyfunc's default levels


def test_bundle_model_reads_horizon_from_frames_dicts_records_and_params(fits):
    bundle = fits[0].bundle
    model = BundleModel(bundle)
    expected = bundle.forecast(5, LEVELS)
    pd.testing.assert_frame_equal(model.predict(pd.DataFrame({"horizon": [5]})), expected)
    pd.testing.assert_frame_equal(model.predict({"horizon": 5}), expected)
    pd.testing.assert_frame_equal(model.predict([{"horizon": 3}, {"horizon": 5}]), expected)
    pd.testing.assert_frame_equal(model.predict(pd.DataFrame(), params={"horizon": 5}), expected)
    levels = model.predict({"horizon": 5}, params={"levels": [50, 90]})
    assert list(levels.columns) == ["week_ending", "mean", "lo_50", "hi_50", "lo_90", "hi_90"]
    with pytest.raises(ForecastError, match="whole number"):
        model.predict({"horizon": 2.5})
    with pytest.raises(ForecastError, match="between 1 and"):
        model.predict({"horizon": 0})


def test_the_writer_writes_what_save_model_writes(tmp_path, fits):
    bundle = fits[1].bundle
    direct = save_pyfunc(bundle, tmp_path / "direct")
    with PyfuncWriter() as writer:
        writer.write(fits[0].bundle, tmp_path / "first")
        cloned = writer.write(bundle, tmp_path / "cloned")

    def files(root):
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    assert files(direct) == files(cloned)
    for name in ("requirements.txt", "conda.yaml", "python_env.yaml", "data/bundle/bundle.json"):
        if name == "data/bundle/bundle.json":
            a = json.loads((direct / name).read_text())
            b = json.loads((cloned / name).read_text())
            assert {**a, "created_at": ""} == {**b, "created_at": ""}
        else:
            assert (direct / name).read_text() == (cloned / name).read_text()
    volatile = {"model_uuid", "utc_time_created"}
    a = yaml.safe_load((direct / "MLmodel").read_text())
    b = yaml.safe_load((cloned / "MLmodel").read_text())
    assert {k: v for k, v in a.items() if k not in volatile} == {
        k: v for k, v in b.items() if k not in volatile
    }
    assert "pickle" not in " ".join(files(cloned)) and "pkl" not in " ".join(files(cloned))
    requirements = (cloned / "requirements.txt").read_text().split()
    assert requirements[0].startswith("shelfcast") and any(
        r.startswith("mlflow==") for r in requirements
    )
    loaded = mlflow.pyfunc.load_model(str(cloned))
    pd.testing.assert_frame_equal(
        loaded.predict(pd.DataFrame({"horizon": [4]})), bundle.forecast(4, LEVELS)
    )


def test_models_name_the_loader_module_they_always_named(tmp_path, fits):
    folder = save_pyfunc(fits[0].bundle, tmp_path / "model")
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "shelfcast.mlflow_model"
    assert pyfunc.LOADER_MODULE == "shelfcast.mlflow_model"
    loader = importlib.import_module(pyfunc.LOADER_MODULE)
    assert loader._load_pyfunc is pyfunc._load_pyfunc


def test_a_model_naming_shelfcast_mlflow_model_loads_in_a_fresh_process(tmp_path, fits):
    """As MLflow loads any logged model: import the recorded loader module, nothing before."""
    folder = save_pyfunc(fits[0].bundle, tmp_path / "model")
    script = (
        "import sys, mlflow.pyfunc, pandas as pd\n"
        "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "print(model.predict(pd.DataFrame({'horizon': [3]}))['mean'].round(6).tolist())\n"
    )
    src = str(Path(shelfcast.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", script, str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    expected = fits[0].bundle.forecast(3, LEVELS)["mean"].round(6).tolist()
    assert json.loads(out.stdout.strip().splitlines()[-1]) == expected
