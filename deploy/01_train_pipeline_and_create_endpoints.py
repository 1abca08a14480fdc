"""The seed's step 01: train on the active ZenML stack, register and gate, package, deploy to
the endpoints and test them, in one command.

    python deploy/01_train_pipeline_and_create_endpoints.py                  # the test titles
    python deploy/01_train_pipeline_and_create_endpoints.py --isbn 9780722532935
    python deploy/01_train_pipeline_and_create_endpoints.py --select         # the selection
    python deploy/01_train_pipeline_and_create_endpoints.py --backend vertex \\
        --project-id P --region europe-west2 --bucket-name B --dry-run

Through the application layer (`shelfcast.lifecycle.run_lifecycle`), as `shelfcast run`
does, then the endpoint test of step 03. Options as in steps 02 and 03: the backend is
`local` in development and `vertex` in production (`DEPLOYMENT_ENV`) unless `--backend`
says otherwise, and `--bucket-name B` makes `gs://B` the artifact store the release goes to.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the seed's `config` package (it finds `shelfcast` itself)

from config.cloud_options import add_cloud_options, settings_for  # noqa: E402

STAGES = """stages:
  1. train     the ZenML pipeline book_sales_training on the active ZenML stack of the
               project folder (the default local stack unless another is active): load,
               validate, weekly series, select titles, backtest and fit each title, evaluate
  2. register  each title's runs logged to MLflow and its new version registered as
     and gate  arima_book_<ISBN> (alias challenger); the promotion gate moves champion to
               it only when it beats the champion on the newest held-out weeks
  3. package   every champion -> an immutable, checksummed release in the artifact store
               (gs://BUCKET with --bucket-name); the same champions are the same release
  4. deploy    the release -> the endpoint book-sales (local processes, or Vertex AI):
               start, health, smoke test of every title, then all traffic; a failed check
               leaves the traffic where it was
  5. test      forecast every title through the endpoint and check each answer, then ask
               it for one title's forecast

A rerun on unchanged data is quick and changes nothing. --dry-run (vertex only) trains,
registers and packages nothing and prints the Vertex AI calls the deploy would make,
calling nothing."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=STAGES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    titles = parser.add_mutually_exclusive_group()
    titles.add_argument(
        "--isbn",
        action="append",
        metavar="ISBN",
        help="a title to train (repeat; default: the seed's two)",
    )
    titles.add_argument("--select", action="store_true", help="train the seasonal selection")
    option = parser.add_argument
    option("--max-titles", type=int, metavar="N", help="with --select: at most this many")
    option("--data", action="append", metavar="PATH", help="sales file(s); default: the sample")
    option("--endpoint", metavar="NAME", help="endpoint name (default: book-sales)")
    add_cloud_options(parser)
    return parser.parse_args(argv)


def lifecycle_options(args: argparse.Namespace) -> Any:
    from config.arima_training_config import DEFAULT_TEST_ISBNS
    from shelfcast.lifecycle import LifecycleOptions, TrainOptions

    isbns = () if args.select else tuple(args.isbn or DEFAULT_TEST_ISBNS)
    return LifecycleOptions(
        train=TrainOptions(isbns=isbns, max_titles=args.max_titles),
        endpoint=args.endpoint,
        test_endpoint=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from shelfcast import lifecycle
    from shelfcast.views.common import ProgressDisplay, console, exit_status, print_facts
    from shelfcast.views.endpoints import endpoint_url, print_deploy
    from shelfcast.views.forecast import forecast_table
    from shelfcast.views.releases import print_package
    from shelfcast.views.training import print_training

    def run() -> int:
        settings = settings_for(args, data={"paths": tuple(args.data) if args.data else None})
        options = lifecycle_options(args)
        if args.dry_run:
            with ProgressDisplay() as progress:
                plan = lifecycle.plan_lifecycle(settings, options, progress)
            console.print("[bold]Dry run[/bold]: nothing is trained, registered or packaged.")
            print_facts([(stage, what) for stage, what in plan.stages])
            print_deploy(plan.deploy)
            return 0
        with ProgressDisplay() as progress:
            result = lifecycle.run_lifecycle(settings, options, progress)
        print_training(result.training)
        print_package(result.package)
        print_deploy(result.deploy)
        print_facts([(f"test {n}", line) for n, line in enumerate(result.tests, start=1)])
        console.print(forecast_table(result.sample, settings.serving.levels))
        print_facts(
            [
                ("release", result.release.uri),
                ("endpoint", f"{result.endpoint.name} ({result.deploy.rollout.action})"),
                ("URL clients call", endpoint_url(result.endpoint)),
            ]
        )
        return 0 if result.training.ok else 1

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
