"""Registered models: each title's latest version, aliases and champion's MASE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from shelfcast.views.common import Col, console, make_table, print_facts
from shelfcast.views.releases import num

if TYPE_CHECKING:
    import pandas as pd

    from shelfcast.settings import Settings


def version(value: object) -> str:
    """`v3`, or `-` for none."""
    return f"v{value}" if value not in (None, "", "none") and value == value else "-"


def print_models(
    frame: pd.DataFrame,
    settings: Settings,
    out: Console | None = None,
    catalogue: dict | None = None,
) -> None:
    """`registry.list_models`' frame as a table, how many beat seasonal naive, and the
    catalogue model's champion version (`catalogue`: `registry.catalogue.catalogue_summary`)."""
    out = out or console
    columns = [
        Col("model"),
        Col("title", wrap=True, drop=3, max_width=32),
        Col("latest", drop=2),
        Col("champion"),
        Col("challenger", drop=1),
        Col("family"),
        Col("backtest MASE", justify="right"),
        Col("seasonal naive", justify="right"),
        Col("holdout MASE", justify="right", drop=4),
    ]
    rows = [
        (
            row.name,
            str(row.title or ""),
            version(row.latest_version),
            version(row.champion),
            version(row.challenger),
            str(row.family or "-"),
            num(row.backtest_mase),
            num(row.baseline_mase),
            num(row.holdout_mase),
        )
        for row in frame.itertuples(index=False)
    ]
    if rows:
        title = f"Registered models ({settings.experiment_name})"
        out.print(make_table(columns, rows, title=title, out=out))
    beats = (frame["backtest_mase"] < frame["baseline_mase"]).sum() if len(frame) else 0
    print_facts(
        [
            ("models", str(len(frame))),
            ("with a champion", str(int(frame["champion"].notna().sum()) if len(frame) else 0)),
            ("beating seasonal naive", str(int(beats))),
            *(
                [
                    (
                        "catalogue model",
                        f"{catalogue['model']}: champion v{catalogue['champion']}, "
                        f"{catalogue['titles'] or '?'} titles (shelfcast models show ISBN)",
                    )
                ]
                if catalogue
                else []
            ),
            ("tracking URI", settings.tracking_uri),
        ],
        out,
    )
