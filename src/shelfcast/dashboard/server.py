"""Running the dashboard with uvicorn, on loopback unless given a token."""

from __future__ import annotations

from dataclasses import dataclass

from shelfcast.errors import ShelfcastError
from shelfcast.serving.config import ServerConfig
from shelfcast.settings import Settings

DEFAULT_PORT = 8050


class DashboardConfigError(ShelfcastError):
    """The dashboard cannot start with this configuration."""


@dataclass(frozen=True)
class DashboardConfig:
    endpoint: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None

    def check(self) -> None:
        """Like the prediction server: beyond loopback only with a token."""
        if not 0 <= self.port <= 65535:
            raise DashboardConfigError(f"port must be between 0 and 65535, got {self.port}")
        if not (ServerConfig(host=self.host).loopback or self.token):
            raise DashboardConfigError(
                f"binding {self.host} (beyond this machine) needs a token: set "
                "SHELFCAST_SERVING__SERVER_TOKEN (or server_token in the settings' [serving]); "
                "browsers then open "
                "/?token=<token> once"
            )


def run_dashboard(config: DashboardConfig, settings: Settings) -> None:
    """Serve the dashboard until stopped."""
    import uvicorn

    from shelfcast.dashboard.app import create_app
    from shelfcast.dashboard.source import DashboardSource
    from shelfcast.endpoints.backends import backend_for

    config.check()
    source = DashboardSource(backend_for(settings), config.endpoint, settings)
    app = create_app(source, token=config.token)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", access_log=False)
