"""The catalogue model: every title's model in one registered model, gated title by title.

`register_catalogue` makes one version of `registry.catalogue_model` from a training run's
fits. Titles it refitted meet the promotion gate one by one (`challenge.decide`, the rules of
`gate`): the new row becomes the title's champion where it beats the champion's on the newest
weeks, else the older row stays champion. Titles it did not refit (their content hash
unchanged, their refit failed, or absent from this run's data) are carried over: their
champion row is copied into the version, not refitted. Every title gets a row in
`decisions.parquet` (decision, reason, both scores, `champion_version`, `previous_version`),
which is the version's champion map; the version then takes `champion` (its map is in force)
and `challenger`. A retrain that refitted nothing makes no version. The pools the refitted
titles were fitted against are kept with the version (`catalogue_pools`), with where they came
from: trained in this version, or reused from an earlier one.

`champion_table(settings, version)` gathers the champion row of every title from the versions
that hold them: what a release of the catalogue is made of.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from shelfcast.forecasting import bundle_table
from shelfcast.forecasting.bundle_table import BundleTable
from shelfcast.forecasting.fit import TitleFit
from shelfcast.registry import catalogue_files as files
from shelfcast.registry.catalogue_metrics import metrics_frame, summary_metrics, title_metrics
from shelfcast.registry.catalogue_versions import (
    CatalogueVersion,
    champion_map,
    champion_version,
    locate,
    new_version,
)
from shelfcast.registry.challenge import decide
from shelfcast.registry.connection import client_for
from shelfcast.registry.models import CHAMPION
from shelfcast.registry.values import now_iso, number
from shelfcast.settings import Settings


@dataclass(frozen=True)
class ChampionTable:
    """The champion row of every title as of catalogue version `version`'s champion map."""

    table: BundleTable
    version: str
    run_id: str
    model_name: str
    versions: dict[str, str]  # ISBN -> the catalogue version holding its row


@dataclass(frozen=True)
class CatalogueRegistration:
    """What registering a catalogue version did. `version` is None when nothing was refitted
    (no version made); `decisions` has the rows of the titles refitted or failed."""

    model_name: str
    version: str | None
    run_id: str | None
    base_version: str | None
    decisions: pd.DataFrame
    counts: dict[str, int]
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    pools: dict[str, Any] | None = None  # the manifest's `pools`: kept pools and their origin


def champion_table(settings: Settings, version: str | None = None) -> ChampionTable:
    """Every title's champion row, as catalogue version `version` (a number or an alias;
    None: `champion`) maps them, gathered from the versions holding them (each verified)."""
    client = client_for(settings)
    at = locate(client, settings, version or CHAMPION)
    mapping = champion_map(at)
    versions = {isbn: str(m["champion_version"]) for isbn, m in mapping.items()}
    table, _ = gather(client, settings, versions, at)
    return ChampionTable(table, at.version, at.run_id, at.model_name, versions)


def gather(
    client: MlflowClient,
    settings: Settings,
    versions: Mapping[str, str],
    known: CatalogueVersion | None = None,
) -> tuple[BundleTable, pd.DataFrame]:
    """The rows `versions` names (ISBN -> version holding it) and their metrics rows, each
    version's table read once and verified."""
    wanted: dict[str, list[str]] = {}
    for isbn, version in versions.items():
        wanted.setdefault(str(version), []).append(isbn)
    tables, metrics = [], []
    for version, isbns in sorted(wanted.items(), key=lambda kv: int(kv[0])):
        at = known if known is not None and known.version == version else None
        at = at or locate(client, settings, version)
        tables.append(files.read_table(at.folder, isbns))
        metrics.append(files.read_parquet(at.folder, files.METRICS, isbns).to_pandas())
    table = bundle_table.concat(tables) if tables else bundle_table.from_bundles([])
    frame = pd.concat(metrics, ignore_index=True) if metrics else metrics_frame([])
    return table, frame


def catalogue_summary(settings: Settings) -> dict[str, str | None] | None:
    """The catalogue model's name, champion version and its count of titles; None when the
    catalogue model has no version in force."""
    client = client_for(settings)
    at = champion_version(client, settings)
    if at is None:
        return None
    found = client.get_model_version(at.model_name, at.version)
    return {
        "model": at.model_name,
        "champion": at.version,
        "titles": found.tags.get("count_titles"),
    }


def fitted_hashes(settings: Settings) -> tuple[str | None, dict[str, str]]:
    """The champion version and, per title, the content hash it was last fitted on."""
    at = champion_version(client_for(settings), settings)
    mapping = champion_map(at)
    return (at.version if at else None), {k: m["content_hash"] for k, m in mapping.items()}


def register_catalogue(
    settings: Settings,
    fits: Sequence[TitleFit],
    *,
    content_hashes: Mapping[str, str],
    failures: Mapping[str, str] | None = None,
    fingerprint: str = "",
    settings_digest: str = "",
    data_source: str = "",
    pipeline_run: str | None = None,
    pools: Sequence[Mapping[str, Any]] | None = None,
    pools_info: Mapping[str, Any] | None = None,
) -> CatalogueRegistration:
    """Register a catalogue version from `fits` (the titles refitted), carrying every other
    title of the champion version over; see the module docstring. `pools`: the rows of the
    pools the titles were fitted against (`pool_state.to_rows`), kept with the version as
    `pools_info` describes them (`settings_hash`, `data_hash`, `reused_from` and, for reused
    pools, `trained_in`)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    client = client_for(settings)
    name = settings.registry.catalogue_model
    base = champion_version(client, settings)
    mapping = champion_map(base)
    failures = dict(failures or {})
    fitted = {f.key: f for f in fits}
    carried = sorted(k for k in mapping if k not in fitted)
    if not fitted:  # nothing new: the version in force stays
        decisions = _failed_rows(failures, mapping)
        counts = {"titles": len(mapping), "fitted": 0, "carried": len(carried)}
        counts["failed"] = len(failures)
        at = base.version if base else None
        return CatalogueRegistration(name, None, None, at, decisions, counts)
    # Every champion row: carried titles' to copy, refitted titles' for the gate.
    holding = {k: str(m["champion_version"]) for k, m in mapping.items()}
    old, old_metrics = gather(client, settings, holding, base)
    timings["read"] = time.perf_counter() - started
    tags = {"data_fingerprint": fingerprint, "dataset_source": data_source[:500]}
    if pipeline_run:
        tags["zenml_pipeline_run"] = pipeline_run
    description = f"{len(fitted)} titles fitted, {len(carried)} carried over"
    with new_version(client, settings, "catalogue", description, tags) as made:
        version = made.version
        mark = time.perf_counter()
        rows = _gate(settings, fits, old, old_metrics, mapping, content_hashes, version)
        rows += _carried_rows(carried, mapping, failures, content_hashes, version)
        timings["gate"] = time.perf_counter() - mark
        mark = time.perf_counter()
        fresh = bundle_table.from_bundles((f.bundle for f in fits), content_hashes)
        table = bundle_table.concat([old.select(carried), fresh])
        metrics = pd.concat(
            [
                old_metrics[old_metrics["isbn"].isin(set(carried))],
                metrics_frame(title_metrics(f.bundle, version) for f in fits),
            ],
            ignore_index=True,
        )
        decisions = files.decisions_table(rows)
        frame = decisions.to_pandas()
        counts = _counts(frame, failures, mapping)
        run_metrics = {f"counts/{k}": float(v) for k, v in counts.items()}
        run_metrics.update(summary_metrics(metrics))
        info = {
            "kind": "catalogue",
            "model_name": name,
            "version": version,
            "run_id": made.run_id,
            "base_version": base.version if base else None,
            "counts": counts,
            "settings_digest": settings_digest,
            "data_fingerprint": fingerprint,
            "created_at": now_iso(),
        }
        if pools is not None:
            info["pools"] = _pools_about(pools, pools_info or {}, version)
        timings["tables"] = time.perf_counter() - mark
        mark = time.perf_counter()
        reason = (
            f"catalogue: {counts['promoted']} titles promoted, {counts['kept']} kept, "
            f"{counts['carried']} carried over"
        )
        made.publish(table, metrics, decisions, info, run_metrics, reason, pools)
        timings["write"] = time.perf_counter() - mark
    shown = frame[frame["decision"] != files.CARRIED]
    failed = _failed_rows(failures, mapping)
    if len(failed):
        shown = pd.concat([shown, failed], ignore_index=True)
    return CatalogueRegistration(
        name,
        version,
        made.run_id,
        base.version if base else None,
        shown.reset_index(drop=True),
        counts,
        time.perf_counter() - started,
        timings,
        info.get("pools"),
    )


def _pools_about(
    pools: Sequence[Mapping[str, Any]], about: Mapping[str, Any], version: str
) -> dict[str, Any]:
    """The manifest's `pools`: their hashes, families, cut-offs and where they came from."""
    return {
        "settings_hash": about.get("settings_hash", ""),
        "data_hash": about.get("data_hash", ""),
        "trained_in": about.get("trained_in") or version,
        "reused_from": about.get("reused_from"),
        "reason": about.get("reason", ""),
        "families": sorted({str(r["family"]) for r in pools}),
        "cutoffs": sorted({str(r["cutoff"]) for r in pools}),
    }


def _gate(
    settings: Settings,
    fits: Sequence[TitleFit],
    old: BundleTable,
    old_metrics: pd.DataFrame,
    mapping: Mapping[str, Mapping[str, Any]],
    content_hashes: Mapping[str, str],
    version: str,
) -> list[dict[str, Any]]:
    """Each refitted title's decision against its champion row (`challenge.decide`)."""
    backtest = dict(zip(old_metrics["isbn"], old_metrics["backtest_mase"], strict=True))
    rows = []
    for fit in fits:
        key = fit.key
        current = mapping.get(key)
        incumbent = str(current["champion_version"]) if current else None
        decision = decide(
            fit,
            (lambda key=key: old.model(key)) if incumbent else None,
            incumbent,
            settings.registry.promotion_min_improvement,
            lambda key=key: number(backtest.get(key)),
            season_length=settings.training.season_length,
        )
        if decision.promote:
            champion, previous = version, incumbent
        else:
            assert current is not None  # a title without a champion is always promoted
            champion, previous = incumbent, current["previous_version"]
        rows.append(
            {
                "isbn": key,
                "decision": files.PROMOTED if decision.promote else files.KEPT,
                "reason": decision.reason,
                "metric": decision.metric,
                "challenger_score": number(decision.challenger_score),
                "incumbent_score": number(decision.incumbent_score),
                "champion_version": champion,
                "previous_version": previous,
                "content_hash": content_hashes.get(key),
            }
        )
    return rows


def _carried_rows(
    carried: Iterable[str],
    mapping: Mapping[str, Mapping[str, Any]],
    failures: Mapping[str, str],
    content_hashes: Mapping[str, str],
    version: str,
) -> list[dict[str, Any]]:
    """Titles not refitted: the champion row copied into `version`, as it was."""
    rows = []
    for key in carried:
        current = mapping[key]
        held = f"champion row of v{current['champion_version']}"
        if key in failures:
            reason = f"refit failed ({failures[key]}); {held} carried over"
        elif key not in content_hashes:
            reason = f"not in this run's data; {held} carried over"
        else:
            reason = f"unchanged; {held} carried over"
        rows.append(
            {
                "isbn": key,
                "decision": files.CARRIED,
                "reason": reason,
                "champion_version": version,
                "previous_version": current["previous_version"],
                "content_hash": current["content_hash"],
            }
        )
    return rows


def _failed_rows(failures: Mapping[str, str], mapping: Mapping[str, Any]) -> pd.DataFrame:
    """Titles that failed to fit and have no champion: not in the catalogue."""
    rows = [
        {"isbn": k, "decision": "failed", "reason": why}
        for k, why in sorted(failures.items())
        if k not in mapping
    ]
    return pd.DataFrame(rows, columns=files.DECISION_SCHEMA.names)


def _counts(
    frame: pd.DataFrame, failures: Mapping[str, str], mapping: Mapping[str, Any]
) -> dict[str, int]:
    decided = frame["decision"].value_counts()
    return {
        "titles": len(frame),
        "fitted": int(decided.get(files.PROMOTED, 0) + decided.get(files.KEPT, 0)),
        "promoted": int(decided.get(files.PROMOTED, 0)),
        "kept": int(decided.get(files.KEPT, 0)),
        "carried": int(decided.get(files.CARRIED, 0)),
        "failed": len(failures),
        "failed_new": sum(k not in mapping for k in failures),
    }
