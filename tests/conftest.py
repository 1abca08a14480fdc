"""Fixtures every test folder may ask for, defined next to the helpers they use in the
`support` package: `bundles` and `release` (support.releases); `fits`, `refit`, `settings`
and `cli_home` with an MLflow store (support.registry)."""

import pytest

pytest.register_assert_rewrite("support")

pytest_plugins = ["support.releases", "support.registry"]
