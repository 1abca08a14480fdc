"""ISBN-13 normalisation and check digits."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"^\d{13}$")


def isbn13_check_digit(first12: str) -> str:
    """The check digit completing a 12-digit ISBN-13 stem."""
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(first12))
    return str((10 - total % 10) % 10)


def is_valid_isbn13(isbn: str) -> bool:
    """True for a 13-digit string whose last digit is its check digit."""
    return bool(_DIGITS.match(isbn)) and isbn13_check_digit(isbn[:12]) == isbn[12]


def normalize_isbn(value: object) -> str:
    """An ISBN as exports store it (number, float with `.0`, text with hyphens) as a digit string.

    The result is not validated: call `is_valid_isbn13` on it.
    """
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text.replace("-", "").replace(" ", "")
