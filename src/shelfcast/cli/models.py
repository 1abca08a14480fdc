"""`shelfcast models`: the registered models, their versions and aliases, promote, roll back."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from shelfcast.cli.common import EnvOption, console, print_facts, reports_errors

app = typer.Typer(
    help="Registered models (`arima_book_<ISBN>`): list, show, promote, roll back.\n\n"
    "Example: `shelfcast models show 9780722532935`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

TrackingOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else the project's store).",
    ),
]
NameArgument = Annotated[str, typer.Argument(help="Model name (arima_book_<ISBN>) or ISBN.")]


def _settings(env: str | None, tracking_uri: str | None):
    from shelfcast.settings import load_settings

    # A CLI question should fail fast when the server is down, not retry for minutes.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    return load_settings(environment=env, registry={"mlflow_tracking_uri": tracking_uri})


def _num(value: object) -> str:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    return "-" if x != x else f"{x:.3f}"


def _v(version: object) -> str:
    return f"v{version}" if version not in (None, "", "none") and version == version else "-"


@app.command("list")
@reports_errors
def list_command(env: EnvOption = None, tracking_uri: TrackingOption = None) -> None:
    """Every registered title model with its latest version, aliases and champion's MASE.

    Example: `shelfcast models list --env production`
    """
    from shelfcast import registry

    settings = _settings(env, tracking_uri)
    frame = registry.list_models(settings)
    table = Table(title=f"Registered models ({settings.experiment_name})")
    table.add_column("model", no_wrap=True)
    table.add_column("title", overflow="ellipsis", no_wrap=True, max_width=32)
    for column in ("latest", "champion", "challenger", "family"):
        table.add_column(column, no_wrap=True)
    for column in ("backtest MASE", "seasonal naive", "holdout MASE"):
        table.add_column(column, justify="right")
    for row in frame.itertuples(index=False):
        table.add_row(
            row.name,
            str(row.title or ""),
            _v(row.latest_version),
            _v(row.champion),
            _v(row.challenger),
            str(row.family or "-"),
            _num(row.backtest_mase),
            _num(row.baseline_mase),
            _num(row.holdout_mase),
        )
    if len(frame):
        console.print(table)
    beats = (frame["backtest_mase"] < frame["baseline_mase"]).sum() if len(frame) else 0
    print_facts(
        [
            ("models", str(len(frame))),
            ("with a champion", str(int(frame["champion"].notna().sum()) if len(frame) else 0)),
            ("beating seasonal naive", str(int(beats))),
            ("tracking URI", settings.tracking_uri),
        ]
    )


@app.command("show")
@reports_errors
def show_command(
    name: NameArgument, env: EnvOption = None, tracking_uri: TrackingOption = None
) -> None:
    """A model's versions (tags, aliases, gate decisions) and its champions over time.

    Example: `shelfcast models show arima_book_9780722532935`
    """
    from shelfcast import registry

    settings = _settings(env, tracking_uri)
    info = registry.show_model(settings, name)
    table = Table(title=f"{info['name']}: {info['title'] or info['isbn']}")
    for column in ("version", "created", "aliases", "family", "training window"):
        table.add_column(column, no_wrap=True)
    table.add_column("backtest MASE", justify="right")
    table.add_column("holdout MASE", justify="right")
    table.add_column("gate", no_wrap=True)
    reasons = Table(title="Gate decisions", show_header=False)
    reasons.add_column(no_wrap=True)
    reasons.add_column()
    for v in info["versions"]:
        tags = v["tags"]
        decision = tags.get("promotion_decision", "-")
        if tags.get("rolled_back_at"):
            decision += f", rolled back to v{tags.get('rolled_back_to')}"
        table.add_row(
            _v(v["version"]),
            v["created"].replace("T", " ")[:16],
            ",".join(v["aliases"]) or "-",
            tags.get("model_family", "-"),
            tags.get("training_window", "-").split(" (")[0],
            _num(tags.get("backtest_mase")),
            _num(tags.get("holdout_mase")),
            decision,
        )
        if tags.get("promotion_reason"):
            reasons.add_row(_v(v["version"]), tags["promotion_reason"])
    console.print(table)
    if reasons.row_count:
        console.print(reasons)
    if info["champion_history"]:
        history = Table(title="Champions (oldest first)")
        for column in ("version", "since", "why"):
            history.add_column(column)
        for entry in info["champion_history"]:
            history.add_row(_v(entry["version"]), entry.get("at", ""), entry.get("reason", ""))
        console.print(history)
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
    version: Annotated[str, typer.Argument(help="The version to make champion, e.g. 3.")],
    reason: Annotated[str, typer.Option(help="Why, recorded on the version.")] = "manual",
    env: EnvOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Move the `champion` alias to VERSION by hand (recorded in the champion history).

    Example: `shelfcast models promote 9780722532935 3 --reason "holiday model"`
    """
    from shelfcast import registry

    settings = _settings(env, tracking_uri)
    name = registry.resolve_name(name)
    before = registry.show_model(settings, name)["aliases"].get(registry.CHAMPION)
    registry.promote(settings, name, version, reason=reason)
    after = registry.show_model(settings, name)["aliases"].get(registry.CHAMPION)
    print_facts(
        [
            ("model", name),
            ("champion", f"{_v(before)} -> {_v(after)}" if before != after else _v(after)),
            ("reason", reason),
        ]
    )


@app.command("rollback")
@reports_errors
def rollback_command(
    name: NameArgument, env: EnvOption = None, tracking_uri: TrackingOption = None
) -> None:
    """Move `champion` back to the previous champion; exit 1 if there is none.

    Example: `shelfcast models rollback 9780722532935`
    """
    from shelfcast import registry

    settings = _settings(env, tracking_uri)
    name = registry.resolve_name(name)
    before = registry.show_model(settings, name)["aliases"].get(registry.CHAMPION)
    after = registry.rollback(settings, name)
    print_facts([("model", name), ("champion", f"{_v(before)} -> {_v(after)}")])
