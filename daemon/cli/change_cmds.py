"""``aiopsd change``: score change requests, record outcomes, learn from history, backtest the risk model."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path

import typer

from change_advisor.errors import ChangeAdvisorError
from daemon.cli.output import configure_logging
from daemon.errors import AiopsdError
from daemon.settings import Settings, load_settings
from daemon.store.db import Store

logger = logging.getLogger(__name__)
app = typer.Typer(help="Score change risk for the CAB and learn from outcomes.", no_args_is_help=True)
CONFIG = typer.Option(None, "--config", "-c", help="aiopsd settings YAML (store, calendar); defaults if omitted")


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"


class Result(StrEnum):
    success = "success"
    failed = "failed"
    rolled_back = "rolled-back"


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _open(config: Path | None) -> tuple[Settings, Store]:
    settings = load_settings(config)
    store = Store(settings.store_url(), settings.store.echo)
    store.migrate()
    return settings, store


@app.command("score")
def score(
    request_file: Path = typer.Argument(..., help="change request, YAML or JSON"),
    fmt: ReportFormat = typer.Option(ReportFormat.md, "--format", "-f", help="md, html (self-contained) or json"),
    output: Path = typer.Option(None, "--output", "-o", help="write the report here instead of stdout"),
    config: Path = CONFIG,
    offline: bool = typer.Option(False, help="no store: calendar only, cold-start prior, nothing recorded"),
) -> None:
    """Score REQUEST_FILE: probability of failure, tier, factors, recommendation and conditions."""
    # statsmodels, pandas and matplotlib load only for the commands that need them: `aiopsd` starts fast
    from change_advisor.advisor import ChangeAdvisor
    from change_advisor.context import OfflineContext
    from change_advisor.model import RiskModel
    from change_advisor.report import render
    from change_advisor.request import load_change_request
    from daemon.changes import score_and_record

    configure_logging("WARNING")
    try:
        request = load_change_request(request_file)
        if offline:
            settings = load_settings(config)
            advisor = ChangeAdvisor(RiskModel.prior(), OfflineContext(settings.changes.calendar))
            report = advisor.assess(request)
        else:
            settings, store = _open(config)
            try:
                report = score_and_record(store, settings.changes, request)
            finally:
                store.dispose()
    except (ChangeAdvisorError, AiopsdError) as exc:
        raise _fail(exc) from None
    text = render(report, fmt.value)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"{report.change_id}: p={report.probability:.3f} tier={report.tier} → {output}", err=True)


@app.command("outcome")
def outcome(
    change_id: str = typer.Argument(..., help="id of a scored or imported change"),
    result: Result = typer.Option(..., "--result", help="success, failed or rolled-back"),
    incident: str = typer.Option(None, "--incident", help="the problem (incident) the change caused"),
    config: Path = CONFIG,
    retrain: bool = typer.Option(True, help="retrain the model from the store afterwards"),
) -> None:
    """Record how a change went; the model learns from it."""
    from daemon.changes import ChangeRepository

    try:
        settings, store = _open(config)
        try:
            repository = ChangeRepository(store)
            repository.record_outcome(change_id, result.value, incident)
            model = repository.retrain(settings.changes.model) if retrain else None
        finally:
            store.dispose()
    except (ChangeAdvisorError, AiopsdError) as exc:
        raise _fail(exc) from None
    typer.echo(f"{change_id}: {result.value}" + (f" (incident {incident})" if incident else ""))
    if model is not None:
        typer.echo(f"model: {model.state.kind}, {model.state.rows} outcomes")


@app.command("learn")
def learn(
    history: Path = typer.Argument(..., help="CSV in the JIT schema: _id, date (unix s), bug (0/1), Kamei metrics"),
    config: Path = CONFIG,
) -> None:
    """Import past changes with their outcomes into the store and retrain the model from the store."""
    from change_advisor.backtest import read_history_table
    from change_advisor.features import kamei_table_features
    from daemon.changes import ChangeRepository

    configure_logging("INFO")  # progress of the long steps goes to stderr
    try:
        table = read_history_table(history)
        features = kamei_table_features(table, str(history))
        settings, store = _open(config)
        try:
            repository = ChangeRepository(store)
            count = repository.import_history(
                [str(v) for v in table["_id"]],
                table["date"].to_numpy(dtype=float),
                table["bug"].to_numpy(dtype=float),
                features,
            )
            model = repository.retrain(settings.changes.model)
        finally:
            store.dispose()
    except (ChangeAdvisorError, AiopsdError) as exc:
        raise _fail(exc) from None
    state = model.state
    typer.echo(f"imported {count} changes; model: {state.kind}, {state.rows} outcomes, {state.failures} failed")
    if state.validation is not None:
        v = state.validation
        typer.echo(
            f"validation on the newest {v.rows} outcomes (model of the older ones): ROC AUC {v.roc_auc:.3f}, "
            f"PR AUC {v.pr_auc:.3f}, F1 {v.f1:.3f}, calibration error {v.calibration_error:.3f}"
        )


@app.command("backtest")
def backtest_cmd(
    data: Path = typer.Argument(..., help="CSV in the JIT schema: _id, date (unix s), bug (0/1), Kamei metrics"),
    train_fraction: float = typer.Option(0.8, "--train-fraction", help="oldest share of rows to train on"),
    scores_out: Path = typer.Option(None, "--scores-out", help="write _id,risk of every scored row here"),
) -> None:
    """Order DATA by date, train on the first fraction, score the rest, print ROC AUC, PR AUC, F1, calibration."""
    import math

    from change_advisor.backtest import backtest

    configure_logging("INFO")  # progress of the long steps goes to stderr
    try:
        result = backtest(data, train_fraction)
    except ChangeAdvisorError as exc:
        raise _fail(exc) from None
    if scores_out is None:
        result.scores.to_csv(sys.stdout, index=False, float_format="%.6f")
    else:
        result.scores.to_csv(scores_out, index=False, float_format="%.6f")
    q = result.quality
    lines = [
        f"train rows: {result.train_rows}  scored rows: {q.rows}  failures: {q.failures}",
        f"ROC AUC: {q.roc_auc:.4f}",
        f"PR AUC: {q.pr_auc:.4f}",
        f"F1: {q.f1:.4f} (threshold {q.threshold:.4f})",
        f"calibration error: {q.calibration_error:.4f}",
    ]
    typer.echo("\n".join(lines), err=scores_out is None)
    if not math.isfinite(q.roc_auc):
        typer.echo("warning: the scored rows hold only one outcome class; AUC is undefined", err=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="change")
