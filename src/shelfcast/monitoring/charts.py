"""The report's page: each title's realised MASE beside its backtest expectation, and the
weeks of the alerting titles (actuals against the forecast and its 95% interval)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shelfcast.monitoring.report_types import MonitoringReport

MAX_TITLE_CHARTS = 12


def write_report_page(report: MonitoringReport, path: Path) -> Path | None:
    """Write the page to `path`; None (nothing written) when Plotly is not installed."""
    if importlib.util.find_spec("plotly") is None:
        return None
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from shelfcast.plots import interval_band, write_html

    alerting = list(dict.fromkeys(a.isbn for a in report.alerts))[:MAX_TITLE_CHARTS]
    rows = 1 + len(alerting)
    fig = make_subplots(
        rows=rows,
        cols=1,
        subplot_titles=[
            "Realised MASE against the backtest expectation",
            *(f"{isbn}: actual against forecast" for isbn in alerting),
        ],
        vertical_spacing=0.3 / rows,
    )
    labels = [f"{t['isbn']} {t['title'][:24]}".strip() for t in report.titles]
    for name, key, colour in (
        ("realised", "mase", "#d62728"),
        ("expected (backtest)", "expected_mase", "#7f7f7f"),
    ):
        values = [t.get(key) for t in report.titles]
        fig.add_trace(go.Bar(name=name, x=labels, y=values, marker_color=colour), row=1, col=1)
    for row, isbn in enumerate(alerting, start=2):
        weeks = report.weeks[report.weeks["isbn"] == isbn]
        x = weeks["week_ending"]
        band = interval_band(
            x,
            weeks["lo_95"],
            weeks["hi_95"],
            name="95% interval",
            fillcolor="rgba(31,119,180,0.2)",
            showlegend=False,
        )
        fig.add_trace(band, row=row, col=1)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=weeks["mean"],
                name="forecast",
                line={"color": "#1f77b4"},
                showlegend=row == 2,
            ),
            row=row,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=weeks["actual"],
                name="actual",
                mode="lines+markers",
                line={"color": "black"},
                showlegend=row == 2,
            ),
            row=row,
            col=1,
        )
    fig.update_layout(
        title=f"Shelfcast monitoring report {report.created}: {len(report.alerts)} alert(s)",
        barmode="group",
        height=420 + 300 * len(alerting),
        template="plotly_white",
    )
    return write_html(fig, path)
