"""The seed's step 03: releases -> endpoints, each deploy a guarded rollout; test and list them.

    python deploy/03_deploy_to_vertex_endpoints.py --deploy-all
    python deploy/03_deploy_to_vertex_endpoints.py --deploy-all --backend vertex --dry-run
    python deploy/03_deploy_to_vertex_endpoints.py --model-name arima_book_9780722532935
    python deploy/03_deploy_to_vertex_endpoints.py --test-endpoint book-sales
    python deploy/03_deploy_to_vertex_endpoints.py --list-endpoints --backend vertex

A thin wrapper over `shelfcast deploy` and `shelfcast endpoints`. `--deploy-all` deploys the
newest release (or `--release`) to one endpoint, `book-sales`, serving the whole catalogue;
with `--per-title`, every title gets the seed's own endpoint `book-sales-<ISBN>`.
`--model-name` deploys one title to its `book-sales-<ISBN>`. The backend is `local` in
development and `vertex` in production (`DEPLOYMENT_ENV`) unless `--backend` says otherwise;
`--bucket-name` reads releases from `gs://<bucket>`, where step 02 writes them.
"""

from __future__ import annotations

import argparse
import sys


def shelfcast_arguments(args: argparse.Namespace) -> list[str]:
    """The `shelfcast` command line that does what the seed's options ask."""
    common = [
        *(["--backend", args.backend] if args.backend else []),
        *(["--env", args.env] if args.env else []),
        *(["--project-id", args.project_id] if args.project_id else []),
        *(["--region", args.region] if args.region else []),
    ]
    if args.list_endpoints:
        return ["endpoints", "list", *common]
    if args.test_endpoint:
        return ["endpoints", "test", args.test_endpoint, *common]
    options = [
        *(["--store", f"gs://{args.bucket_name}"] if args.bucket_name else []),
        *(["--release", args.release] if args.release else []),
        *(["--canary", str(args.canary)] if args.canary else []),
        *(["--dry-run"] if args.dry_run else []),
    ]
    if args.model_name:
        return ["deploy", "--per-title", "--model-name", args.model_name, *options, *common]
    return ["deploy", *(["--per-title"] if args.per_title else []), *options, *common]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--deploy-all", action="store_true", help="deploy every title")
    action.add_argument("--model-name", help="deploy one title (arima_book_<ISBN> or ISBN)")
    action.add_argument("--test-endpoint", metavar="NAME", help="smoke-test an endpoint")
    action.add_argument("--list-endpoints", action="store_true", help="list endpoints")
    parser.add_argument("--backend", choices=("local", "vertex"), help="default: by DEPLOYMENT_ENV")
    parser.add_argument("--per-title", action="store_true", help="one endpoint per title")
    parser.add_argument("--project-id", help="Google Cloud project (default: GCP_PROJECT)")
    parser.add_argument("--region", help="Google Cloud region (default: GCP_REGION)")
    parser.add_argument("--bucket-name", help="GCS bucket of the releases (default: settings)")
    parser.add_argument("--release", help="release id or URI (default: the newest)")
    parser.add_argument("--canary", type=int, help="percentage of traffic for the new release")
    parser.add_argument("--dry-run", action="store_true", help="vertex: print the plan only")
    parser.add_argument("--env", help="development, testing or production (DEPLOYMENT_ENV)")
    args = parser.parse_args(argv)

    from shelfcast.cli import app

    return app(shelfcast_arguments(args), prog_name="shelfcast", standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main())
