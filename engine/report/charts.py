"""Charts of a report, made with plotly (the page embeds plotly.js once, inline).

Each function takes aggregates (never rows) and returns a :class:`Chart`: a title, a
note (e.g. that the numbers come from a sample) and the figure as plotly JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import plotly.io

__all__ = [
    "Chart",
    "bar_chart",
    "histogram_chart",
    "merged_share_chart",
    "stacked_bar_chart",
]

_LAYOUT = {
    "template": "plotly_white",
    "height": 340,
    "margin": {"l": 60, "r": 20, "t": 30, "b": 60},
    "legend": {"orientation": "h", "y": -0.25},
}
_COLORS = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6")


@dataclass(frozen=True)
class Chart:
    """One chart: ``figure_json`` is plotly's JSON of the figure (data and layout)."""

    title: str
    figure_json: str
    note: str = ""


def _chart(title: str, figure: go.Figure, note: str, **layout) -> Chart:
    figure.update_layout(**{**_LAYOUT, **layout})
    return Chart(title, plotly.io.to_json(figure, validate=False), note)


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    x_title: str = "",
    y_title: str = "",
    horizontal: bool = False,
    note: str = "",
    text: Sequence[str] | None = None,
) -> Chart:
    """Bars of ``values`` (float) per label (str)."""
    labels = [str(label) for label in labels]
    values = [float(value) for value in values]
    if horizontal:
        bar = go.Bar(y=labels, x=values, orientation="h", marker_color=_COLORS[0], text=text)
        return _chart(
            title,
            go.Figure(bar),
            note,
            xaxis_title=y_title,
            yaxis_title=x_title,
            yaxis={"automargin": True, "autorange": "reversed"},
            height=max(260, 40 + 26 * len(labels)),
        )
    bar = go.Bar(x=labels, y=values, marker_color=_COLORS[0], text=text)
    return _chart(
        title,
        go.Figure(bar),
        note,
        xaxis={"title": x_title, "type": "category"},
        yaxis_title=y_title,
    )


def stacked_bar_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    y_title: str = "",
    note: str = "",
) -> Chart:
    """Horizontal stacked bars: one bar per label, one segment per series."""
    labels = [str(label) for label in labels]
    figure = go.Figure(
        [
            go.Bar(
                y=labels,
                x=[float(v) for v in values],
                name=name,
                orientation="h",
                marker_color=_COLORS[index % len(_COLORS)],
            )
            for index, (name, values) in enumerate(series.items())
        ]
    )
    return _chart(
        title,
        figure,
        note,
        barmode="stack",
        xaxis_title=y_title,
        yaxis={"automargin": True, "autorange": "reversed"},
        height=max(260, 80 + 26 * len(labels)),
    )


def histogram_chart(
    title: str,
    edges: np.ndarray,
    counts: dict[str, np.ndarray],
    *,
    x_title: str,
    y_title: str = "count",
    log_y: bool = False,
    log_x: bool = False,
    note: str = "",
    vline: float | None = None,
) -> Chart:
    """Pre-binned histograms (one trace per series) as bars over bin centres.

    ``edges``: float64 (bins + 1,) bin edges; ``counts``: series name -> int64 (bins,).
    ``vline``: an x value marked with a dashed line (e.g. the threshold). ``log_x``: a
    logarithmic x axis (for log-spaced bins; bars then touch).
    """
    edges = np.asarray(edges, dtype=np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    widths = np.diff(edges)
    figure = go.Figure(
        [
            go.Bar(
                x=centres.tolist(),
                y=np.asarray(values).tolist(),
                width=None if log_x else widths.tolist(),
                name=name,
                marker_color=_COLORS[index % len(_COLORS)],
                opacity=0.8,
            )
            for index, (name, values) in enumerate(counts.items())
        ]
    )
    if vline is not None:
        figure.add_vline(x=float(vline), line_dash="dash", line_color="#444")
    layout = {"xaxis_title": x_title, "yaxis_title": y_title, "barmode": "overlay"}
    if log_y:
        layout["yaxis_type"] = "log"
    if log_x:
        layout.update(xaxis_type="log", bargap=0)
    return _chart(title, figure, note, **layout)


def merged_share_chart(
    title: str,
    edges: np.ndarray,
    pairs: np.ndarray,
    merged: np.ndarray,
    *,
    x_title: str,
    threshold: float | None,
    note: str = "",
) -> Chart:
    """Pairs per similarity band (bars) and the share of them merged (line, right axis).

    ``edges``: float64 (bins + 1,); ``pairs``, ``merged``: int64 (bins,) counts.
    """
    edges = np.asarray(edges, dtype=np.float64)
    centres = ((edges[:-1] + edges[1:]) / 2).tolist()
    pairs = np.asarray(pairs, dtype=np.int64)
    share = np.where(pairs > 0, np.asarray(merged) / np.maximum(pairs, 1), np.nan)
    figure = go.Figure(
        [
            go.Bar(
                x=centres,
                y=pairs.tolist(),
                width=np.diff(edges).tolist(),
                name="pairs",
                marker_color=_COLORS[0],
                opacity=0.6,
            ),
            go.Scatter(
                x=centres,
                y=[None if np.isnan(v) else float(v) for v in share],
                name="share merged",
                yaxis="y2",
                mode="lines+markers",
                line={"color": _COLORS[1]},
            ),
        ]
    )
    if threshold is not None:
        figure.add_vline(x=float(threshold), line_dash="dash", line_color="#444")
    return _chart(
        title,
        figure,
        note,
        xaxis_title=x_title,
        yaxis_title="pairs",
        yaxis2={
            "title": "share merged",
            "overlaying": "y",
            "side": "right",
            "range": [0, 1.05],
            "tickvals": [0, 0.25, 0.5, 0.75, 1.0],
            "tickformat": ".0%",
            "showgrid": False,
        },
    )


def figure_data(chart: Chart) -> dict:
    """The chart's figure as a dict (tests and the page read it back)."""
    return json.loads(chart.figure_json)
