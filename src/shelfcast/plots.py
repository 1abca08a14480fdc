"""Interactive Plotly charts of a title: history, backtest forecasts and the forecast."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from shelfcast.catalog.series import weekly_dates
from shelfcast.forecasting.fit import TitleFit

HISTORY_WEEKS = 156
QUANTILE_COLUMN = re.compile(r"p\d+(\.\d+)?")  # as calibration.quantile_column names them


def title_figure(fit: TitleFit, forecast: pd.DataFrame) -> go.Figure:
    """History (last three years), the selected family's backtest forecasts and the forecast
    bands: each interval, and the outermost quantiles (p10-p90) when the forecast has two."""
    history = fit.bundle.history
    recent = history.to_frame().tail(HISTORY_WEEKS)
    fig = go.Figure()
    levels = sorted(int(c[3:]) for c in forecast.columns if c.startswith("lo_"))
    for level in reversed(levels):
        fig.add_trace(
            interval_band(
                forecast["week_ending"],
                forecast[f"lo_{level}"],
                forecast[f"hi_{level}"],
                name=f"{level}% interval",
                fillcolor=f"rgba(31, 119, 180, {0.12 if level == max(levels) else 0.25})",
            )
        )
    quantiles = quantile_columns(forecast)
    if len(quantiles) > 1:
        low, high = quantiles[0], quantiles[-1]
        fig.add_trace(
            interval_band(
                forecast["week_ending"],
                forecast[low],
                forecast[high],
                name=f"{low}-{high}",
                fillcolor="rgba(255, 127, 14, 0.18)",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=recent["week_ending"], y=recent["volume"], name="actual", line={"color": "#333"}
        )
    )
    for origin, fc in sorted(fit.backtest.forecasts.get(fit.selected, {}).items()):
        weeks = weekly_dates(origin, len(fc.mean) + 1)[1:]
        fig.add_trace(
            go.Scatter(
                x=weeks,
                y=fc.mean,
                name=f"backtest from {origin.date()}",
                line={"dash": "dot", "width": 1.5},
            )
        )
    if fit.holdout_forecast is not None:
        held = fit.holdout_forecast.mean
        fig.add_trace(
            go.Scatter(
                x=history.dates[-len(held) :],
                y=held,
                name="holdout forecast",
                line={"dash": "dash", "width": 2, "color": "#d62728"},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=forecast["week_ending"],
            y=forecast["mean"],
            name=f"forecast ({fit.selected})",
            line={"color": "#1f77b4", "width": 2.5},
        )
    )
    label = history.title or history.key
    mase = fit.selected_mase
    fig.update_layout(
        title=f"{label} ({history.key}): {fit.selected}, backtest MASE {mase:.2f} "
        f"vs seasonal naive {fit.baseline_mase:.2f}",
        xaxis_title="week ending",
        yaxis_title="units",
        hovermode="x unified",
        template="plotly_white",
    )
    return fig


def quantile_columns(forecast: pd.DataFrame) -> list[str]:
    """The forecast's quantile columns (`p10`, `p2.5`, ...), lowest quantile first."""
    columns = [str(c) for c in forecast.columns if QUANTILE_COLUMN.fullmatch(str(c))]
    return sorted(columns, key=lambda c: float(c[1:]))


def interval_band(
    x: pd.Series,
    lower: pd.Series,
    upper: pd.Series,
    *,
    name: str,
    fillcolor: str,
    showlegend: bool = True,
) -> go.Scatter:
    """A prediction interval as one filled area between `lower` and `upper`."""
    return go.Scatter(
        x=pd.concat([x, x[::-1]]),
        y=pd.concat([upper, lower[::-1]]),
        fill="toself",
        fillcolor=fillcolor,
        line={"width": 0},
        name=name,
        showlegend=showlegend,
        hoverinfo="skip",
    )


def write_html(fig: go.Figure, path: Path) -> Path:
    """Write a standalone page; plotly.min.js is written once beside it (works offline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs="directory", full_html=True)
    return path
