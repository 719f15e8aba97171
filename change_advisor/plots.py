"""Plots of the CAB report as inline SVG (matplotlib, no pyplot state, no external resources)."""

from __future__ import annotations

import io
import math

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Wedge

from change_advisor.context import PastChange
from change_advisor.model import Contribution

_TIER_COLOURS = (("#2e7d32", 0.0, 0.10), ("#f9a825", 0.10, 0.30), ("#ef6c00", 0.30, 0.60), ("#c62828", 0.60, 1.0))


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "aiopsd"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def risk_gauge(probability: float) -> str:
    """A half-dial coloured by tier with a needle at the probability."""
    figure = Figure(figsize=(3.6, 2.1))
    ax = figure.add_subplot()
    for colour, low, high in _TIER_COLOURS:
        ax.add_patch(Wedge((0, 0), 1.0, 180 * (1 - high), 180 * (1 - low), width=0.35, color=colour))
    angle = math.pi * (1 - probability)
    ax.plot([0, 0.9 * math.cos(angle)], [0, 0.9 * math.sin(angle)], color="black", lw=2.5, solid_capstyle="round")
    ax.add_patch(Circle((0, 0), 0.06, color="black"))
    ax.text(0, -0.22, f"{probability:.0%}", ha="center", va="center", fontsize=16, fontweight="bold")
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-0.35, 1.05)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title("probability of failure", fontsize=10)
    return _svg(figure)


def factor_bars(factors: list[Contribution]) -> str:
    shown = list(reversed(factors[:8]))
    figure = Figure(figsize=(6.5, 0.45 * max(len(shown), 1) + 1.0))
    ax = figure.add_subplot()
    ax.barh(
        [f.label for f in shown],
        [f.log_odds for f in shown],
        color=["#c62828" if f.log_odds > 0 else "#2e7d32" for f in shown],
    )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("contribution to the log-odds of failure (vs. a typical change)")
    return _svg(figure)


def similar_outcomes(similar: list[PastChange]) -> str:
    counts = {"success": 0, "failed": 0, "rolled-back": 0}
    for change in similar:
        counts[change.result] += 1
    figure = Figure(figsize=(4.5, 2.2))
    ax = figure.add_subplot()
    ax.bar(list(counts), list(counts.values()), color=["#2e7d32", "#c62828", "#ef6c00"])
    ax.set_ylabel("changes")
    ax.set_title(f"outcomes of {len(similar)} similar past changes", fontsize=10)
    return _svg(figure)
