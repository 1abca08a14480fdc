"""Shelfcast: weekly unit-sales forecasts per book, and the lifecycle of their models."""

__version__ = "0.1.0"
