"""`shelfcast models`: the registered models, their versions and aliases, promote, roll back."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from shelfcast.cli.common import App, EnvOption, console, make_table, print_facts, reports_errors
from shelfcast.views.common import Col
from shelfcast.views.models import version as _v
from shelfcast.views.releases import num

app = App(
    help="Registered models (`arima_book_<ISBN>`): list, show, promote, roll back.\n\n"
    "Example: `shelfcast models show 9780722532935`",
    no_args_is_help=True,
)

TrackingOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else the project's store).",
    ),
]
NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="Model name (arima_book_<ISBN>) or ISBN.")
]


def settings_for(env: str | None, tracking_uri: str | None):
    from shelfcast.settings import load_settings

    # A CLI question should fail fast when the server is down, not retry for minutes.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    return load_settings(environment=env, registry={"mlflow_tracking_uri": tracking_uri})


@app.command("list")
@reports_errors
def list_command(env: EnvOption = None, tracking_uri: TrackingOption = None) -> None:
    """Every registered title model with its latest version, aliases and champion's MASE.

    Example: `shelfcast models list --env production`
    """
    from shelfcast import registry
    from shelfcast.views.models import print_models

    settings = settings_for(env, tracking_uri)
    print_models(registry.list_models(settings), settings)


@app.command("show")
@reports_errors
def show_command(
    name: NameArgument, env: EnvOption = None, tracking_uri: TrackingOption = None
) -> None:
    """A model's versions (tags, aliases, gate decisions) and its champions over time.

    Example: `shelfcast models show arima_book_9780722532935`
    """
    from shelfcast import registry

    settings = settings_for(env, tracking_uri)
    info = registry.show_model(settings, name)
    columns = [
        Col("version"),
        Col("created", wrap=True, drop=3),
        Col("aliases", wrap=True),
        Col("family"),
        Col("training window", wrap=True, drop=2),
        Col("backtest MASE", justify="right"),
        Col("holdout MASE", justify="right", drop=1),
        Col("gate", wrap=True),
    ]
    rows, reasons = [], []
    for v in info["versions"]:
        tags = v["tags"]
        decision = tags.get("promotion_decision", "-")
        if tags.get("rolled_back_at"):
            decision += f", rolled back to v{tags.get('rolled_back_to')}"
        rows.append(
            (
                _v(v["version"]),
                v["created"].replace("T", " ")[:16],
                ",".join(v["aliases"]) or "-",
                tags.get("model_family", "-"),
                tags.get("training_window", "-").split(" (")[0],
                num(tags.get("backtest_mase")),
                num(tags.get("holdout_mase")),
                decision,
            )
        )
        if tags.get("promotion_reason"):
            reasons.append((_v(v["version"]), tags["promotion_reason"]))
    title = f"{info['name']}: {info['title'] or info['isbn']}"
    console.print(make_table(columns, rows, title=title))
    if reasons:
        reason_columns = [Col("version"), Col("why", wrap=True)]
        console.print(make_table(reason_columns, reasons, title="Gate decisions"))
    if info["champion_history"]:
        history = [
            (_v(e["version"]), e.get("at", ""), e.get("reason", ""))
            for e in info["champion_history"]
        ]
        history_columns = [Col("version"), Col("since", wrap=True), Col("why", wrap=True)]
        console.print(make_table(history_columns, history, title="Champions (oldest first)"))
    aliases = ", ".join(f"{a} -> v{v}" for a, v in sorted(info["aliases"].items())) or "none"
    print_facts(
        [
            ("model", info["name"]),
            ("versions", str(len(info["versions"]))),
            ("aliases", aliases),
            ("tracking URI", settings.tracking_uri),
        ]
    )


@app.command("promote")
@reports_errors
def promote_command(
    name: NameArgument,
    version: Annotated[
        str, typer.Argument(metavar="VERSION", help="The version to make champion, e.g. 3.")
    ],
    reason: Annotated[
        str, typer.Option(metavar="TEXT", help="Why, recorded on the version.")
    ] = "manual",
    env: EnvOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Move the `champion` alias to VERSION by hand (recorded in the champion history).

    Example: `shelfcast models promote 9780722532935 3 --reason "holiday model"`
    """
    from shelfcast.lifecycle.models import promote_model

    change = promote_model(settings_for(env, tracking_uri), name, version, reason)
    moved = f"{_v(change.before)} -> {_v(change.after)}" if change.moved else _v(change.after)
    print_facts([("model", change.model_name), ("champion", moved), ("reason", reason)])


@app.command("rollback")
@reports_errors
def rollback_command(
    name: NameArgument, env: EnvOption = None, tracking_uri: TrackingOption = None
) -> None:
    """Move `champion` back to the previous champion; exit 1 if there is none.

    Example: `shelfcast models rollback 9780722532935`
    """
    from shelfcast.lifecycle.models import rollback_model

    change = rollback_model(settings_for(env, tracking_uri), name)
    print_facts(
        [("model", change.model_name), ("champion", f"{_v(change.before)} -> {_v(change.after)}")]
    )
