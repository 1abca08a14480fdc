"""Training speed and backtest accuracy: Shelfcast beside pmdarima and the seed's statsmodels way.

Part 1 fits, backtests and selects a model for every title of the sample catalogue (its whole
history, or from `data.start_date` when the settings set one) with `fit_titles` on a process
pool, and reports wall time, the selected candidates and mean backtest MASE against the
seasonal-naive baseline.

Part 2 takes five high-volume seasonal titles (the seed's two plus three chosen by rule) and
runs, under the same rolling origins (horizon 32) that Shelfcast's backtest uses:
  - Shelfcast `fit_title` (all candidates, backtest, selection, holdout, final refit);
  - pmdarima `auto_arima(m=52, seasonal=True, D=1, max_p=2, max_q=2, max_P=1, max_Q=1)`;
  - the seed's way: statsmodels SARIMAX (p,1,q)(P,1,Q,52), p, q, P, Q in {0, 1}, lowest AIC.
Each peer fits one title at a time in a child process that is killed at a per-title cap, so
a capped peer reports the origins it finished. Peer results are cached as JSON (--peers-out)
and can be reused without re-running them (--peers-from).

Examples:
    .venv/bin/python benchmarks/training_speed.py --peers-only   # slow: ~40 min (cap 240 s)
    .venv/bin/python benchmarks/training_speed.py --peers-from /tmp/peers.json
    .venv/bin/python benchmarks/training_speed.py --shelfcast-only --limit 50
"""

from __future__ import annotations

# isort: off
import _common  # first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import Table, fmt, fmt_seconds, load_note, machine_line, run_capped

from shelfcast.settings import Settings

DEFAULTS = Settings()  # Shelfcast's defaults: the history start, the seed titles, the fit
HISTORY_START = DEFAULTS.data.start_date
SEED_TITLES = DEFAULTS.selection.default_test_isbns  # The Alchemist, The Very Hungry Caterpillar
PEER_METHODS = ("pmdarima", "statsmodels")
PEER_LABELS = {
    "pmdarima": "pmdarima auto_arima",
    "statsmodels": "statsmodels SARIMAX, the seed's way",
}
PEER_NOTES = {
    "pmdarima": "pmdarima: auto_arima(y, m=52, seasonal=True, D=1, max_p=2, max_q=2, max_P=1, "
    "max_Q=1, suppress_warnings=True, error_action='ignore')",
    "statsmodels": "statsmodels (the seed's way): SARIMAX (p,1,q)(P,1,Q,52), p, q, P, Q in "
    "{0, 1}, lowest AIC of the 16 fits",
}
DEFAULT_CAP = 240.0
DEFAULT_PEERS_JSON = Path("/tmp/peers.json")
PART1_TARGET_S = 120.0
SPEEDUP_TARGET = 20.0


# ------------------------------------------------------------------------------ the catalogue


def since(start: str) -> str:
    return f" since {start}" if start else ""


def load_catalogue(
    seed: int = DEFAULTS.data.sample_seed, start: str = HISTORY_START
) -> tuple[list[Any], int]:
    """Weekly series of the sample catalogue, as a user gets them (written, read, validated),
    and the number of titles in the catalogue (those without sales since `start` have none)."""
    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.sample import write_sample

    with tempfile.TemporaryDirectory(prefix="shelfcast-bench-") as tmp:
        paths = write_sample(tmp, fmt="parquet", seed=seed)
        sales = read_sales([str(p) for p in paths if p.suffix == ".parquet"])
    n_titles = int(sales.frame["isbn"].nunique())
    try:
        from shelfcast.catalog.series import weekly_series
    except ImportError:  # before the catalogue's own builder existed
        series = _weekly_series(sales.frame, start)
    else:
        series = weekly_series(sales, start=start)
    if isinstance(series, dict):
        series = list(series.values())
    return sorted(series, key=lambda s: s.key), n_titles


def _weekly_series(frame: pd.DataFrame, start: str) -> list[Any]:
    """Zero-filled W-SAT series per ISBN from `start` (or the first sale) to the last week."""
    from shelfcast.catalog.series import TitleSeries

    frame = frame[frame["week_ending"] >= pd.Timestamp(start)]
    wide = frame.pivot_table(index="week_ending", columns="isbn", values="volume", aggfunc="sum")
    weeks = pd.date_range(wide.index.min(), wide.index.max(), freq="W-SAT")
    wide = wide.reindex(weeks)
    out = []
    for isbn in wide.columns:
        col = wide[isbn]
        first = col.first_valid_index()
        values = col.loc[first:].fillna(0.0).to_numpy(dtype=float)
        out.append(TitleSeries(key=str(isbn), start=first, values=values))
    return out


def seasonal_strength(values: np.ndarray, m: int = 52) -> float:
    """Lag-m autocorrelation of log volumes around their centred one-year moving average."""
    y = np.log1p(np.asarray(values, dtype=float))
    if len(y) < 3 * m:
        return float("nan")
    trend = np.convolve(y, np.ones(m) / m, mode="valid")  # length n - m + 1
    r = y[m // 2 : m // 2 + len(trend)] - trend
    a, b = r[m:], r[:-m]
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def pick_titles(series: list[Any], n: int) -> list[Any]:
    """The seed's two titles, then the highest-volume titles with full history and clear
    yearly seasonality (lag-52 autocorrelation >= 0.5 around the trend): deterministic."""
    by_key = {s.key: s for s in series}
    chosen = [by_key[k] for k in SEED_TITLES if k in by_key][:n]
    longest = max(len(s) for s in series)
    pool = [s for s in series if s.key not in SEED_TITLES and len(s) == longest]
    seasonal = [s for s in pool if seasonal_strength(s.values) >= 0.5]
    ranked = sorted(seasonal, key=lambda s: (-float(np.sum(s.values)), s.key))
    rest = sorted(pool, key=lambda s: (-float(np.sum(s.values)), s.key))
    for s in ranked + rest:
        if len(chosen) >= n:
            break
        if s not in chosen:
            chosen.append(s)
    return chosen


# -------------------------------------------------------------------------------- part 1


def run_part1(
    series: list[Any], workers: int, config: Any, markdown: Path | None, catalogue: int
) -> None:
    from rich.progress import Progress

    from shelfcast.forecasting import fit_titles

    print(f"Part 1: fitting {len(series)} titles on {workers} workers ...", flush=True)
    load = load_note()
    with Progress(transient=True) as bar:
        task = bar.add_task("fit_titles", total=len(series))
        t0 = time.perf_counter()
        fits, errors = fit_titles(
            series, config, workers=workers, progress=lambda s, f: bar.advance(task)
        )
        wall = time.perf_counter() - t0

    selected = Counter(f.selected for f in fits)
    champ = np.array([f.selected_mase for f in fits], dtype=float)
    naive = np.array([f.baseline_mase for f in fits], dtype=float)
    ok = np.isfinite(champ) & np.isfinite(naive)
    hold_c = np.array(
        [f.holdout.get(f.selected, {}).get("mase", np.nan) for f in fits], dtype=float
    )
    hold_n = np.array([f.holdout.get("snaive", {}).get("mase", np.nan) for f in fits], dtype=float)
    hok = np.isfinite(hold_c) & np.isfinite(hold_n)
    lengths = [len(s) for s in series]
    table = Table(
        title=f"Shelfcast on the sample catalogue ({len(series)} titles{since(HISTORY_START)})",
        columns=["measure", "value"],
        right_align_from=2,
    )
    table.add(
        f"titles in the catalogue / with sales{since(HISTORY_START)} (fitted)",
        f"{catalogue} / {len(series)}",
    )
    table.add("titles fitted / failed", f"{len(fits)} / {len(errors)}")
    table.add("weeks per title", f"{min(lengths)}-{max(lengths)}")
    table.add(
        "backtest",
        f"{config.n_origins} origins x {config.horizon} weeks, then a "
        f"{config.holdout}-week holdout, then a refit on all weeks",
    )
    table.add("workers (processes)", str(workers))
    verdict = "met" if wall <= PART1_TARGET_S else "NOT met"
    table.add("**wall time, all titles**", f"**{fmt_seconds(wall)}** (target <= 120 s: {verdict})")
    table.add("wall time per title (throughput)", fmt_seconds(wall / max(len(series), 1)))
    table.add(
        "fit_title time per title (in a worker): mean / max",
        f"{fmt_seconds(float(np.mean([f.seconds for f in fits])))} / "
        f"{fmt_seconds(float(np.max([f.seconds for f in fits])))}",
    )
    table.add(
        "selected candidates",
        ", ".join(f"{k} {v}" for k, v in selected.most_common()),
    )
    table.add(
        "**mean backtest MASE: selected family vs seasonal naive**",
        f"**{fmt(float(np.mean(champ[ok])))}** vs {fmt(float(np.mean(naive[ok])))}"
        f" ({int(ok.sum())} titles)",
    )
    table.add(
        "median backtest MASE: selected family vs seasonal naive",
        f"{fmt(float(np.median(champ[ok])))} vs {fmt(float(np.median(naive[ok])))}",
    )
    table.add(
        "titles where the selected family beats seasonal naive (backtest)",
        f"{int(np.sum(champ[ok] < naive[ok]))} of {int(ok.sum())}",
    )
    if hok.any():
        table.add(
            f"mean holdout MASE (last {config.holdout} weeks, after selection): selected family vs "
            "seasonal naive",
            f"{fmt(float(np.mean(hold_c[hok])))} vs {fmt(float(np.mean(hold_n[hok])))}"
            f" ({int(hok.sum())} titles)",
        )
    if errors:
        table.notes.append("failed: " + "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:5]))
    table.notes.append(load)
    table.notes.append("measured " + machine_line("statsforecast", "numpy", "scipy"))
    table.print(markdown)


# -------------------------------------------------------------------------------- part 2


def _cpu(record: dict) -> float:
    """CPU seconds of a timed record (wall seconds for records cached before CPU was kept)."""
    return float(record.get("cpu_seconds", record["seconds"]))


def snaive_forecast(train: np.ndarray, horizon: int, m: int = 52) -> np.ndarray:
    idx = len(train) - m + (np.arange(horizon) % m)
    return np.asarray(train, dtype=float)[idx]


def run_peers(
    titles: list[Any],
    origins: dict[str, list[int]],
    methods: list[str],
    horizon: int,
    cap: float,
    out: Path,
) -> dict:
    """Each peer on each title in its own capped child, one at a time; cache after each."""
    from _peers import run_peer

    payload: dict[str, Any] = {
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "machine": machine_line("pmdarima", "statsmodels", "numpy", "scipy"),
        "cap_seconds": cap,
        "horizon": horizon,
        "season_length": 52,
        "history_start": HISTORY_START,
        "titles": [s.key for s in titles],
        "origins": origins,
        "values": {s.key: s.values.tolist() for s in titles},
        "start": {s.key: str(s.start.date()) for s in titles},
        "results": {m: {} for m in methods},
    }
    for s in titles:
        for method in methods:
            print(f"  {method} on {s.key} (cap {cap:.0f} CPU s) ...", flush=True)

            def report(msg: dict, method: str = method) -> None:
                if msg.get("kind") == "origin":
                    print(
                        f"    origin n_train={msg['n_train']}: {msg['seconds']:.1f} s wall, "
                        f"{msg['cpu_seconds']:.1f} s CPU, "
                        f"{msg['order']}, peak {msg['peak_rss_mb']:.0f} MB",
                        flush=True,
                    )

            run = run_capped(
                run_peer, (method, s.values.tolist(), origins[s.key], horizon), cap, report
            )
            done = [m for m in run.messages if m.get("kind") == "origin"]
            imported = [m["seconds"] for m in run.messages if m.get("kind") == "imported"]
            status = "capped" if run.capped else ("failed" if run.failed else "done")
            print(
                f"    -> {status} after {run.seconds:.0f} s wall, {run.cpu_seconds:.0f} s CPU, "
                f"{len(done)} origins",
                flush=True,
            )
            payload["results"][method][s.key] = {
                "status": status,
                "failed": run.failed,
                "cap_seconds": cap,
                "wall_seconds": run.seconds,
                "cpu_seconds": run.cpu_seconds,
                "import_seconds": imported[0] if imported else None,
                "origins": done,
            }
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(payload, indent=1))
    return payload


def run_shelfcast_titles(titles: list[Any], config: Any, cap: float) -> dict[str, dict]:
    """fit_title on each title in one child (measured like the peers, memory included)."""
    from _peers import run_shelfcast

    run = run_capped(run_shelfcast, (titles, config), cap * max(len(titles), 1))
    if run.failed or run.capped:
        raise RuntimeError(f"Shelfcast's fit_title did not finish: {run.failed or 'capped'}")
    return {m["key"]: m for m in run.messages if m.get("kind") == "title"}


def peer_groups(peers: list[dict] | None) -> dict[tuple[str, float], dict[str, dict]]:
    """Peer results by (method, cap) and title; a later file wins for the same cap and title."""
    groups: dict[tuple[str, float], dict[str, dict]] = {}
    for payload in peers or []:
        for method, by_key in payload["results"].items():
            for key, record in by_key.items():
                cap = float(record.get("cap_seconds", payload["cap_seconds"]))
                groups.setdefault((method, cap), {})[key] = record
    return dict(sorted(groups.items(), key=lambda kv: (PEER_METHODS.index(kv[0][0]), kv[0][1])))


def comparison_table(
    titles: list[Any],
    origins: dict[str, list[int]],
    shelfcast: dict[str, dict] | None,
    peers: list[dict] | None,
    horizon: int,
    cap: float,
) -> Table:
    from shelfcast.forecasting.metrics import mase

    values = {s.key: s.values for s in titles}
    dates = {s.key: s.dates for s in titles}
    all_pairs = [(k, n) for k in values for n in origins[k]]

    def actual(k: str, n: int) -> np.ndarray:
        return values[k][n : n + horizon]

    def score(k: str, n: int, fc: np.ndarray) -> float:
        return mase(actual(k, n), np.asarray(fc, dtype=float), values[k][:n], 52)

    def naive_mase(pairs: list[tuple[str, int]]) -> float:
        return float(
            np.mean([score(k, n, snaive_forecast(values[k][:n], horizon)) for k, n in pairs])
        )

    def shelf_mase(pairs: list[tuple[str, int]], candidate: str | None = None) -> float:
        if not shelfcast:
            return float("nan")
        out = []
        for k, n in pairs:
            fit = shelfcast[k]
            name = candidate or fit["selected"]
            origin = dates[k][n - 1]
            rows = [
                r
                for r in fit["backtest"]
                if r["candidate"] == name and pd.Timestamp(r["origin"]) == origin
            ]
            out.append(rows[0]["mase"] if rows else np.nan)
        return float(np.mean(out))

    n_titles = len(titles)
    total_origins = len(all_pairs)
    shelf_time = float(np.mean([_cpu(shelfcast[k]) for k in values])) if shelfcast else float("nan")
    groups = peer_groups(peers)
    caps = sorted({c for _, c in groups}) or [cap]
    table = Table(
        title=(
            f"Fit + rolling-origin backtest per title: {n_titles} seasonal titles, "
            f"{len(next(iter(origins.values())))} origins x {horizon} weeks, cap "
            + " or ".join(f"{c:.0f}" for c in caps)
            + " CPU s per title"
        ),
        columns=[
            "method",
            "titles",
            "origins done",
            "per-title time (CPU)",
            "speed-up of Shelfcast",
            "backtest MASE",
            "Shelfcast MASE, same origins",
            "seasonal-naive MASE, same origins",
        ],
        right_align_from=1,
    )
    if shelfcast:
        champs = Counter(shelfcast[k]["selected"] for k in values)
        table.add(
            "**Shelfcast** fit_title",
            n_titles,
            f"{total_origins}/{total_origins}",
            f"**{fmt_seconds(shelf_time)}**",
            "1x",
            f"**{fmt(shelf_mase(all_pairs))}**",
            fmt(shelf_mase(all_pairs)),
            fmt(naive_mase(all_pairs)),
        )
        if all(any(r["candidate"] == "sarima" for r in shelfcast[k]["backtest"]) for k in values):
            table.add(
                "Shelfcast `sarima` candidate (no selection)",
                n_titles,
                f"{total_origins}/{total_origins}",
                "same run",
                "",
                fmt(shelf_mase(all_pairs, "sarima")),
                fmt(shelf_mase(all_pairs)),
                fmt(naive_mase(all_pairs)),
            )
        table.notes.append(
            "Shelfcast selected families: " + ", ".join(f"{k} {v}" for k, v in champs.most_common())
        )
    several_caps = {m: sum(1 for mm, _ in groups if mm == m) > 1 for m, _ in groups}
    for (method, cap), res in groups.items():
        pairs: list[tuple[str, int]] = []
        per_title, capped, fc_mase = [], 0, []
        for k in values:
            r = res.get(k)
            if r is None:
                continue
            for o in r["origins"]:
                pairs.append((k, o["n_train"]))
                fc_mase.append(score(k, o["n_train"], o["forecast"]))
            if r["status"] == "done":
                per_title.append(sum(_cpu(o) for o in r["origins"]))
            else:
                capped += 1
                per_title.append(cap)  # the group's cap: a lower bound
        if not per_title:
            continue
        mean_time = float(np.mean(per_title))
        prefix = "> " if capped else ""
        speed = mean_time / shelf_time if shelfcast else float("nan")
        titles_cell = f"{len(per_title)}" + (f" ({capped} capped)" if capped else "")
        row_origins = sum(len(origins[k]) for k in values if k in res)
        label = PEER_LABELS.get(method, method)
        if several_caps[method]:
            label += f", cap {cap:.0f} s"
        table.add(
            label,
            titles_cell,
            f"{len(pairs)}/{row_origins}",
            prefix + fmt_seconds(mean_time),
            (prefix + f"{speed:,.0f}x") if np.isfinite(speed) else "n/a",
            fmt(float(np.mean(fc_mase))) if fc_mase else "n/a",
            fmt(shelf_mase(pairs)) if pairs else "n/a",
            fmt(naive_mase(pairs)) if pairs else "n/a",
        )
        fits = [o for k in values if k in res for o in res[k]["origins"]]
        if method in PEER_NOTES and PEER_NOTES[method] not in table.notes:
            table.notes.append(PEER_NOTES[method])
        if fits:
            table.notes.append(
                f"{label}: {fmt_seconds(float(np.mean([_cpu(o) for o in fits])))} CPU "
                f"({fmt_seconds(float(np.mean([o['seconds'] for o in fits])))} wall) per "
                f"completed origin, peak memory {max(o['peak_rss_mb'] for o in fits):,.0f} MB"
                + (
                    f"; Shelfcast `sarima` candidate on the same origins: MASE "
                    f"{fmt(shelf_mase(pairs, 'sarima'))}"
                    if shelfcast
                    else ""
                )
            )
    if shelfcast:
        rss = max(shelfcast[k]["peak_rss_mb"] for k in values)
        wall = float(np.mean([shelfcast[k]["seconds"] for k in values]))
        table.notes.append(
            f"Shelfcast: {fmt_seconds(shelf_time)} CPU ({fmt_seconds(wall)} wall) per title, "
            f"peak memory {rss:,.0f} MB"
        )
        hold = [
            (shelfcast[k]["holdout"].get(shelfcast[k]["selected"], {}).get("mase"),
             shelfcast[k]["holdout"].get("snaive", {}).get("mase"))
            for k in values
        ]  # fmt: skip
        hold = [(c, n) for c, n in hold if c is not None and n is not None]
        if hold:
            table.notes.append(
                "Shelfcast selected family on the last 32 weeks, after selection "
                "(not used to choose): "
                f"MASE {fmt(float(np.mean([c for c, _ in hold])))} vs seasonal naive "
                f"{fmt(float(np.mean([n for _, n in hold])))}"
            )
    table.notes += [
        "titles: " + ", ".join(values),
        "origins (training weeks): "
        + "; ".join(sorted({", ".join(map(str, origins[k])) for k in values})),
        "per-title time: CPU seconds of the fitting process (one thread; = wall time on an idle"
        " core). Shelfcast = one fit_title (all candidates at every origin, holdout, final"
        " refit); peers = their fits at the backtest origins only; '> cap' when stopped at the"
        " cap (CPU time, or 3x the cap in wall time)",
        "MASE: mean over (title, origin) of MAE / in-sample seasonal-naive MAE (m = 52); the "
        "Shelfcast's family is selected on these same origins, the `sarima` row is not",
        "peer forecasts clipped at zero; one fit at a time, each in its own process, "
        "OPENBLAS_NUM_THREADS=1",
    ]
    for machine in dict.fromkeys(p["machine"] for p in peers or []):
        table.notes.append(f"peers measured {machine}")
    table.notes.append("Shelfcast measured " + machine_line("statsforecast", "numpy", "scipy"))
    return table


# ---------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__[__doc__.index("Examples:") :],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parts = p.add_mutually_exclusive_group()
    parts.add_argument(
        "--shelfcast-only",
        action="store_true",
        help="do not run the peers (part 2 shows them only with --peers-from)",
    )
    parts.add_argument(
        "--peers-only",
        action="store_true",
        help="skip part 1 (the whole catalogue); run part 2 and cache the peers' results",
    )
    p.add_argument(
        "--peers-from",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="reuse peer results cached by earlier runs instead of running the peers (several"
        " files: results with another cap are shown as extra rows; a later file wins for the"
        " same peer, cap and title)",
    )
    p.add_argument(
        "--peers-out",
        type=Path,
        default=DEFAULT_PEERS_JSON,
        metavar="JSON",
        help=f"where freshly run peer results are cached ({DEFAULT_PEERS_JSON})",
    )
    p.add_argument(
        "--cap",
        type=float,
        default=DEFAULT_CAP,
        metavar="SECONDS",
        help=f"per-title time cap for each peer ({DEFAULT_CAP:.0f})",
    )
    p.add_argument("--titles", type=int, default=5, metavar="N", help="titles in part 2 (5)")
    p.add_argument(
        "--peers",
        nargs="+",
        choices=PEER_METHODS,
        default=list(PEER_METHODS),
        help="which peers to run (both)",
    )
    p.add_argument("--workers", type=int, default=2, help="fit_titles processes in part 1 (2)")
    p.add_argument("--limit", type=int, metavar="N", help="part 1 on the first N titles only")
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULTS.data.sample_seed,
        help=f"sample catalogue seed ({DEFAULTS.data.sample_seed})",
    )
    p.add_argument(
        "--markdown", type=Path, metavar="DIR", help="also write the tables as .md files here"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _common.exit_on_sigterm()
    from shelfcast.forecasting.backtest import rolling_origins
    from shelfcast.training.run import fit_config

    config = fit_config(DEFAULTS)
    t0 = time.perf_counter()
    series, catalogue = load_catalogue(args.seed)
    print(f"Sample catalogue: {len(series)} titles in {time.perf_counter() - t0:.1f} s", flush=True)
    md = args.markdown

    if not args.peers_only:
        part1 = series[: args.limit] if args.limit else series
        out = md / "training_speed_part1.md" if md else None
        run_part1(part1, args.workers, config, out, catalogue)

    # Part 2: the same titles and origins for everyone.
    peers: list[dict] | None = None
    if args.peers_from:
        peers = [json.loads(path.read_text()) for path in args.peers_from]
        by_key = {s.key: s for s in series}
        keys = list(dict.fromkeys(k for p in peers for k in p["titles"]))
        titles = [by_key[k] for k in keys if k in by_key]
        for path, payload in zip(args.peers_from, peers, strict=True):
            if payload["horizon"] != config.horizon:
                raise SystemExit(f"{path}: horizon {payload['horizon']}, not {config.horizon}")
            for k in payload["titles"]:
                ran_on = np.asarray(payload["values"][k])
                if k not in by_key:
                    print(f"warning: {k} ({path}) is not in the catalogue: left out")
                elif len(ran_on) != len(by_key[k]) or not np.allclose(by_key[k].values, ran_on):
                    print(f"warning: {k} differs from the series {path} was run on")
        cap = max(float(p["cap_seconds"]) for p in peers)
    else:
        titles = pick_titles(series, args.titles)
        cap = args.cap
    holdout = config.holdout
    origins = {
        s.key: rolling_origins(
            len(s) - holdout, config.horizon, config.n_origins, config.season_length + 1
        )
        for s in titles
    }
    for payload in peers or []:
        if any(origins.get(k, v) != v for k, v in payload["origins"].items()):
            print("warning: Shelfcast's origins differ from those the peers were run on")
    print("Part 2 titles: " + ", ".join(f"{s.key} ({len(s)} weeks)" for s in titles), flush=True)

    shelfcast = None
    try:
        shelfcast = run_shelfcast_titles(titles, config, cap)
    except (ImportError, RuntimeError) as exc:
        print(f"Shelfcast part 2 not run: {exc}")
    if peers is None and not args.shelfcast_only:
        print(f"Running peers {args.peers} (results cached in {args.peers_out}) ...", flush=True)
        peers = [run_peers(titles, origins, args.peers, config.horizon, cap, args.peers_out)]
    table = comparison_table(titles, origins, shelfcast, peers, config.horizon, cap)
    table.print(md / "training_speed_part2.md" if md else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
