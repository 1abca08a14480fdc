"""Registered model names and aliases: what a title's model is called, without MLflow."""

from __future__ import annotations

from shelfcast.settings import Settings

MODEL_PREFIX = "arima_book_"
CHAMPION = "champion"
CHALLENGER = "challenger"


def model_name(isbn: str) -> str:
    """The registered model of a title: `arima_book_<ISBN>`, as the seed named it."""
    return f"{MODEL_PREFIX}{isbn}"


def resolve_name(name_or_isbn: str) -> str:
    """A registered model name from a name or a bare ISBN."""
    text = name_or_isbn.strip()
    return text if text.startswith(MODEL_PREFIX) else model_name(text)


def registered_name(settings: Settings, name_or_isbn: str) -> str:
    """`resolve_name`, but the catalogue model's name stays as it is."""
    text = name_or_isbn.strip()
    return text if text == settings.registry.catalogue_model else resolve_name(text)
