"""A small client of the prediction server (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shelfcast.errors import ShelfcastError

DEFAULT_URL = "http://127.0.0.1:8080"


class PredictionRequestError(ShelfcastError):
    """The server refused a request, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, field: str | None = None):
        super().__init__(message)
        self.status, self.field = status, field


def predict_url(url: str, route: str = "/predict") -> str:
    """A server's base URL with the predict route added; a URL with a path is kept as given."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    path = parts.path if parts.path not in ("", "/") else route
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def predict(
    url: str,
    instances: list[dict[str, Any]],
    parameters: dict[str, Any] | None = None,
    token: str | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """POST `instances` to the server's predict route; the response body. Instances and
    `parameters` go as given: `horizon`, `level`, `quantiles` (e.g. `[0.1, 0.5, 0.9]`)."""
    body = json.dumps({"instances": instances, "parameters": parameters or {}}).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    target = predict_url(url)
    request = urllib.request.Request(target, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise _refused(exc) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PredictionRequestError(f"cannot reach {target}: {reason}") from None


def _refused(exc: urllib.error.HTTPError) -> PredictionRequestError:
    """The error the server answered, naming every problem it listed (`errors`)."""
    try:
        body = json.loads(exc.read())
        errors = body.get("errors") or [body["error"]]
        problems = [(str(e["field"]), str(e["reason"])) for e in errors]
    except (ValueError, KeyError, TypeError, AttributeError):
        return PredictionRequestError(f"{exc.url} answered {exc.code} {exc.reason}", exc.code)
    named = "; ".join(f"{field}: {reason}" for field, reason in problems)
    return PredictionRequestError(f"{exc.code}: {named}", exc.code, problems[0][0])
