"""`shelfcast serve` runs the prediction server; `shelfcast predict` asks one for a forecast."""

from __future__ import annotations

from typing import Annotated

import typer

from shelfcast.cli.common import (
    HorizonOption,
    LevelOption,
    console,
    err,
    parse_levels,
    print_facts,
    reports_errors,
)


@reports_errors
def serve(
    release: Annotated[
        str | None,
        typer.Option(
            metavar="URI",
            help="Release URI (default: AIP_STORAGE_URI, else the newest release in the "
            "artifact store).",
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            metavar="HOST", help="Address to bind; beyond loopback a bearer token is required."
        ),
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
    from shelfcast.endpoints.base import EndpointError
    from shelfcast.errors import ShelfcastError
    from shelfcast.lifecycle.deploy import find_release
    from shelfcast.settings import load_settings

    settings = load_settings()
    try:
        return find_release(settings).uri
    except EndpointError:
        raise ShelfcastError(
            f"no release in the artifact store {settings.artifact_root}: "
            "run `shelfcast package`, or give --release"
        ) from None


@reports_errors
def predict(
    isbn: Annotated[
        str, typer.Option(metavar="ISBN", help="ISBN or registered model name of the title.")
    ],
    horizon: HorizonOption = None,
    level: LevelOption = None,
    url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="A server, or its predict URL (default: the endpoint)."),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="Endpoint to ask when no --url is given (default: endpoints.name)."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            metavar="TOKEN",
            help="Bearer token (default: serving.server_token).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Ask a prediction server for a title's weekly forecast and print it.

    Example: `shelfcast predict --isbn 9780722532935 --horizon 12` (the book-sales endpoint),
    or `--url http://127.0.0.1:8080` for a server started by `shelfcast serve`.
    """
    from shelfcast.lifecycle.deploy import ask
    from shelfcast.settings import load_settings
    from shelfcast.views.forecast import forecast_table

    settings = load_settings()
    levels = parse_levels(level, settings.serving.levels)
    key = "model_name" if not isbn.replace("-", "").isdigit() else "isbn"
    instance = {key: isbn, "horizon": horizon or settings.serving.horizon, "level": list(levels)}
    answer = ask(settings, instance, endpoint=endpoint, url=url, token=token)
    prediction = answer.prediction
    console.print(forecast_table(prediction, levels))
    print_facts(
        [
            ("ISBN", prediction["isbn"]),
            ("model", f"{prediction['model_name']} v{prediction['model_version']}"),
            ("family", prediction["model_family"]),
            ("weeks", str(len(prediction["weeks"]))),
            ("answered by", answer.answered_by),
        ]
    )
