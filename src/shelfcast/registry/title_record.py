"""What is logged of one title, made from its fit without any MLflow call: the nested run's
params, metrics and tags, the registered version's tags, and its files (a Plotly forecast
page, the backtest table, and the bundle as a pyfunc model folder), ready for one upload.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.entities import Metric

from shelfcast.forecasting.bundle import Bundle
from shelfcast.forecasting.fit import BASELINE, TitleFit
from shelfcast.registry.challenge import holdout_score
from shelfcast.registry.pyfunc import PyfuncWriter
from shelfcast.registry.values import MAX_TAG, fmt, now_ms, number, param_value
from shelfcast.settings import ServingSettings

MODEL_ARTIFACT = "model"
PLOT_ARTIFACT = "forecast.html"
BACKTEST_ARTIFACT = "backtest.csv"


def training_window(bundle: Bundle) -> dict[str, str]:
    h = bundle.history
    return {
        "start": h.start.date().isoformat(),
        "end": h.end.date().isoformat(),
        "weeks": str(len(h)),
    }


def title_params(fit: TitleFit) -> dict[str, str]:
    evaluation = fit.bundle.evaluation
    backtest = evaluation.get("backtest", {})
    params: dict[str, Any] = {
        **{f"model.{k}": v for k, v in fit.bundle.model.params().items()},
        "selected_family": fit.selected,
        "candidates": ",".join(sorted(fit.scores)) or fit.selected,
        "horizon": backtest.get("horizon"),
        "n_origins": len(backtest.get("origins", [])),
        "backtest_origins": ",".join(backtest.get("origins", [])),
        "holdout_weeks": evaluation.get("holdout", {}).get("weeks", 0),
    }
    return {k: param_value(v) for k, v in params.items() if v is not None}


def title_metrics(fit: TitleFit, timestamp: int | None = None) -> list[Metric]:
    """Backtest metrics per origin (step = origin index) and their means per candidate, the
    baseline's means, holdout metrics, and the selected family's headline numbers."""
    ts = now_ms() if timestamp is None else timestamp
    out: list[Metric] = []

    def add(key: str, value: Any, step: int = 0) -> None:
        x = number(value)
        if x is not None:
            out.append(Metric(key, x, ts, step))

    table = fit.backtest.table
    if not table.empty:
        steps = {o: i for i, o in enumerate(sorted(table["origin"].unique()))}
        names = [c for c in table.columns if c not in ("candidate", "origin")]
        for row in table.to_dict("records"):
            for m in names:
                add(f"backtest/{row['candidate']}/{m}", row[m], steps[row["origin"]])
    for candidate, scores in fit.bundle.evaluation.get("backtest", {}).get("mean", {}).items():
        for m, value in (scores or {}).items():
            add(f"backtest_mean/{candidate}/{m}", value)
            if candidate == BASELINE:
                add(f"baseline/{m}", value)
    for candidate, scores in fit.holdout.items():
        for m, value in scores.items():
            add(f"holdout/{candidate}/{m}", value)
    add("backtest_mase", fit.selected_mase)
    add("baseline_mase", fit.baseline_mase)
    add("holdout_mase", holdout_score(fit, fit.selected))
    add("holdout_baseline_mase", holdout_score(fit, BASELINE))
    add("fit_seconds", fit.seconds)
    return out


def title_tags(fit: TitleFit, fingerprint: str) -> dict[str, str]:
    h = fit.bundle.history
    window = training_window(fit.bundle)
    tags = {
        "isbn": fit.key,
        "title": h.title or "",
        "author": h.author or "",
        "model_family": fit.bundle.family,
        "training_start": window["start"],
        "training_end": window["end"],
        "training_weeks": window["weeks"],
        "data_fingerprint": fingerprint,
    }
    if fit.fallback:
        tags["fallback"] = fit.fallback[:MAX_TAG]
    return tags


def version_tags(fit: TitleFit, fingerprint: str, parent_run_id: str) -> dict[str, str]:
    window = training_window(fit.bundle)
    return {
        "isbn": fit.key,
        "title": fit.bundle.history.title or "",
        "model_family": fit.bundle.family,
        "training_window": f"{window['start']}..{window['end']} ({window['weeks']} weeks)",
        "backtest_mase": fmt(fit.selected_mase),
        "baseline_mase": fmt(fit.baseline_mase),
        "holdout_mase": fmt(holdout_score(fit, fit.selected)),
        "data_fingerprint": fingerprint,
        "training_run": parent_run_id,
    }


# ------------------------------------------------------------------------------------ files


@functools.cache
def _plotly_cdn() -> tuple[str, str]:
    """plotly.js on its CDN: the script tag plotly writes, and the same with its SRI hash."""
    import base64
    import hashlib

    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    url = f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"
    digest = hashlib.sha256(get_plotlyjs().encode()).digest()
    sri = "sha256-" + base64.b64encode(digest).decode()
    plain = f'<script charset="utf-8" src="{url}"></script>'
    hashed = f'<script charset="utf-8" src="{url}" integrity="{sri}" crossorigin="anonymous">'
    return plain, hashed + "</script>"


def cdn_html(figure) -> str:
    """`figure.to_html(include_plotlyjs="cdn")`, less plotly's re-hashing of its 4.6 MB
    bundle for the integrity attribute on every call (15 ms a page): hashed once here."""
    plain, with_sri = _plotly_cdn()
    html = figure.to_html(include_plotlyjs=plain.split('"')[3], full_html=True, validate=False)
    return html.replace(plain, with_sri, 1)


def write_title_files(
    fit: TitleFit, folder: Path, writer: PyfuncWriter, serving: ServingSettings
) -> None:
    """forecast.html (the next `serving.horizon` weeks), backtest.csv and the pyfunc model
    folder, ready for one upload."""
    from shelfcast.plots import title_figure

    folder.mkdir(parents=True, exist_ok=True)
    forecast = fit.bundle.forecast(serving.horizon, serving.levels, quantiles=serving.quantiles)
    figure = title_figure(fit, forecast)
    (folder / PLOT_ARTIFACT).write_text(cdn_html(figure))
    table = fit.backtest.table.copy()
    if not table.empty:
        table["origin"] = pd.to_datetime(table["origin"]).dt.strftime("%Y-%m-%d")
    table.to_csv(folder / BACKTEST_ARTIFACT, index=False, float_format="%.6g")
    writer.write(fit.bundle, folder / MODEL_ARTIFACT, artifact_path=MODEL_ARTIFACT)
