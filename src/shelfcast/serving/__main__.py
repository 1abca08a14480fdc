"""`python -m shelfcast.serving`: the server as Vertex AI starts it, configured by AIP_* variables.

    AIP_STORAGE_URI=gs://bucket/releases/<id> python -m shelfcast.serving --host 0.0.0.0

Options override the variables: `--release URI`, `--host H` (default 127.0.0.1), `--port P`
(default AIP_HTTP_PORT, else 8080), `--access-log`.
"""

from __future__ import annotations

import argparse
import sys

from shelfcast.errors import ShelfcastError
from shelfcast.serving.config import ServerConfig
from shelfcast.serving.server import run_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shelfcast.serving", description=__doc__)
    parser.add_argument("--release", help="release URI (default: AIP_STORAGE_URI)")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default AIP_HTTP_PORT, else 8080)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        config = ServerConfig.from_env(release_uri=args.release, host=args.host, port=args.port)
        run_server(config, access_log=args.access_log)
    except ShelfcastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
