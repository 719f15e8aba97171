"""The CAB report in three forms: Markdown for people, self-contained HTML with plots, JSON for machines."""

from __future__ import annotations

from importlib.resources import files
from typing import Literal

import jinja2
from markupsafe import Markup

from change_advisor.advisor import RiskReport
from change_advisor.plots import factor_bars, risk_gauge, similar_outcomes

ReportFormat = Literal["md", "html", "json"]


def render_json(report: RiskReport) -> str:
    return report.model_dump_json(indent=2)


def render_markdown(report: RiskReport) -> str:
    r = report
    lines = [
        f"# Change risk: {r.change_id} — {r.title}",
        "",
        f"**Probability of failure: {r.probability:.1%}** · tier **{r.tier}** · recommendation: **{r.recommendation}**",
        "",
        f"- type: {r.type}; author: {r.author}",
        f"- window: {r.window_start.isoformat()} → {r.window_end.isoformat()}",
        f"- targets: {', '.join(r.targets)}",
        f"- model: {r.model_kind}"
        + (f" (trained on {r.model_rows} outcomes)" if r.model_rows else " (cold-start prior)"),
        "",
        "## Conditions",
        "",
        *([f"- {c}" for c in r.conditions] or ["- none"]),
        "",
        "## Top factors",
        "",
        "| factor | value | contribution (log-odds) |",
        "|---|---|---|",
        *[f"| {f.label} | {'-' if f.value is None else f'{f.value:.4g}'} | {f.log_odds:+.2f} |" for f in r.factors],
        "",
        "## Live health of the targets",
        "",
    ]
    if r.health.known:
        lines += [
            f"- anomaly level: {r.health.anomaly_level:.2f} ({r.health.anomalies} anomalies in the last hour)",
            f"- open problems: {', '.join(r.health.open_problems) or 'none'}",
            f"- recent incidents: {', '.join(r.health.recent_incidents) or 'none'}",
        ]
    else:
        lines.append("- unknown (scored without the daemon's store)")
    cal = r.calendar
    lines += [
        "",
        "## Calendar",
        "",
        f"- freeze: {cal.freeze or 'none'}; peak hours: {'yes' if cal.peak_hours else 'no'}; "
        f"weekend: {'yes' if cal.weekend else 'no'}; outside working hours: {'yes' if cal.off_hours else 'no'}",
    ]
    if r.risky_edits:
        lines += ["", "## Risky manifest edits", "", "| edit | object | detail | severity |", "|---|---|---|---|"]
        lines += [f"| {e.kind} | {e.object} | {e.detail} | {e.severity} |" for e in r.risky_edits]
    if r.kamei is not None:
        lines += [
            "",
            "## Change metrics (from git)",
            "",
            ", ".join(f"{k}={v:.4g}" for k, v in r.kamei.model_dump().items()),
        ]
    lines += ["", "## Similar past changes", ""]
    lines += [f"- {c.id} ({c.type}): {c.result} — {c.title}" for c in r.similar] or ["- none recorded"]
    return "\n".join(lines) + "\n"


def render_html(report: RiskReport) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(files("change_advisor").joinpath("templates/report.html.j2").read_text("utf-8"))
    return template.render(
        r=report,
        gauge=Markup(risk_gauge(report.probability)),
        factors_plot=Markup(factor_bars(report.factors)) if report.factors else "",
        similar_plot=Markup(similar_outcomes(report.similar)) if report.similar else "",
    )


def render(report: RiskReport, fmt: ReportFormat) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "md":
        return render_markdown(report)
    return render_html(report)
