"""Typed errors that the CLI and HTTP edges turn into one clear message each."""

from __future__ import annotations

from dataclasses import dataclass


class ShelfcastError(Exception):
    """Base of every error Shelfcast raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found in input data, located as precisely as the source allows."""

    message: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None
    severity: str = "error"  # "error" or "warning"

    def location(self) -> str:
        parts = [self.file or "<input>"]
        if self.sheet:
            parts.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        value = f" (value {self.value!r})" if self.value is not None else ""
        return f"{self.location()}: {self.message}{value}"


class DataValidationError(ShelfcastError):
    """Input data failed validation; `problems` lists every error found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        head = "; ".join(str(p) for p in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"{len(errors)} data error(s): {head}{more}")


class ForecastError(ShelfcastError):
    """A model could not be fitted or could not forecast."""


class BundleError(ShelfcastError):
    """A bundle is missing, malformed, or of an unsupported format version."""
