"""Fixtures of the local endpoint tests, reused from the serving tests: `bundles` (two titles
fitted once per session)."""

import importlib.util
from pathlib import Path

TESTS = Path(__file__).parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serving = _load("serving_conftest", TESTS / "serving" / "conftest.py")
bundles = serving.bundles
ISBN_A, ISBN_B = serving.ISBN_A, serving.ISBN_B
