"""`shelfcast run`: the whole lifecycle on the embedded defaults, end to end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shelfcast.cli.common import (
    EnvOption,
    IsbnOption,
    ProgressDisplay,
    console,
    err,
    make_table,
    reports_errors,
    split_values,
)

if TYPE_CHECKING:
    from shelfcast.lifecycle.run import LifecycleResult


@reports_errors
def run(
    isbn: IsbnOption = None,
    all_titles: Annotated[
        bool, typer.Option("--all", help="Every title with sales, not only the seasonal selection.")
    ] = False,
    env: EnvOption = None,
) -> None:
    """Everything on the embedded defaults: the sample catalogue -> train -> register ->
    promote -> package a release -> deploy it to the local endpoint -> smoke test -> a
    sample forecast. Nothing to start by hand, no cloud account.

    Rerunning it is safe and fast: training comes from ZenML's cache (no version is
    registered and every champion stays), unchanged champions are the same release, and a
    release that already serves is left as it is.

    Trains the seasonal selection unless `--isbn` names titles or `--all` asks for every
    title with sales.

    Example: `shelfcast run`, or `shelfcast run --isbn 9780722532935` for one title
    """
    from shelfcast.lifecycle.run import LifecycleOptions, run_lifecycle
    from shelfcast.lifecycle.train import TrainOptions
    from shelfcast.settings import load_settings
    from shelfcast.views.endpoints import print_deploy
    from shelfcast.views.forecast import forecast_table
    from shelfcast.views.training import print_training

    settings = load_settings(environment=env)
    options = LifecycleOptions(
        train=TrainOptions(isbns=tuple(split_values(isbn)), all_titles=all_titles)
    )
    with ProgressDisplay() as progress:
        outcome = run_lifecycle(settings, options, progress)
    print_training(outcome.training)
    print_deploy(outcome.deploy)
    console.print(forecast_table(outcome.sample, settings.serving.levels))
    print_overview(outcome)


def print_overview(outcome: LifecycleResult) -> None:
    """The run in a few lines, then the commands to try next (runnable as printed)."""
    from shelfcast.lifecycle.train import mean_mase
    from shelfcast.views.commands import shelfcast
    from shelfcast.views.common import Col
    from shelfcast.views.endpoints import endpoint_url

    release, endpoint = outcome.release, outcome.endpoint
    trained = outcome.training.trained
    families: dict[str, int] = {}
    for t in trained:
        families[t.family or "?"] = families.get(t.family or "?", 0) + 1
    rows = [
        ("titles", f"{len(trained)} trained, {release.titles:,} in the release"),
        ("selected families", ", ".join(f"{k} {v}" for k, v in sorted(families.items()))),
        ("champions", _aliases(outcome)),
    ]
    means = mean_mase(trained)
    if means:
        rows.append(("backtest MASE", f"{means[0]:.3f} (seasonal naive {means[1]:.3f})"))
    status = "new" if outcome.package.created else "unchanged"
    rows += [
        ("release", f"{release.release_id} ({status}) {release.uri}"),
        ("endpoint", f"{endpoint.name} ({outcome.deploy.rollout.action})"),
        ("URL clients call", endpoint_url(endpoint)),
        ("seconds", ", ".join(f"{k} {v:.1f}" for k, v in outcome.seconds.items())),
    ]
    columns = [Col("stage", style="bold"), Col("outcome", wrap=True)]
    console.print(make_table(columns, rows, title="shelfcast run"))
    program = shelfcast()
    err.print(
        "Next:\n"
        f"  {program} predict --isbn {outcome.sample['isbn']}\n"
        f"  {program} endpoints describe {endpoint.name}\n"
        f"  {program} models list\n"
        f"  {program} releases show {release.release_id}\n"
        f"  {program} dashboard",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _aliases(outcome: LifecycleResult) -> str:
    training = outcome.training
    if training.registered_versions == 0:
        return "unchanged (nothing new registered: training came from ZenML's cache)"
    kept = len(training.trained) - training.aliases_moved
    moved = "titles promoted" if training.catalogue is not None else "moved"
    return f"{training.aliases_moved} {moved}, {kept} kept on their champion"
