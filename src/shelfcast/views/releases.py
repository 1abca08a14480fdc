"""Releases: the models (or a catalogue's files) of one, and what packaging did."""

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
    """A per-title release's models; a catalogue release's files."""
    if release.catalogue is not None:
        return catalogue_table(release, out)
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


def catalogue_table(release: Release, out: Console | None = None) -> Table:
    """A catalogue release's files and their sha256."""
    assert release.catalogue is not None
    catalogue = release.catalogue
    rows = [(f"{catalogue.path}/{name}", sha) for name, sha in sorted(catalogue.files.items())]
    title = (
        f"Release {release.release_id}: {catalogue.model_name} v{catalogue.version}, "
        f"{catalogue.titles:,} titles"
    )
    return make_table([Col("file"), Col("sha256", wrap=True)], rows, title=title, out=out)


def release_facts(release: Release) -> list[tuple[str, str]]:
    """What `releases show` says of a release besides its table."""
    facts = [("release", release.release_id), ("created", release.created)]
    facts.append(("titles", f"{release.titles:,}"))
    if release.catalogue is not None:
        catalogue = release.catalogue
        facts += [
            ("kind", "catalogue"),
            ("model", f"{catalogue.model_name} v{catalogue.version}"),
            ("MLflow run", catalogue.run_id or "-"),
            ("families", families_text(release)),
        ]
    return [*facts, ("store", release.store), ("release URI", release.uri)]


def families_text(release: Release) -> str:
    return ", ".join(f"{f} {n:,}" for f, n in release.families.most_common())


def print_package(result: PackageResult, out: Console | None = None) -> None:
    """The release's models (when few) and what packaging did."""
    out = out or console
    release = result.release
    if release.catalogue is not None or len(release.models) <= SHOWN_MODELS:
        out.print(models_table(release, out))
    written = "files written" if release.catalogue is not None else "model folders written"
    print_facts(
        [
            ("release", release.release_id),
            ("status", "new release" if result.created else "already released (no change)"),
            ("titles", f"{release.titles:,}"),
            (written, str(len(result.written))),
            ("already in the store", f"{len(result.unchanged)} (verified identical)"),
            ("release URI", release.uri),
            ("seconds", f"{result.seconds:.1f}"),
        ],
        out,
    )
