"""The forecasting core: models, order search, backtests, metrics and bundles (pure functions)."""

from shelfcast.forecasting.bundle import Bundle, read_bundle, write_bundle
from shelfcast.forecasting.fit import FitConfig, TitleFit, fit_title
from shelfcast.forecasting.parallel import fit_titles

__all__ = [
    "Bundle",
    "FitConfig",
    "TitleFit",
    "fit_title",
    "fit_titles",
    "read_bundle",
    "write_bundle",
]
