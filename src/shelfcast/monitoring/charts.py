"""The report's page: accuracy per demand segment (a table), each title's realised MASE
beside its backtest expectation (its segment and family on hover), and the weeks of the
alerting titles (actuals against the forecast and its 95% interval)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shelfcast.monitoring.report_types import MonitoringReport

MAX_TITLE_CHARTS = 12
SEGMENT_COLUMNS = (  # key, heading, decimals, suffix
    ("segment", "segment", None, ""),
    ("titles", "titles", 0, ""),
    ("weeks", "weeks", 0, ""),
    ("wape", "WAPE", 1, "%"),
    ("mase", "MASE (mean of titles)", 3, ""),
    ("coverage_80", "80% coverage", 0, "%"),
    ("coverage_95", "95% coverage", 0, "%"),
)


def write_report_page(report: MonitoringReport, path: Path) -> Path | None:
    """Write the page to `path`; None (nothing written) when Plotly is not installed."""
    if importlib.util.find_spec("plotly") is None:
        return None
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from shelfcast.plots import interval_band, write_html

    alerting = list(dict.fromkeys(a.isbn for a in report.alerts))[:MAX_TITLE_CHARTS]
    rows = 2 + len(alerting)
    table_height = 100 + 32 * len(report.segments)
    fig = make_subplots(
        rows=rows,
        cols=1,
        specs=[[{"type": "table"}], *([{"type": "xy"}] for _ in range(rows - 1))],
        row_heights=[table_height, 420, *(300 for _ in alerting)],
        subplot_titles=[
            "Accuracy per segment",
            "Realised MASE against the backtest expectation",
            *(f"{isbn}: actual against forecast" for isbn in alerting),
        ],
        vertical_spacing=0.3 / rows,
    )
    fig.add_trace(
        go.Table(
            columnwidth=[2.5, *(1 for _ in SEGMENT_COLUMNS[1:])],
            header={"values": [heading for _, heading, _, _ in SEGMENT_COLUMNS]},
            cells={
                "values": [
                    [_cell(s.get(key), digits, suffix) for s in report.segments]
                    for key, _, digits, suffix in SEGMENT_COLUMNS
                ]
            },
        ),
        row=1,
        col=1,
    )
    labels = [f"{t['isbn']} {t['title'][:24]}".strip() for t in report.titles]
    about = [f"{t['segment']}, {t['model_family']}" for t in report.titles]
    for name, key, colour in (
        ("realised", "mase", "#d62728"),
        ("expected (backtest)", "expected_mase", "#7f7f7f"),
    ):
        values = [t.get(key) for t in report.titles]
        bar = go.Bar(name=name, x=labels, y=values, hovertext=about, marker_color=colour)
        fig.add_trace(bar, row=2, col=1)
    for row, isbn in enumerate(alerting, start=3):
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
                showlegend=row == 3,
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
                showlegend=row == 3,
            ),
            row=row,
            col=1,
        )
    fig.update_layout(
        title=f"Shelfcast monitoring report {report.created}: {len(report.alerts)} alert(s)",
        barmode="group",
        height=table_height + 420 + 300 * len(alerting),
        template="plotly_white",
    )
    return write_html(fig, path)


def _cell(value: Any, digits: int | None, suffix: str) -> str:
    if digits is None:
        return str(value)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:,.{digits}f}{suffix}"
