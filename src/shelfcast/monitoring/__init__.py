"""Monitoring: the prediction log, the actuals store, accuracy against released forecasts,
alerts and retraining (see docs/monitoring.md)."""
