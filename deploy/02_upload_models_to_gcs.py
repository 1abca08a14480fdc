"""The seed's step 02: registered models -> Google Cloud Storage, as an immutable release.

    python deploy/02_upload_models_to_gcs.py --list-models
    python deploy/02_upload_models_to_gcs.py --model-name arima_book_9780722532935 --bucket-name B
    python deploy/02_upload_models_to_gcs.py --upload-all --bucket-name B --project-id P

A thin wrapper over `shelfcast models list` and `shelfcast package`: `--model-name` releases
that model's champion (else its latest version, or `--model-version`), `--upload-all` every
model's champion (else its latest version). Files go to `gs://B/models/<name>/<version>/`
with a manifest in `gs://B/releases/<release-id>/`; without `--bucket-name`, to the configured
artifact store. Uploading the same versions again changes nothing.
"""

from __future__ import annotations

import argparse
import sys


def shelfcast_arguments(args: argparse.Namespace) -> list[str]:
    """The `shelfcast` command line that does what the seed's options ask."""
    common = ["--env", args.env] if args.env else []
    if args.list_models:
        return ["models", "list", *common]
    target = ["--to", f"gs://{args.bucket_name}"] if args.bucket_name else []
    project = ["--project-id", args.project_id] if args.project_id else []
    if args.upload_all:
        return ["package", "--all", *target, *project, *common]
    version = ["--model-version", args.model_version] if args.model_version else []
    return ["package", "--model-name", args.model_name, *version, *target, *project, *common]


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from shelfcast.cli import app

    return app(shelfcast_arguments(args), prog_name="shelfcast", standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main())
