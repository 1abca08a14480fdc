"""The web dashboard: a title's history, the endpoint's forecast, the backtest and monitoring."""
