"""The seed's command: run the training pipeline with the seed's defaults.

    python pipelines/zenml_pipeline.py                  # the two test titles, DEPLOYMENT_ENV
    python pipelines/zenml_pipeline.py --select         # the seasonal selection (at most 15)
    python pipelines/zenml_pipeline.py --data exports/bookscan.xlsx --isbn 9780241003008

The same pipeline as `shelfcast train` (`shelfcast.lifecycle.train_titles`, which runs
`shelfcast.training.pipeline.book_sales_training` on the active ZenML stack):
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

    from shelfcast.lifecycle import TrainOptions, train_titles
    from shelfcast.views.common import ProgressDisplay, exit_status
    from shelfcast.views.training import print_training

    def run() -> int:
        config = get_arima_config(args.env, **({"data": args.data} if args.data else {}))
        isbns = None if args.select else (args.isbn or DEFAULT_TEST_ISBNS)
        titles = ", ".join(isbns) if isbns else f"the selection (at most {args.max_titles})"
        print(f"Training pipeline ({config.environment}): {titles}")
        options = TrainOptions(isbns=tuple(isbns or ()), max_titles=args.max_titles)
        with ProgressDisplay() as progress:
            result = train_titles(config.settings, options, progress)
        print_training(result)
        return 0 if not result.failed else 1

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
