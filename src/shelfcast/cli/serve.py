"""`shelfcast serve` runs the prediction server; `shelfcast predict` asks one for a forecast."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from shelfcast.cli.common import (
    HorizonOption,
    LevelOption,
    console,
    err,
    parse_levels,
    print_facts,
    reports_errors,
)
from shelfcast.errors import ShelfcastError


@reports_errors
def serve(
    release: Annotated[
        str | None,
        typer.Option(
            help="Release URI (default: AIP_STORAGE_URI, else the newest release in the "
            "artifact store)."
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to bind; beyond loopback a bearer token is required.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (default AIP_HTTP_PORT, else 8080).")] = 0,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve every title of a release until stopped (Ctrl-C).

    Health (`/health`) answers 503 while the release loads and 200 once every bundle is
    verified; forecasts are posted to `/predict`. With a host other than loopback, set
    `SHELFCAST_SERVING__SERVER_TOKEN`: clients then send `Authorization: Bearer <token>`.

    Example: `shelfcast serve --port 8080` then `shelfcast predict --isbn 9780722532935`
    """
    from shelfcast.serving.config import ServerConfig
    from shelfcast.serving.server import run_server

    config = ServerConfig.from_env(release_uri=release, host=host, port=port or None)
    if not config.release_uri:
        config = ServerConfig.from_env(release_uri=newest_release(), host=host, port=port or None)
    err.print(
        f"Serving release {config.release_uri} on http://{config.host}:{config.port} "
        f"(health {config.health_route}, predict {config.predict_route}, metrics /metrics)"
    )
    run_server(config, access_log=access_log)


def newest_release() -> str:
    """The URI of the newest release in the artifact store."""
    from shelfcast.releases import list_releases
    from shelfcast.settings import load_settings

    settings = load_settings()
    releases = list_releases(settings.artifact_root)
    if not releases:
        raise ShelfcastError(
            f"no release in the artifact store {settings.artifact_root}: "
            "run `shelfcast package`, or give --release"
        )
    return releases[0].uri


@reports_errors
def predict(
    isbn: Annotated[str, typer.Option(help="ISBN or registered model name of the title.")],
    horizon: HorizonOption = None,
    level: LevelOption = None,
    url: Annotated[
        str | None,
        typer.Option(help="A server, or its predict URL (default: ask the endpoint)."),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(help="Endpoint to ask when no --url is given (default: endpoints.name)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Bearer token (default: serving.server_token).", show_default=False),
    ] = None,
) -> None:
    """Ask a prediction server for a title's weekly forecast and print it.

    Example: `shelfcast predict --isbn 9780722532935 --horizon 12` (the book-sales endpoint),
    or `--url http://127.0.0.1:8080` for a server started by `shelfcast serve`.
    """
    from shelfcast.serving.client import predict as post
    from shelfcast.serving.client import predict_url
    from shelfcast.settings import load_settings

    settings = load_settings()
    levels = parse_levels(level, settings.serving.levels)
    key = "model_name" if not isbn.replace("-", "").isdigit() else "isbn"
    instance = {key: isbn, "horizon": horizon or settings.serving.horizon, "level": list(levels)}
    if url:
        token = token or settings.serving.server_token
        prediction = post(url, [instance], token=token)["predictions"][0]
        source = predict_url(url)
    else:
        from shelfcast.endpoints.base import backend_for

        name = endpoint or settings.endpoints.name
        prediction = backend_for(settings).predict(name, [instance]).predictions[0]
        source = f"endpoint {name} ({settings.endpoints.backend})"
    if "error" in prediction:
        raise ShelfcastError(f"{prediction['error']['field']}: {prediction['error']['reason']}")
    console.print(forecast_table(prediction, levels))
    print_facts(
        [
            ("ISBN", prediction["isbn"]),
            ("model", f"{prediction['model_name']} v{prediction['model_version']}"),
            ("family", prediction["model_family"]),
            ("weeks", str(len(prediction["weeks"]))),
            ("answered by", source),
        ]
    )


def forecast_table(prediction: dict, levels: tuple[int, ...]) -> Table:
    """One prediction of the server's response: a row per week, its mean and intervals."""
    table = Table(title=f"{prediction['model_name']} v{prediction['model_version']}")
    table.add_column("week ending", no_wrap=True)
    table.add_column("mean", justify="right")
    for lv in levels:
        table.add_column(f"{lv}% interval", justify="right", no_wrap=True)
    for week in prediction["weeks"]:
        bounds = [f"{week[f'lo_{lv}']:,.0f} - {week[f'hi_{lv}']:,.0f}" for lv in levels]
        table.add_row(week["week_ending"], f"{week['mean']:,.0f}", *bounds)
    return table
