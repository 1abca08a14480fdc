"""The options the seed's deploy steps 01 and 03 share, and how they map onto the settings:
`--bucket-name B` is the artifact store `gs://B`; `--backend`, `--project-id`, `--region` and
`--env` are the settings of those names."""

from __future__ import annotations

import argparse
from typing import Any


def add_cloud_options(parser: argparse.ArgumentParser) -> None:
    """`--backend`, `--project-id`, `--region`, `--bucket-name`, `--dry-run` and `--env`."""
    option = parser.add_argument
    option(
        "--backend",
        choices=("local", "vertex"),
        metavar="local|vertex",
        help="where the endpoint lives (default: local; vertex in production)",
    )
    option("--project-id", metavar="PROJECT", help="Google Cloud project (default: GCP_PROJECT)")
    option("--region", metavar="REGION", help="Google Cloud region (default: GCP_REGION)")
    option("--bucket-name", metavar="BUCKET", help="GCS bucket of the releases (gs://BUCKET)")
    option(
        "--dry-run",
        action="store_true",
        help="vertex: print the plan and the Vertex AI calls; call nothing",
    )
    option("--env", metavar="ENV", help="development, testing or production (DEPLOYMENT_ENV)")


def settings_for(args: argparse.Namespace, **more: Any) -> Any:
    """The settings with the cloud options on top (and `more`, in `load_settings`' form)."""
    from shelfcast.settings import load_settings

    return load_settings(
        environment=args.env,
        endpoints={"backend": args.backend},
        gcp={"project": args.project_id, "region": args.region},
        artifact_uri=f"gs://{args.bucket_name}" if args.bucket_name else None,
        **more,
    )
