"""The seed's step 02: registered models -> Google Cloud Storage, as an immutable release.

    python deploy/02_upload_models_to_gcs.py --list-models
    python deploy/02_upload_models_to_gcs.py --model-name arima_book_9780722532935 --bucket-name B
    python deploy/02_upload_models_to_gcs.py --upload-all --bucket-name B --project-id P

Through the application layer, as `shelfcast models list` and `shelfcast package` do:
`--model-name` releases that model's champion (else its latest version, or
`--model-version`), `--upload-all` every model's champion (else its latest version). Files
go to `gs://B/models/<name>/<version>/` with a manifest in `gs://B/releases/<release-id>/`;
without `--bucket-name`, to the configured artifact store. Uploading the same versions again
changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--list-models", action="store_true", help="list registered models")
    action.add_argument("--model-name", help="upload one model (arima_book_<ISBN> or ISBN)")
    action.add_argument("--upload-all", action="store_true", help="upload every model")
    parser.add_argument("--model-version", help="with --model-name: a version or alias")
    parser.add_argument("--bucket-name", help="GCS bucket (default: the configured store)")
    parser.add_argument("--project-id", help="Google Cloud project (default: GCP_PROJECT)")
    parser.add_argument("--env", help="development, testing or production (DEPLOYMENT_ENV)")
    args = parser.parse_args(argv)
    if args.model_version and not args.model_name:
        parser.error("--model-version needs --model-name")
    return args


def package_options(args: argparse.Namespace) -> Any:
    """The `lifecycle.PackageOptions` that do what the seed's options ask."""
    from shelfcast.lifecycle import PackageOptions

    return PackageOptions(
        names=(args.model_name,) if args.model_name else (),
        version=args.model_version,
        every=bool(args.upload_all),
        to=f"gs://{args.bucket_name}" if args.bucket_name else None,
        project=args.project_id,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from shelfcast import lifecycle, registry
    from shelfcast.settings import load_settings
    from shelfcast.views.common import ProgressDisplay, exit_status
    from shelfcast.views.models import print_models
    from shelfcast.views.releases import print_package

    def run() -> None:
        settings = load_settings(environment=args.env, gcp={"project": args.project_id})
        if args.list_models:
            print_models(registry.list_models(settings), settings)
            return
        with ProgressDisplay() as progress:
            result = lifecycle.package_release(settings, package_options(args), progress)
        print_package(result)

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
