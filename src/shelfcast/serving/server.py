"""Running the prediction server in the foreground with uvicorn."""

from __future__ import annotations

import logging

from shelfcast.serving.config import ServerConfig

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def run_server(config: ServerConfig, access_log: bool = False) -> None:
    """Check `config`, then serve its release until stopped (the release loads in the
    background: the port opens at once and health answers 503 until every bundle is verified).
    """
    import uvicorn

    from shelfcast.serving.app import create_app

    config.check()
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    app = create_app(str(config.release_uri), config)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=10,
    )
