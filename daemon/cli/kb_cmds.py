"""``aiopsd kb``: the knowledge base — list, show and export articles."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path

import typer

from daemon.cli.output import FORMAT_OPTION, OutputFormat, emit
from daemon.errors import ConfigError, StoreError
from daemon.knowledge import KnowledgeBase, UnknownArticle
from daemon.reports import knowledge_report
from daemon.reports.format import when
from daemon.settings import load_settings
from daemon.store import Store

app = typer.Typer(help="Knowledge: what fixed each kind of problem, and how often it worked.", no_args_is_help=True)
CONFIG_OPTION = typer.Option(None, "--config", "-c", help="YAML settings file (defaults if omitted)")


class ExportFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"


def _knowledge(config: Path | None) -> KnowledgeBase:
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    try:
        store = Store(settings.store_url(), echo=settings.store.echo)
        store.migrate()
    except StoreError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    return KnowledgeBase(store)


@app.command("list")
def list_articles(config: Path | None = CONFIG_OPTION, fmt: OutputFormat = FORMAT_OPTION) -> None:
    """Every article with its most trusted runbook, most recently updated first."""
    articles = _knowledge(config).articles()
    rows = [
        {
            "signature": a.signature,
            "runbook": a.best_runbook.runbook if a.best_runbook else None,
            "confidence": a.best_runbook.mean if a.best_runbook else None,
            "worked": a.best_runbook.successes if a.best_runbook else 0,
            "failed": a.best_runbook.failures if a.best_runbook else 0,
            "problems": a.problems,
            "last_validated": when(a.last_validated) if fmt is OutputFormat.table else a.last_validated,
        }
        for a in articles
    ]
    emit(rows, ["signature", "runbook", "confidence", "worked", "failed", "problems", "last_validated"], fmt)


@app.command("show")
def show(
    signature: str = typer.Argument(..., help="problem signature, e.g. deployment:memory_leak"),
    config: Path | None = CONFIG_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """One article: root cause, runbooks with their confidence interval, and the outcome history."""
    try:
        article = _knowledge(config).article(signature)
    except UnknownArticle as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if fmt is OutputFormat.json:
        typer.echo(article.model_dump_json(indent=2))
    else:
        typer.echo(knowledge_report.article_markdown(article), nl=False)


@app.command("export")
def export(
    config: Path | None = CONFIG_OPTION,
    fmt: ExportFormat = typer.Option(ExportFormat.md, "--format", "-f", help="md, html (self-contained) or json"),
    output: Path | None = typer.Option(None, "--output", "-o", help="write here instead of standard output"),
) -> None:
    """All articles with their history, as one document."""
    kb = _knowledge(config)
    articles = [kb.article(a.signature) for a in kb.articles()]
    now = time.time()
    if fmt is ExportFormat.html:
        text = knowledge_report.render_html(articles, now)
    elif fmt is ExportFormat.json:
        text = knowledge_report.render_json(articles)
    else:
        text = knowledge_report.render_markdown(articles, now)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {len(articles)} articles to {output}", err=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="kb")
