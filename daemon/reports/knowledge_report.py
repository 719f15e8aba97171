"""Knowledge articles as Markdown (``aiopsd kb export``) and self-contained HTML with each runbook's confidence."""

from __future__ import annotations

import json
from collections.abc import Sequence

from markupsafe import Markup

from daemon.knowledge import PRIOR_ALPHA, PRIOR_BETA, KnowledgeArticle
from daemon.reports import plots
from daemon.reports.format import NONE, pct, when
from daemon.reports.html import html_template, stylesheet

PRIOR_NOTE = (
    f"Confidence is the mean of a Beta posterior: prior Beta({PRIOR_ALPHA:g}, {PRIOR_BETA:g}) plus one per verified "
    "fix (α) and one per failed or rolled-back attempt (β)."
)


def _runbook_line(article: KnowledgeArticle) -> str:
    best = article.best_runbook
    if best is None:
        return "none yet (resolved by people)"
    return f"`{best.runbook}` — confidence {best.mean:.2f} ({best.successes} worked, {best.failures} failed)"


def article_markdown(article: KnowledgeArticle) -> str:
    lines = [
        f"## {article.signature}",
        "",
        f"- **Symptom:** {article.symptom}",
        f"- **Root cause (latest):** {article.root_cause or NONE}",
        f"- **Fix:** {_runbook_line(article)}",
        f"- **Problems learnt from:** {article.problems} ({article.manual_resolutions} resolved by people)",
        f"- **Last validated:** {when(article.last_validated)}",
        f"- **Latest problem:** {article.last_problem_id} — {article.title}",
    ]
    if article.runbooks:
        lines += [
            "",
            "| runbook | confidence | 5 %–95 % | worked | failed | last validated |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.runbook} | {r.mean:.2f} | {r.lower(0.05):.2f}–{r.lower(0.95):.2f} | {r.successes} | {r.failures} "
            f"| {when(r.last_validated)} |"
            for r in article.runbooks
        ]
    if article.history:
        lines += ["", "History (newest first):", ""]
        lines += [
            f"- {when(h.ts)} {h.problem_id}: {h.runbook or 'a person'} → {h.outcome}"
            + (f" on {h.target}" if h.target else "")
            for h in article.history
        ]
    return "\n".join(lines) + "\n"


def render_markdown(articles: Sequence[KnowledgeArticle], generated_at: float) -> str:
    head = ["# aiopsd knowledge base", "", f"{len(articles)} articles · generated {when(generated_at)}", "", PRIOR_NOTE]
    return "\n".join(head) + "\n\n" + "\n".join(article_markdown(a) for a in articles)


def render_json(articles: Sequence[KnowledgeArticle]) -> str:
    return json.dumps([a.model_dump(mode="json") for a in articles], indent=2)


def render_html(articles: Sequence[KnowledgeArticle], generated_at: float) -> str:
    return html_template("knowledge.html.j2").render(
        articles=articles,
        css=stylesheet(),
        generated=when(generated_at),
        prior_note=PRIOR_NOTE,
        when=when,
        pct=pct,
        plots={a.signature: Markup(plots.posterior_bars(a.runbooks)) for a in articles if a.runbooks},
    )
