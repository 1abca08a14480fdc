"""The seed's command: run the training pipeline with the seed's defaults.

    python pipelines/zenml_pipeline.py                  # the two test titles, DEPLOYMENT_ENV
    python pipelines/zenml_pipeline.py --select         # the seasonal selection (at most 15)
    python pipelines/zenml_pipeline.py --data exports/bookscan.xlsx --isbn 9780241003008

The same pipeline as `shelfcast train` (`shelfcast.training.pipeline.book_sales_training`):
the seed's defaults are its two test ISBNs (The Alchemist, The Very Hungry Caterpillar), a
32-week split and the environment from `DEPLOYMENT_ENV` (development when unset). Without
`--data` it trains on the built-in sample catalogue, written to the project folder on first use.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the seed's `config` package (it finds `shelfcast` itself)

from config.arima_training_config import (  # noqa: E402
    DEFAULT_MAX_SEASONAL_BOOKS,
    DEFAULT_TEST_ISBNS,
    get_arima_config,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", help="sales file(s); default: the sample")
    parser.add_argument("--isbn", action="append", help="titles to train (default: the seed's)")
    parser.add_argument("--select", action="store_true", help="train the seasonal selection")
    parser.add_argument("--max-titles", type=int, default=DEFAULT_MAX_SEASONAL_BOOKS)
    parser.add_argument("--env", help="development, testing or production (DEPLOYMENT_ENV)")
    args = parser.parse_args(argv)

    from shelfcast.cli.common import err, print_problems
    from shelfcast.cli.train import print_summary
    from shelfcast.errors import DataValidationError, ShelfcastError
    from shelfcast.training import run_training

    try:
        config = get_arima_config(args.env, **({"data": args.data} if args.data else {}))
        isbns = None if args.select else (args.isbn or DEFAULT_TEST_ISBNS)
        titles = ", ".join(isbns) if isbns else f"the selection (at most {args.max_titles})"
        print(f"Training pipeline ({config.environment}): {titles}")
        summary = run_training(config.settings, isbns=isbns, max_titles=args.max_titles)
    except DataValidationError as exc:
        print_problems(exc.problems)
        err.print(f"[red]error:[/red] {len(exc.problems)} problem(s) in the input data")
        return 1
    except (ShelfcastError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 1
    print_summary(summary)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
