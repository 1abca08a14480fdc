"""The loader module every Shelfcast pyfunc model names in its MLmodel
(`loader_module: shelfcast.mlflow_model`): MLflow imports it and calls `_load_pyfunc`.

The pyfunc code is `shelfcast.registry.pyfunc`; this module keeps the recorded name
importable, so that models logged before and since load alike. Do not import from it.
"""

from shelfcast.registry.pyfunc import _load_pyfunc

__all__ = ["_load_pyfunc"]
