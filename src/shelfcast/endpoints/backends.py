"""The backend lookup: the endpoint backend named by the settings (local or Vertex AI).

It lives apart from `base` so that the interface imports no backend: `local` and `vertex`
import `base`, and only this module imports them (each on first use: Vertex AI's SDK is an
optional dependency).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shelfcast.endpoints.base import EndpointBackend, EndpointError, NotApplicable

if TYPE_CHECKING:
    from shelfcast.settings import Settings

__all__ = ["backend_for"]


def backend_for(
    settings: Settings, name: str | None = None, *, dry_run: bool = False
) -> EndpointBackend:
    """The backend `name` (default `settings.endpoints.backend`), built from `settings`."""
    kind = name or settings.endpoints.backend
    if kind == "local":
        if dry_run:
            raise NotApplicable("--dry-run plans Vertex AI calls; use it with --backend vertex")
        from shelfcast.endpoints.local import LocalBackend

        return LocalBackend(settings)
    if kind == "vertex":
        from shelfcast.endpoints.vertex import VertexBackend

        return VertexBackend(settings, dry_run=dry_run)
    raise EndpointError(f"unknown endpoint backend {kind!r}; choose local or vertex")
