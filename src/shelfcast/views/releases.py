"""Releases: the models of one, and what packaging did."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from shelfcast.views.common import Col, console, make_table, print_facts

if TYPE_CHECKING:
    from shelfcast.packaging import PackageResult
    from shelfcast.releases import Release

SHOWN_MODELS = 30  # packaging lists the models of a release this small; `releases show` all


def num(value: object) -> str:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    return "-" if math.isnan(x) else f"{x:.3f}"


def models_table(release: Release, out: Console | None = None) -> Table:
    columns = [
        Col("model"),
        Col("version"),
        Col("title", wrap=True, drop=2, max_width=32),
        Col("family"),
        Col("segment"),
        Col("backtest MASE", justify="right"),
        Col("MLflow run", drop=1),
    ]
    rows = [
        (
            m.name,
            f"v{m.version}",
            m.title,
            m.model_family,
            m.segment or "-",
            num(m.backtest_mase),
            m.run_id or "-",
        )
        for m in release.models
    ]
    return make_table(columns, rows, title=f"Release {release.release_id}", out=out)


def print_package(result: PackageResult, out: Console | None = None) -> None:
    """The release's models (when few) and what packaging did."""
    out = out or console
    release = result.release
    if len(release.models) <= SHOWN_MODELS:
        out.print(models_table(release, out))
    print_facts(
        [
            ("release", release.release_id),
            ("status", "new release" if result.created else "already released (no change)"),
            ("titles", str(len(release.models))),
            ("model folders written", str(len(result.written))),
            ("already in the store", f"{len(result.unchanged)} (verified identical)"),
            ("release URI", release.uri),
            ("seconds", f"{result.seconds:.1f}"),
        ],
        out,
    )
