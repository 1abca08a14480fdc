"""Helpers and fixtures shared by the test folders, importable as `support` (the `pythonpath`
setting of pytest puts tests/ on the path). The modules holding fixtures are plugins listed
in tests/conftest.py."""
