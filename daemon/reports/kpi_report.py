"""The KPI report: Markdown for people, self-contained HTML with plots, JSON for machines."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from markupsafe import Markup

from daemon.kpi.model import KpiReport, WindowKpis
from daemon.reports import plots
from daemon.reports.format import NONE, day, delta, duration, money, pct, when
from daemon.reports.html import html_template, stylesheet

ReportFormat = Literal["md", "html", "json"]


class ReportFormatOption(StrEnum):
    md = "md"
    html = "html"
    json = "json"


# (label, attribute of WindowKpis, kind) of the headline rows
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("Deflection rate", "deflection_rate", "rate"),
    ("Auto-resolution rate", "auto_resolution_rate", "rate"),
    ("MTTD", "mttd_seconds", "seconds"),
    ("MTTR", "mttr_seconds", "seconds"),
    ("Cost per resolution", "cost_per_resolution", "money"),
)


def _value(window: WindowKpis, attribute: str, kind: str, currency: str) -> str:
    value = getattr(window, attribute)
    if kind == "rate":
        return pct(value)
    if kind == "seconds":
        return duration(value)
    return money(value, currency)


def headline(report: KpiReport) -> list[dict[str, str]]:
    """Rows of the headline table: this window's value, last week's and the change from the week before."""
    current = report.weeks[-1] if report.weeks else None
    previous = report.weeks[-2] if len(report.weeks) > 1 else None
    currency = report.cost.currency
    rows = []
    for label, attribute, kind in HEADLINE:
        rows.append(
            {
                "label": label,
                "value": _value(report.summary, attribute, kind, currency),
                "week": _value(current, attribute, kind, currency) if current else NONE,
                "change": delta(
                    getattr(current, attribute) if current else None,
                    getattr(previous, attribute) if previous else None,
                    kind,
                    currency,
                ),
            }
        )
    rows.append(
        {"label": "Knowledge freshness", "value": pct(report.knowledge_freshness), "week": NONE, "change": NONE}
    )
    return rows


def render_json(report: KpiReport) -> str:
    return report.model_dump_json(indent=2)


def render_markdown(report: KpiReport) -> str:
    s, cost = report.summary, report.cost
    lines = [
        "# aiopsd KPI report",
        "",
        f"Window: {when(s.since)} → {when(s.until)} · {s.problems} problems, {s.resolved} resolved, "
        f"{s.escalations} escalations · generated {when(report.generated_at)}",
        "",
        "## Headline",
        "",
        "| KPI | window | last week | change vs week before |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['label']} | {r['value']} | {r['week']} | {r['change']} |" for r in headline(report)]
    lines += ["", "## Auto-resolution by category", "", "| category | problems | resolved | auto-resolved | rate |"]
    lines += ["|---|---|---|---|---|"]
    lines += [
        f"| {c.category} | {c.problems} | {c.resolved} | {c.auto_resolved} | {pct(c.auto_resolution_rate)} |"
        for c in report.categories
    ] or ["| – | 0 | 0 | 0 | – |"]
    lines += ["", "## Escalation patterns", "", "| signature | reason | escalations |", "|---|---|---|"]
    lines += [f"| {p.signature} | {p.reason} | {p.count} |" for p in report.escalation_patterns] or ["| – | – | 0 |"]
    lines += ["", "| signature | problems | escalated | share | top reason |", "|---|---|---|---|---|"]
    lines += [
        f"| {e.signature} | {e.problems} | {e.escalated_problems} | {pct(e.escalation_share)} | {e.top_reason} |"
        for e in report.signature_escalations
    ] or ["| – | 0 | 0 | – | – |"]
    lines += ["", "## Confidence distribution", "", "| decisions | count | mean | p10 | median | p90 |"]
    lines += ["|---|---|---|---|---|---|"]
    for name, c in (("automated", report.confidence_automated), ("escalated", report.confidence_escalated)):
        lines.append(f"| {name} | {c.count} | {_num(c.mean)} | {_num(c.p10)} | {_num(c.p50)} | {_num(c.p90)} |")
    lines += [
        "",
        "## Cost",
        "",
        f"- human: {money(cost.human_cost, cost.currency)}; automation: {money(cost.automation_cost, cost.currency)}; "
        f"total: {money(cost.total_cost, cost.currency)}",
        f"- per resolution: {money(cost.cost_per_resolution, cost.currency)} "
        f"(without automation: {money(cost.cost_per_resolution_without_automation, cost.currency)}); "
        f"saved: {money(cost.savings, cost.currency)}",
        f"- knowledge: {report.knowledge_articles} articles, freshness {pct(report.knowledge_freshness)}",
        "",
        "## Week over week",
        "",
        "| week from | problems | resolved | deflection | auto-resolution | MTTD | MTTR | cost/resolution "
        "| escalations |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {day(w.since)} | {w.problems} | {w.resolved} | {pct(w.deflection_rate)} | {pct(w.auto_resolution_rate)} "
        f"| {duration(w.mttd_seconds)} | {duration(w.mttr_seconds)} | {money(w.cost_per_resolution, cost.currency)} "
        f"| {w.escalations} |"
        for w in report.weeks
    ]
    lines += ["", "## Definitions", ""]
    lines += [f"- **{k}**: {v}" for k, v in report.definitions.items()]
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}"


def render_html(report: KpiReport) -> str:
    template = html_template("kpi.html.j2")
    has_resolved = any(w.resolved for w in report.weeks)
    confidence = report.confidence_automated.count + report.confidence_escalated.count
    return template.render(
        r=report,
        s=report.summary,
        css=stylesheet(),
        headline=headline(report),
        pct=pct,
        duration=duration,
        money=lambda v: money(v, report.cost.currency),
        when=when,
        day=day,
        num=_num,
        rate_plot=Markup(plots.rate_trend(report.weeks)) if has_resolved else "",
        time_plot=Markup(plots.time_trend(report.weeks)) if report.weeks and any(w.problems for w in report.weeks)
        else "",
        category_plot=Markup(plots.category_bars(report.categories)) if any(c.resolved for c in report.categories)
        else "",
        escalation_plot=Markup(plots.escalation_bars(report.escalations_by_reason)) if report.escalations_by_reason
        else "",
        confidence_plot=Markup(plots.confidence_histogram(report.confidence_automated, report.confidence_escalated))
        if confidence else "",
    )  # fmt: skip


def render(report: KpiReport, fmt: ReportFormat) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "md":
        return render_markdown(report)
    return render_html(report)
