"""`shelfcast train`: the ZenML training pipeline: train, track, register, promote."""

from __future__ import annotations

from typing import Annotated

import typer

from shelfcast.cli.common import (
    DataOption,
    EnvOption,
    IsbnOption,
    ProgressDisplay,
    reports_errors,
    split_values,
)


@reports_errors
def train(
    data: DataOption = None,
    isbn: IsbnOption = None,
    max_titles: Annotated[
        int | None,
        typer.Option(min=1, help="Selected titles at most (default: the setting, 15)."),
    ] = None,
    all_titles: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every title with sales, registered as one version of the catalogue model "
            "(registry.catalogue_model); only titles whose data or settings changed are refitted.",
        ),
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="With --all: refit every title, changed or not.")
    ] = False,
    env: EnvOption = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes fitting titles (default: every core).")
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Fit titles on this Dask cluster (scheduler address, tcp://host:8786).",
        ),
    ] = None,
    cache: Annotated[
        bool, typer.Option(help="Reuse ZenML's cached steps when data and code are unchanged.")
    ] = True,
    verbose: Annotated[bool, typer.Option(help="Show ZenML's own log lines.")] = False,
) -> None:
    """Run the ZenML training pipeline: validate the data, backtest and fit every selected
    title, log the runs to MLflow, register each title's model and let the promotion gate move
    its `champion` alias.

    Runs on the active ZenML stack of the project folder (the default local stack, set up on
    first use). A rerun on unchanged data is served from ZenML's cache, registers nothing new
    and says so: each title's champion stays where it is. With `--all` the whole catalogue is
    one version of the catalogue model, gated title by title (see `shelfcast models show`).

    Example: `shelfcast train --isbn 9780722532935 --isbn 9780241003008 --env testing`
    """
    from shelfcast.lifecycle.train import TrainOptions, train_titles
    from shelfcast.settings import load_settings
    from shelfcast.views.training import print_training

    settings = load_settings(
        environment=env,
        training={"workers": workers, "dask_scheduler": dask},
        data={"paths": tuple(data) if data else None},
    )
    options = TrainOptions(
        isbns=tuple(split_values(isbn)),
        max_titles=max_titles,
        all_titles=all_titles,
        full=full,
        verbose=verbose,
        use_cache=cache,
    )
    with ProgressDisplay() as progress:
        result = train_titles(settings, options, progress)
    print_training(result)
    if not result.ok:
        raise typer.Exit(1)
