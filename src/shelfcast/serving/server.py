"""Running the prediction server in the foreground with uvicorn."""

from __future__ import annotations

import logging

from shelfcast.serving.config import ServerConfig

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Seconds uvicorn waits, after SIGTERM, for the requests in flight (it stops listening at
# once and closes idle connections); then the app's shutdown closes the prediction log.
# A local endpoint's router sends SIGKILL only after longer (`endpoints.replicas.KILL_AFTER`).
GRACEFUL_SHUTDOWN = 10


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
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
