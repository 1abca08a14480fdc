"""How a server runs: address, routes, limits and the bearer token, from Vertex AI's variables.

Vertex AI's custom-container contract sets `AIP_HTTP_PORT`, `AIP_HEALTH_ROUTE`,
`AIP_PREDICT_ROUTE`, `AIP_STORAGE_URI` (the release) and `AIP_DEPLOYED_MODEL_ID`;
`AIP_MODE=PREDICTION` says the server runs on Vertex AI.

Security: the server binds 127.0.0.1 unless told otherwise. Bound to any other address it
requires a bearer token (`serving.server_token`, `SHELFCAST_SERVING__SERVER_TOKEN`) on the
predict and metrics
routes, and refuses to start without one, except on Vertex AI, where the platform
authenticates callers and only its own proxy reaches the container.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from shelfcast.errors import ShelfcastError
from shelfcast.serving.log_files import Rotation
from shelfcast.serving.schemas import MAX_INSTANCES
from shelfcast.settings import ServingSettings

_DEFAULTS = ServingSettings()  # the settings' defaults, where no settings are loaded
_ROTATION = Rotation.of(_DEFAULTS)

DEFAULT_PORT = 8080
MAX_BODY_BYTES = 1_500_000  # Vertex AI's 1.5 MB, each way


class ServerConfigError(ShelfcastError):
    """The server cannot start with this configuration."""


@dataclass(frozen=True)
class ServerConfig:
    release_uri: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    health_route: str = "/health"
    predict_route: str = "/predict"
    deployed_model_id: str | None = None
    token: str | None = None
    on_vertex: bool = False
    max_instances: int = MAX_INSTANCES
    max_body_bytes: int = MAX_BODY_BYTES
    max_response_bytes: int = MAX_BODY_BYTES
    prediction_log: str | None = None  # folder of the prediction log; None: no log
    cache_dir: str | None = None  # where catalogue releases from an object store are kept
    prediction_log_sample_rate: float = _DEFAULTS.prediction_log_sample_rate
    prediction_log_rotation: Rotation = _ROTATION
    horizon: int = _DEFAULTS.horizon  # of an instance that does not say
    levels: tuple[int, ...] = _DEFAULTS.levels
    quantiles: tuple[float, ...] = _DEFAULTS.quantiles

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerConfig:
        """Vertex AI's variables, the `serving` settings, then `overrides` (not None)."""
        from shelfcast.catalogue_releases import release_cache
        from shelfcast.serving.prediction_log import prediction_log_path
        from shelfcast.settings import load_settings

        env = os.environ if environ is None else environ
        settings = load_settings()
        on_vertex = env.get("AIP_MODE") == "PREDICTION"
        values: dict[str, Any] = {
            "release_uri": env.get("AIP_STORAGE_URI") or None,
            "health_route": env.get("AIP_HEALTH_ROUTE") or "/health",
            "predict_route": env.get("AIP_PREDICT_ROUTE") or "/predict",
            "deployed_model_id": env.get("AIP_DEPLOYED_MODEL_ID") or None,
            "token": settings.serving.server_token,
            "on_vertex": on_vertex,
            # On Vertex AI the endpoint's request-response logging to BigQuery takes its place.
            "prediction_log": None if on_vertex else str(prediction_log_path(settings)),
            "prediction_log_sample_rate": settings.serving.prediction_log_sample_rate,
            "prediction_log_rotation": Rotation.of(settings.serving),
            "cache_dir": str(release_cache(settings.home)),
            "horizon": settings.serving.horizon,
            "levels": settings.serving.levels,
            "quantiles": settings.serving.quantiles,
        }
        if env.get("AIP_HTTP_PORT"):
            try:
                values["port"] = int(env["AIP_HTTP_PORT"])
            except ValueError:
                raise ServerConfigError(
                    f"AIP_HTTP_PORT must be a port number, got {env['AIP_HTTP_PORT']!r}"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def check(self) -> None:
        """Refuse what must not start: bad routes or port, an open address without a token."""
        for name in ("health_route", "predict_route"):
            route = getattr(self, name)
            if not route.startswith("/"):
                raise ServerConfigError(f"{name} must start with '/', got {route!r}")
        if self.health_route == self.predict_route:
            raise ServerConfigError("the health and predict routes must differ")
        if not 0 <= self.port <= 65535:
            raise ServerConfigError(f"port must be between 0 and 65535, got {self.port}")
        if not self.release_uri:
            raise ServerConfigError("no release to serve: give --release or set AIP_STORAGE_URI")
        if not (self.loopback or self.token or self.on_vertex):
            raise ServerConfigError(
                f"binding {self.host} (beyond this machine) needs a bearer token: set "
                "SHELFCAST_SERVING__SERVER_TOKEN (or server_token in the settings' [serving]); "
                "on Vertex AI "
                "(AIP_MODE=PREDICTION) the platform authenticates callers instead"
            )
