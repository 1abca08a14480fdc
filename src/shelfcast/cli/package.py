"""`shelfcast package` and `shelfcast releases`: registered versions -> immutable releases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from shelfcast.cli.common import (
    EnvOption,
    console,
    print_facts,
    progress_bar,
    reports_errors,
    split_values,
)
from shelfcast.cli.models import TrackingOption, _num, _settings
from shelfcast.errors import ShelfcastError

if TYPE_CHECKING:
    from shelfcast.releases import Release

SHOWN_MODELS = 30  # `package` lists the models of a release this small; `releases show` all

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Artifact store root (local folder, gs://, s3://; default: SHELFCAST_ARTIFACT_URI, "
        "else .shelfcast/artifacts).",
    ),
]

app = typer.Typer(
    help="Releases in the artifact store: list, show.\n\n"
    "Example: `shelfcast releases show r-20260105-3f9a1c2b7d`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@reports_errors
def package_command(
    every: Annotated[
        bool,
        typer.Option("--all", help="Every model: its champion, else its latest version."),
    ] = False,
    model_name: Annotated[
        list[str] | None,
        typer.Option("--model-name", help="Model name (`arima_book_<ISBN>`) or ISBN; repeatable."),
    ] = None,
    model_version: Annotated[
        str | None,
        typer.Option(
            "--model-version",
            help="Version (or alias) of --model-name; default: champion, else latest.",
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Artifact store root (default: the configured store)."),
    ] = None,
    project_id: Annotated[
        str | None, typer.Option("--project-id", help="Google Cloud project for gs:// stores.")
    ] = None,
    env: EnvOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Registered model versions -> an immutable release in the artifact store.

    Default: every model's `champion`. Bundle files are copied unchanged to
    `models/<name>/<version>/`, verified, and pinned by `releases/<id>/manifest.json`.
    Packaging the same versions again writes nothing and reports the existing release.

    Example: `shelfcast package --model-name 9780722532935 --to gs://my-bucket/shelfcast`
    """
    from shelfcast.packaging import package

    names = split_values(model_name)
    if every and names:
        raise ShelfcastError("--all and --model-name exclude each other")
    if model_version is not None and not names:
        raise ShelfcastError("--model-version needs --model-name")
    settings = _settings(env, tracking_uri)
    if project_id:
        settings = settings.replace(gcp={"project": project_id})
    with progress_bar() as bar:
        task = bar.add_task("Packaging", total=None, current="")

        def show(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage.capitalize(), completed=done, total=total)

        result = package(settings, names or None, model_version, to, show, every=every)
    release = result.release
    if len(release.models) <= SHOWN_MODELS:
        console.print(models_table(release))
    print_facts(
        [
            ("release", release.release_id),
            ("status", "new release" if result.created else "already released (no change)"),
            ("titles", str(len(release.models))),
            ("model folders written", str(len(result.written))),
            ("already in the store", f"{len(result.unchanged)} (verified identical)"),
            ("release URI", release.uri),
            ("seconds", f"{result.seconds:.1f}"),
        ]
    )


def models_table(release: Release) -> Table:
    table = Table(title=f"Release {release.release_id}")
    table.add_column("model", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("title", overflow="ellipsis", no_wrap=True, max_width=32)
    table.add_column("family", no_wrap=True)
    table.add_column("backtest MASE", justify="right")
    table.add_column("MLflow run", no_wrap=True)
    for m in release.models:
        table.add_row(
            m.name,
            f"v{m.version}",
            m.title,
            m.model_family,
            _num(m.backtest_mase),
            m.run_id or "-",
        )
    return table


def _store(store: str | None, env: str | None) -> str:
    return store or _settings(env, None).artifact_root


@app.command("list")
@reports_errors
def list_command(store: StoreOption = None, env: EnvOption = None) -> None:
    """The releases in the artifact store, newest first.

    Example: `shelfcast releases list --store gs://my-bucket/shelfcast`
    """
    from collections import Counter

    from shelfcast.releases import list_releases

    root = _store(store, env)
    releases = list_releases(root)
    table = Table(title="Releases (newest first)")
    for column in ("release", "created", "titles", "families", "URI"):
        table.add_column(column, no_wrap=column != "URI")
    for r in releases:
        families = Counter(m.model_family for m in r.models)
        table.add_row(
            r.release_id,
            r.created.replace("T", " ")[:16],
            str(len(r.models)),
            ", ".join(f"{f} {n}" for f, n in families.most_common()),
            r.uri,
        )
    if releases:
        console.print(table)
    print_facts([("releases", str(len(releases))), ("store", root)])


@app.command("show")
@reports_errors
def show_command(
    release_id: Annotated[str, typer.Argument(help="Release id, or the URI of a release folder.")],
    store: StoreOption = None,
    env: EnvOption = None,
) -> None:
    """A release's models: version, family, backtest MASE and MLflow run of each title.

    Example: `shelfcast releases show r-20260105-3f9a1c2b7d`
    """
    from shelfcast.releases import open_release

    release = open_release(_store(store, env), release_id)
    console.print(models_table(release))
    print_facts(
        [
            ("release", release.release_id),
            ("created", release.created),
            ("titles", str(len(release.models))),
            ("store", release.store),
            ("release URI", release.uri),
        ]
    )
