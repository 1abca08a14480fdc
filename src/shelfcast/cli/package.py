"""`shelfcast package` and `shelfcast releases`: registered versions -> immutable releases."""

from __future__ import annotations

from typing import Annotated

import typer

from shelfcast.cli.common import (
    App,
    EnvOption,
    ProgressDisplay,
    console,
    make_table,
    print_facts,
    reports_errors,
    split_values,
)
from shelfcast.cli.models import TrackingOption, settings_for
from shelfcast.views.common import Col

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URI",
        help="Artifact store root (local folder, gs://, s3://; default: SHELFCAST_ARTIFACT_URI, "
        "else .shelfcast/artifacts).",
    ),
]

app = App(
    help="Releases in the artifact store: list, show.\n\n"
    "Example: `shelfcast releases show r-20260105-3f9a1c2b7d`",
    no_args_is_help=True,
)


@reports_errors
def package_command(
    every: Annotated[
        bool,
        typer.Option("--all", help="Every model: its champion, else its latest version."),
    ] = False,
    catalogue: Annotated[
        bool,
        typer.Option(
            "--catalogue",
            help="The catalogue model: every title's champion row, as one release of a few "
            "files (--model-version: the catalogue version; default its champion).",
        ),
    ] = False,
    model_name: Annotated[
        list[str] | None,
        typer.Option(
            "--model-name",
            metavar="NAME",
            help="Model name (`arima_book_<ISBN>`) or ISBN; repeatable.",
        ),
    ] = None,
    model_version: Annotated[
        str | None,
        typer.Option(
            "--model-version",
            metavar="VERSION",
            help="Version (or alias) of --model-name, or of --catalogue; default: champion, "
            "else latest.",
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="URI", help="Artifact store root (default: the configured store)."
        ),
    ] = None,
    project_id: Annotated[
        str | None,
        typer.Option("--project-id", metavar="PROJECT", help="Google Cloud project for gs://."),
    ] = None,
    env: EnvOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Registered model versions -> an immutable release in the artifact store.

    Default: every model's `champion`. Bundle files are copied unchanged to
    `models/<name>/<version>/`, verified, and pinned by `releases/<id>/manifest.json`.
    Packaging the same versions again writes nothing and reports the existing release.
    With `--catalogue`, the catalogue model's champion table is released instead: its
    Parquet files under `catalogues/<digest>/`, one manifest, whatever the number of titles.

    Example: `shelfcast package --model-name 9780722532935 --to gs://my-bucket/shelfcast`
    """
    from shelfcast.lifecycle.package import PackageOptions, package_release
    from shelfcast.views.releases import print_package

    options = PackageOptions(
        names=tuple(split_values(model_name)),
        version=model_version,
        every=every,
        to=to,
        project=project_id,
        catalogue=catalogue,
    )
    settings = settings_for(env, tracking_uri)
    with ProgressDisplay() as progress:
        result = package_release(settings, options, progress)
    print_package(result)


def _store(store: str | None, env: str | None) -> str:
    return store or settings_for(env, None).artifact_root


@app.command("list")
@reports_errors
def list_command(store: StoreOption = None, env: EnvOption = None) -> None:
    """The releases in the artifact store, newest first.

    Example: `shelfcast releases list --store gs://my-bucket/shelfcast`
    """
    from shelfcast.releases import list_releases
    from shelfcast.views.releases import families_text

    root = _store(store, env)
    releases = list_releases(root)
    columns = [
        Col("release"),
        Col("created", wrap=True, drop=2),
        Col("titles", justify="right"),
        Col("families", wrap=True, drop=1),
        Col("URI", wrap=True),
    ]
    rows = []
    for r in releases:
        rows.append(
            (
                r.release_id,
                r.created.replace("T", " ")[:16],
                f"{r.titles:,}",
                families_text(r),
                r.uri,
            )
        )
    if rows:
        console.print(make_table(columns, rows, title="Releases (newest first)"))
    print_facts([("releases", str(len(releases))), ("store", root)])


@app.command("show")
@reports_errors
def show_command(
    release_id: Annotated[
        str,
        typer.Argument(metavar="RELEASE", help="Release id, or the URI of a release folder."),
    ],
    store: StoreOption = None,
    env: EnvOption = None,
) -> None:
    """A release's models: version, family, segment, backtest MASE and MLflow run of each title.

    Example: `shelfcast releases show r-20260105-3f9a1c2b7d`
    """
    from shelfcast.releases import open_release
    from shelfcast.views.releases import models_table, release_facts

    release = open_release(_store(store, env), release_id)
    console.print(models_table(release))
    print_facts(release_facts(release))
