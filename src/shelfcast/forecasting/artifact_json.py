"""JSON from artifacts (manifests, bundle.json, a catalogue's model and shared columns), read
as untrusted input: strict JSON only, every problem one error of the caller's type naming the
file and the field.

`parse` refuses what the standard library would take but no JSON writer of ours makes: `NaN`
and `Infinity`, numbers that overflow to infinity, and nesting deeper than `MAX_DEPTH` (the
standard library would recurse until Python's limit). `Fields` reads a parsed object's fields
with their types checked, so that a wrong type is "manifest.json: models[3].files: must be an
object" rather than an `AttributeError` deep in a loader.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from shelfcast.errors import ShelfcastError

MAX_DEPTH = 64  # objects and arrays inside each other; a bundle's spec needs under 10
MAX_TEXT = 4096  # characters of a name, version, path or other short text field
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+=-]*$")  # a file or folder name, no dot-dot

ErrorType = Callable[[str], ShelfcastError]


def _constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def parse(data: bytes | str, where: str, error: ErrorType) -> Any:
    """The JSON value in `data`; `error(message)` (naming `where`) for anything else."""
    try:
        value = json.loads(data, parse_constant=_constant, parse_float=_finite)
    except RecursionError:
        raise error(f"{where}: JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise error(f"{where}: not valid JSON ({exc})") from None
    if _depth(value) > MAX_DEPTH:
        raise error(f"{where}: JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    """How deep containers nest in `value` (lists of plain values cost one step)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return depth
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest


class FieldError(ValueError):
    """A field of an artifact that is missing or wrong: `field` (`models[3].path`), `reason`."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def kind(value: Any) -> str:
    """What a JSON value is, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string"}.get(type(value), "a number")


class Fields:
    """The fields of one JSON object at `field` (`""` for the document), each read with its
    type checked; a problem is a `FieldError` naming the field."""

    def __init__(self, value: Any, field: str = ""):
        if not isinstance(value, dict):
            raise FieldError(field or "document", f"must be an object, got {kind(value)}")
        self.value: Mapping[str, Any] = value
        self.field = field

    def name(self, key: str) -> str:
        return f"{self.field}.{key}" if self.field else key

    def raw(self, key: str, optional: bool = False) -> Any:
        if key not in self.value and not optional:
            raise FieldError(self.name(key), "is missing")
        return self.value.get(key)

    def object(self, key: str) -> Fields:
        return Fields(self.raw(key), self.name(key))

    def text(self, key: str, optional: bool = False, limit: int = MAX_TEXT) -> str | None:
        value = self.raw(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise FieldError(self.name(key), f"must be a string, got {kind(value)}")
        if len(value) > limit:
            raise FieldError(self.name(key), f"is {len(value):,} characters long (at most {limit})")
        return value

    def version(self, key: str) -> str:
        """A version: text, or a whole number written as one."""
        value = self.raw(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return str(self.text(key))

    def integer(self, key: str, low: int, high: int) -> int:
        value = self.raw(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise FieldError(self.name(key), f"must be a whole number, got {kind(value)}")
        if not low <= value <= high:
            raise FieldError(self.name(key), f"must be between {low} and {high:,}, got {value}")
        return value

    def number(self, key: str, optional: bool = False) -> float | None:
        value = self.raw(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise FieldError(self.name(key), f"must be a number, got {kind(value)}")
        return float(value)

    def path(self, key: str) -> str:
        """A path relative to a store root: names joined by `/`, none of them `..`."""
        value = str(self.text(key)).rstrip("/")
        if not value or not all(_NAME.match(part) for part in value.split("/")):
            raise FieldError(self.name(key), f"{value[:80]!r} is not a relative path of names")
        return value

    def checksums(self, key: str, limit: int) -> dict[str, str]:
        """File name -> sha256: plain names (no folders, no `..`), 64 hex digits each."""
        files = self.object(key)
        if not 0 < len(files.value) <= limit:
            raise FieldError(files.field, f"must list 1 to {limit} files, got {len(files.value)}")
        out = {}
        for name in files.value:
            if not _NAME.match(name) or len(name) > 255:
                raise FieldError(files.field, f"{name[:80]!r} is not a plain file name")
            sha = files.text(name)
            if not _SHA256.match(str(sha)):
                raise FieldError(files.name(name), "must be a sha256 (64 hex digits)")
            out[name] = str(sha)
        return out

    def array(self, key: str, limit: int) -> list[Any]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise FieldError(self.name(key), f"must be an array, got {kind(value)}")
        if len(value) > limit:
            raise FieldError(self.name(key), f"holds {len(value):,} items (at most {limit:,})")
        return value
