"""Plots of the KPI and knowledge reports as inline SVG (matplotlib without pyplot state; no external resources)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from daemon.knowledge import RunbookConfidence
from daemon.kpi.model import CategoryKpi, ConfidenceSummary, WindowKpis

GREEN, BLUE, ORANGE, RED, GREY = "#2e7d32", "#1565c0", "#ef6c00", "#c62828", "#757575"


def _svg(figure: Figure, label: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "aiopsd"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    svg = text[text.index("<svg") :]
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def _week_label(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%m-%d")


def rate_trend(weeks: list[WindowKpis]) -> str:
    """Deflection and auto-resolution rate per week (weeks without resolved problems are gaps)."""
    figure = Figure(figsize=(6.5, 2.8))
    ax = figure.add_subplot()
    xs = list(range(len(weeks)))
    nan = float("nan")
    deflection = [w.deflection_rate if w.deflection_rate is not None else nan for w in weeks]
    auto = [w.auto_resolution_rate if w.auto_resolution_rate is not None else nan for w in weeks]
    ax.plot(xs, deflection, marker="o", color=GREEN, label="deflection rate")
    ax.plot(xs, auto, marker="s", color=BLUE, label="auto-resolution rate")
    ax.set_xticks(xs, [_week_label(w.since) for w in weeks])
    ax.set_xlim(-0.5, len(weeks) - 0.5)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("week starting (UTC)")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("week over week: share of resolutions without people", fontsize=10)
    return _svg(figure, "deflection and auto-resolution rate per week")


def time_trend(weeks: list[WindowKpis]) -> str:
    figure = Figure(figsize=(6.5, 2.8))
    ax = figure.add_subplot()
    xs = list(range(len(weeks)))
    mttd = [(w.mttd_seconds or 0) / 60 for w in weeks]
    mttr = [(w.mttr_seconds or 0) / 60 for w in weeks]
    ax.bar([x - 0.2 for x in xs], mttd, width=0.4, color=ORANGE, label="MTTD")
    ax.bar([x + 0.2 for x in xs], mttr, width=0.4, color=BLUE, label="MTTR")
    ax.set_xticks(xs, [_week_label(w.since) for w in weeks])
    ax.set_ylabel("minutes")
    ax.legend(fontsize=8)
    ax.set_title("mean time to detect and to resolve, per week", fontsize=10)
    return _svg(figure, "MTTD and MTTR per week")


def category_bars(categories: list[CategoryKpi]) -> str:
    shown = [c for c in categories if c.resolved][:12]
    figure = Figure(figsize=(6.5, 0.4 * max(len(shown), 1) + 1.0))
    ax = figure.add_subplot()
    ax.barh([c.category for c in shown], [c.auto_resolution_rate or 0 for c in shown], color=BLUE)
    for i, c in enumerate(shown):
        ax.text(min((c.auto_resolution_rate or 0) + 0.02, 0.9), i, f"{c.auto_resolved}/{c.resolved}", va="center")
    ax.set_xlim(0, 1)
    ax.set_xlabel("auto-resolution rate (resolved problems of the category)")
    return _svg(figure, "auto-resolution rate by category")


def escalation_bars(by_reason: dict[str, int]) -> str:
    items = sorted(by_reason.items(), key=lambda kv: (kv[1], kv[0]))[-12:]
    figure = Figure(figsize=(6.5, 0.4 * max(len(items), 1) + 1.0))
    ax = figure.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items], color=RED)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("escalations")
    return _svg(figure, "escalations by reason")


def confidence_histogram(automated: ConfidenceSummary, escalated: ConfidenceSummary) -> str:
    figure = Figure(figsize=(6.5, 2.6))
    ax = figure.add_subplot()
    centres = [i / 10 + 0.05 for i in range(10)]
    ax.bar([c - 0.02 for c in centres], automated.histogram or [0] * 10, width=0.04, color=GREEN, label="automated")
    ax.bar([c + 0.02 for c in centres], escalated.histogram or [0] * 10, width=0.04, color=RED, label="escalated")
    ax.set_xlim(0, 1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("confidence")
    ax.set_ylabel("decisions")
    ax.legend(fontsize=8)
    return _svg(figure, "confidence distribution, automated versus escalated")


def posterior_bars(runbooks: list[RunbookConfidence]) -> str:
    """Posterior mean of each runbook with its 5–95 % interval."""
    shown = list(reversed(runbooks[:10]))
    figure = Figure(figsize=(6.0, 0.45 * max(len(shown), 1) + 1.0))
    ax = figure.add_subplot()
    means = [r.mean for r in shown]
    low = [r.mean - r.lower(0.05) for r in shown]
    high = [r.lower(0.95) - r.mean for r in shown]
    ax.barh([r.runbook for r in shown], means, xerr=[low, high], color=BLUE, ecolor=GREY, capsize=3)
    ax.set_xlim(0, 1)
    ax.set_xlabel("confidence (Beta posterior mean, 5–95 % interval)")
    return _svg(figure, "runbook confidence")
