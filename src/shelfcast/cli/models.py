"""`shelfcast models`: the registered models, their versions and aliases, promote, roll back."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from shelfcast.cli.common import App, EnvOption, console, make_table, print_facts, reports_errors
from shelfcast.views.common import Col
from shelfcast.views.models import version as _v
from shelfcast.views.releases import num

app = App(
    help="Registered models: a model per title (`arima_book_<ISBN>`) and the catalogue model "
    "(`book_sales_catalogue`, one version per `train --all`, champions title by title): "
    "list, show, extract, promote, roll back.\n\n"
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
    str,
    typer.Argument(
        metavar="NAME",
        help="Model name (arima_book_<ISBN>, book_sales_catalogue) or ISBN.",
    ),
]
CatalogueOption = Annotated[
    bool,
    typer.Option(
        "--catalogue",
        help="NAME is an ISBN: act on its champion row inside the catalogue model, not on "
        "its own registered model.",
    ),
]
CatalogueVersionOption = Annotated[
    str | None,
    typer.Option(
        "--version",
        metavar="VERSION",
        help="The catalogue version whose champion map to read (default: champion).",
    ),
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
    """Every registered title model with its latest version, aliases and champion's MASE, and
    the catalogue model's champion version.

    Example: `shelfcast models list --env production`
    """
    from shelfcast import registry
    from shelfcast.registry.catalogue import catalogue_summary
    from shelfcast.views.models import print_models

    settings = settings_for(env, tracking_uri)
    print_models(registry.list_models(settings), settings, catalogue=catalogue_summary(settings))


@app.command("show")
@reports_errors
def show_command(
    name: NameArgument,
    version: CatalogueVersionOption = None,
    history: Annotated[
        bool, typer.Option(help="A title's decision in every catalogue version.")
    ] = False,
    env: EnvOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """A model's versions (tags, aliases, gate decisions) and its champions over time; for an
    ISBN, its champion row in the catalogue model and its own model, where each exists.

    Example: `shelfcast models show 9780722532935 --history`
    """
    from shelfcast import registry

    settings = settings_for(env, tracking_uri)
    text = name.strip()
    if text == settings.registry.catalogue_model or text.startswith(registry.MODEL_PREFIX):
        _print_model(registry.show_model(settings, text), settings)
        return
    from shelfcast.lifecycle.models import catalogue_title, title_model

    missing = ""
    try:
        _print_catalogue_title(catalogue_title(settings, text, version, history))
    except (registry.ModelNotFound, registry.VersionNotFound) as exc:
        if version is not None:
            raise
        missing = str(exc)
    try:
        _print_model(title_model(settings, text), settings)
    except registry.ModelNotFound as exc:
        if missing:
            raise registry.ModelNotFound(f"{missing}; and {exc}") from None


def _print_catalogue_title(record: dict) -> None:
    d, m = record["decision"], record["metrics"]
    scores = f"{num(d.get('challenger_score'))} vs {num(d.get('incumbent_score'))}"
    facts = [
        ("title", record["isbn"]),
        ("catalogue", f"{record['model_name']} {_v(record['version'])} (champion map)"),
        ("champion row", f"{_v(d['champion_version'])} (before it: {_v(d['previous_version'])})"),
        ("decision", f"{d['decision']}: {d['reason']}" if d.get("reason") else d["decision"]),
        ("gate scores", f"{d.get('metric') or '-'} {scores}"),
        ("family", f"{record['family']} ({record['segment']})"),
        ("training window", f"{record['weeks']} weeks from {record['start']}"),
        ("backtest MASE", f"{num(m.get('backtest_mase'))} (naive {num(m.get('baseline_mase'))})"),
        (
            "holdout",
            f"MASE {num(m.get('mase'))}, WAPE {num(m.get('wape'))}, wQL {num(m.get('wql'))}, "
            f"coverage 80% {num(m.get('coverage_80'))}",
        ),
    ]
    print_facts(facts)
    if "history" in record:
        columns = [Col("version"), Col("decision"), Col("champion row"), Col("why", wrap=True)]
        rows = [
            (_v(h["version"]), h["decision"], _v(h["champion_version"]), h.get("reason") or "")
            for h in record["history"]
        ]
        console.print(
            make_table(columns, rows, title=f"{record['isbn']} in every catalogue version")
        )


def _catalogue_counts(tags: dict) -> str:
    """A catalogue version's titles by decision, from its tags (`-` for other models)."""
    if tags.get("run_kind") == "champion-change":
        return "one title's champion moved by hand"
    if "count_titles" not in tags:
        return "-"
    return (
        f"{tags.get('count_promoted', 0)} promoted, {tags.get('count_kept', 0)} kept, "
        f"{tags.get('count_carried', 0)} carried of {tags['count_titles']}"
    )


def _print_model(info: dict, settings) -> None:
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
        decision = tags.get("promotion_decision") or _catalogue_counts(tags)
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
    catalogue: CatalogueOption = False,
    env: EnvOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Move the `champion` alias to VERSION by hand (recorded in the champion history); with
    `--catalogue`, make catalogue version VERSION's row of the title its champion.

    Example: `shelfcast models promote 9780722532935 3 --reason "holiday model"`
    """
    from shelfcast.lifecycle.models import promote_model, promote_title

    settings = settings_for(env, tracking_uri)
    if catalogue:
        change = promote_title(settings, name.strip(), version, reason)
    else:
        change = promote_model(settings, name, version, reason)
    moved = f"{_v(change.before)} -> {_v(change.after)}" if change.moved else _v(change.after)
    print_facts([("model", change.model_name), ("champion", moved), ("reason", reason)])


@app.command("rollback")
@reports_errors
def rollback_command(
    name: NameArgument,
    catalogue: CatalogueOption = False,
    env: EnvOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Move `champion` back to the previous champion (of a title's model, or of the catalogue
    model: every title's map as it was); with `--catalogue`, the title's champion row inside
    the catalogue goes back to the one before. Exit 1 if there is none.

    Example: `shelfcast models rollback 9780722532935 --catalogue`
    """
    from shelfcast.lifecycle.models import rollback_model, rollback_title

    settings = settings_for(env, tracking_uri)
    change = rollback_title(settings, name.strip()) if catalogue else rollback_model(settings, name)
    print_facts(
        [("model", change.model_name), ("champion", f"{_v(change.before)} -> {_v(change.after)}")]
    )


@app.command("extract")
@reports_errors
def extract_command(
    isbn: Annotated[str, typer.Argument(metavar="ISBN", help="A title of the catalogue.")],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="The bundle folder to write.")],
    version: CatalogueVersionOption = None,
    env: EnvOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Write a title's champion row in the catalogue model as a bundle folder (bundle.json,
    history.csv): the files of a per-title model, readable without Shelfcast.

    Example: `shelfcast models extract 9780722532935 --out bundles/9780722532935`
    """
    from shelfcast.lifecycle.models import extract_title

    folder = extract_title(settings_for(env, tracking_uri), isbn.strip(), out, version)
    print_facts([("title", isbn.strip()), ("bundle", str(folder))])
