"""The seed's step 03: releases -> endpoints, each deploy a guarded rollout; test and list them.

    python deploy/03_deploy_to_vertex_endpoints.py --deploy-all
    python deploy/03_deploy_to_vertex_endpoints.py --deploy-all --backend vertex --dry-run
    python deploy/03_deploy_to_vertex_endpoints.py --model-name arima_book_9780722532935
    python deploy/03_deploy_to_vertex_endpoints.py --test-endpoint book-sales
    python deploy/03_deploy_to_vertex_endpoints.py --list-endpoints --backend vertex

Through the application layer, as `shelfcast deploy` and `shelfcast endpoints` do.
`--deploy-all` deploys the newest release (or `--release`) to one endpoint, `book-sales`,
serving the whole catalogue; with `--per-title`, every title gets the seed's own endpoint
`book-sales-<ISBN>`. `--model-name` deploys one title to its `book-sales-<ISBN>`. The backend
is `local` in development and `vertex` in production (`DEPLOYMENT_ENV`) unless `--backend`
says otherwise; `--bucket-name` reads releases from `gs://<bucket>`, where step 02 writes them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the seed's `config` package (it finds `shelfcast` itself)

from config.cloud_options import add_cloud_options, settings_for  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--deploy-all", action="store_true", help="deploy every title")
    action.add_argument("--model-name", help="deploy one title (arima_book_<ISBN> or ISBN)")
    action.add_argument("--test-endpoint", metavar="NAME", help="smoke-test an endpoint")
    action.add_argument("--list-endpoints", action="store_true", help="list endpoints")
    add_cloud_options(parser)
    parser.add_argument("--per-title", action="store_true", help="one endpoint per title")
    parser.add_argument("--release", help="release id or URI (default: the newest)")
    parser.add_argument("--canary", type=int, help="percentage of traffic for the new release")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from shelfcast import lifecycle
    from shelfcast.views.common import ProgressDisplay, exit_status, print_facts
    from shelfcast.views.endpoints import print_deploy, print_endpoints, print_per_title

    def run() -> int:
        settings = settings_for(args)
        if args.list_endpoints:
            print_endpoints(lifecycle.list_endpoints(settings))
            return 0
        if args.test_endpoint:
            with ProgressDisplay() as progress:
                lines = lifecycle.check_endpoint(settings, args.test_endpoint, progress=progress)
            print_facts([(f"check {n}", line) for n, line in enumerate(lines, start=1)])
            return 0
        release = lifecycle.find_release(settings, args.release)
        if not (args.model_name or args.per_title):
            with ProgressDisplay() as progress:
                result = lifecycle.deploy_release(
                    settings, release, canary=args.canary, dry_run=args.dry_run, progress=progress
                )
            print_deploy(result)
            return 0
        with ProgressDisplay() as progress:
            titles = lifecycle.deploy_per_title(
                settings,
                release,
                (args.model_name,) if args.model_name else (),
                canary=args.canary,
                dry_run=args.dry_run,
                progress=progress,
            )
        for title in titles.titles:
            if title.result is not None:
                print_deploy(title.result)
        print_per_title(titles)
        return 1 if titles.failed else 0

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
