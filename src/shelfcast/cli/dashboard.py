"""`shelfcast dashboard`: the web UI."""

from __future__ import annotations

from typing import Annotated

import typer

from shelfcast.cli.common import print_facts, reports_errors


@reports_errors
def dashboard(
    host: Annotated[
        str,
        typer.Option(metavar="HOST", help="Address to bind; beyond loopback a token is required."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port.")] = 8050,
    endpoint: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Endpoint whose titles and forecasts to show (default: the setting).",
        ),
    ] = None,
) -> None:
    """Serve the web dashboard until stopped (Ctrl-C).

    Pick a title of the release the endpoint serves (by ISBN or title) to see its history,
    the endpoint's forecast with 80% and 95% intervals, its backtest and its monitored
    accuracy; below, the endpoints' health, traffic split and model versions, and the latest
    monitoring report with its alerts. With a host other than loopback, set
    `SHELFCAST_SERVING__SERVER_TOKEN` and open `/?token=<token>` once.

    Example: `shelfcast dashboard --port 8050` then open http://127.0.0.1:8050
    """
    from shelfcast.dashboard.server import DashboardConfig, run_dashboard
    from shelfcast.settings import load_settings

    settings = load_settings()
    config = DashboardConfig(
        endpoint=endpoint or settings.endpoints.name,
        host=host,
        port=port,
        token=settings.serving.server_token,
    )
    config.check()
    print_facts(
        [
            ("dashboard", f"http://{host}:{port}"),
            ("endpoint", f"{config.endpoint} ({settings.endpoints.backend})"),
            ("token", "required" if config.token else "none (loopback only)"),
        ]
    )
    run_dashboard(config, settings)
