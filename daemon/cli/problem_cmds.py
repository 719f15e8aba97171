"""``aiopsd problems`` (list/show/ack/resolve) and ``aiopsd correlate`` (offline evaluation over a scenario)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from daemon.cli.output import FORMAT_OPTION, OutputFormat, emit
from daemon.correlation.errors import CorrelationError
from daemon.correlation.evaluation import replay
from daemon.correlation.scenario import generate_scenario, load_scenario, scenario_json
from daemon.errors import ConfigError
from daemon.problems import SqlProblemRepository, commands
from daemon.settings import Settings, load_settings
from daemon.store import Store

app = typer.Typer(help="Problems: correlated anomalies with their root cause and lifecycle.", no_args_is_help=True)
CONFIG_OPTION = typer.Option(None, "--config", "-c", help="YAML settings file (defaults if omitted)")


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _repository(settings: Settings) -> SqlProblemRepository:
    store = Store(settings.store_url(), echo=settings.store.echo)
    store.migrate()
    return SqlProblemRepository(store)


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts is not None else "-"


@app.command("list")
def list_problems(
    config: Path | None = CONFIG_OPTION,
    status: str | None = typer.Option(None, help="open, mitigating, resolved or closed"),
    limit: int = typer.Option(50, min=1),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Newest problems first, with their top root-cause candidate."""
    if status not in (None, "open", "mitigating", "resolved", "closed"):
        typer.echo(f"--status: expected open, mitigating, resolved or closed, got {status!r}", err=True)
        raise typer.Exit(2)
    snapshots = _repository(_settings(config)).list_snapshots(status, limit)
    rows = [
        {
            "id": s.id,
            "status": s.status,
            "severity": s.severity,
            "opened": _when(s.opened_at) if fmt is OutputFormat.table else s.opened_at,
            "root_cause": s.root_causes[0].entity if s.root_causes else None,
            "confidence": s.root_causes[0].confidence if s.root_causes else None,
            "anomalies": s.anomaly_count,
            "title": s.title,
        }
        for s in snapshots
    ]
    emit(rows, ["id", "status", "severity", "opened", "root_cause", "confidence", "anomalies", "title"], fmt)


@app.command("show")
def show(
    problem: str = typer.Argument(..., help="problem id or fingerprint"),
    config: Path | None = CONFIG_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """The timeline, entities, root-cause candidates with confidence and reasons, and the evidence."""
    repo = _repository(_settings(config))
    snapshot = repo.find(problem)
    if snapshot is None:
        typer.echo(f"no problem with id or fingerprint {problem!r}", err=True)
        raise typer.Exit(1)
    timeline = repo.timeline(snapshot.id)
    members = repo.members(snapshot.id)
    if fmt is OutputFormat.json:
        payload = {
            "problem": snapshot.model_dump(mode="json"),
            "timeline": [{"ts": e.ts, "kind": e.kind, "message": e.message, "details": e.details} for e in timeline],
            "evidence": [m.to_json() for m in members],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    out = [
        f"{snapshot.id}  {snapshot.title}",
        f"  status {snapshot.status}  severity {snapshot.severity}  fingerprint {snapshot.fingerprint}",
        f"  opened {_when(snapshot.opened_at)}  resolved {_when(snapshot.resolved_at)}"
        f"  reopened {snapshot.reopen_count}x" + (f"  follows {snapshot.linked_to}" if snapshot.linked_to else ""),
        "",
        "Root-cause candidates:",
    ]
    for rank, cand in enumerate(snapshot.root_causes, 1):
        out.append(f"  {rank}. {cand.entity}  confidence {cand.confidence:.2f}")
        out.extend(f"       - {reason}" for reason in cand.reasons)
    out += ["", "Entities:", *(f"  {e}" for e in snapshot.entities), "", "Timeline:"]
    out.extend(f"  {_when(e.ts)}  {e.kind:<10} {e.message}" for e in timeline)
    out += ["", f"Evidence ({len(members)} anomalies, first 20):"]
    out.extend(f"  {_when(m.ts)}  {m.anchor}  {m.symptom}  score {m.score:.2f}" for m in members[:20])
    typer.echo("\n".join(out))


WAIT_OPTION = typer.Option(
    30.0, "--wait", min=0, help="seconds to wait for the running daemon to apply it (it stays queued after that)"
)


def _act(problem: str, config: Path | None, action: commands.Action, by: str, reason: str, wait: float) -> None:
    """Queue the request for the daemon (the leader applies it at its next tick, so its problems in memory and the
    ticket follow), then wait for the outcome. Exit 0 applied, 1 rejected, 3 still queued (no daemon running?)."""
    store = _repository(_settings(config)).store
    found = SqlProblemRepository(store).find(problem)
    if found is None:
        typer.echo(f"no problem with id {problem!r} (see `aiopsd problems list`)", err=True)
        raise typer.Exit(1)
    queued = commands.request(store, found.id, action, by, reason)
    done = commands.wait_for(store, queued.id, wait)
    if done.state == "applied":
        typer.echo(f"{problem}: {done.result}")
    elif done.state == "rejected":
        typer.echo(f"{problem}: {done.result}", err=True)
        raise typer.Exit(1)
    else:
        typer.echo(
            f"{problem}: {action} by {by} queued (request {done.id}); the daemon applies it at its next tick — "
            f"none did within {wait:.0f}s: is `aiopsd run` running on this store?"
        )
        raise typer.Exit(3)


@app.command("ack")
def ack(
    problem: str = typer.Argument(..., help="problem id"),
    by: str = typer.Option(..., "--by", help="who acknowledges"),
    config: Path | None = CONFIG_OPTION,
    wait: float = WAIT_OPTION,
) -> None:
    """Acknowledge a problem: someone is on it (on its timeline and its ticket). Applied by the running daemon;
    exit 0 applied, 1 rejected, 3 still queued."""
    _act(problem, config, "ack", by, "", wait)


@app.command("resolve")
def resolve(
    problem: str = typer.Argument(..., help="problem id"),
    by: str = typer.Option(..., "--by", help="who resolves"),
    reason: str = typer.Option("", help="why it is over"),
    config: Path | None = CONFIG_OPTION,
    wait: float = WAIT_OPTION,
) -> None:
    """Resolve a problem by hand (its ticket follows); a recurrence within the reopen window reopens it. Applied by
    the running daemon; exit 0 applied, 1 rejected, 3 still queued."""
    _act(problem, config, "resolve", by, reason, wait)


def correlate(
    scenario: Path = typer.Argument(..., help="scenario JSON (see `aiopsd generate-scenario`)"),
    config: Path | None = CONFIG_OPTION,
    output: Path | None = typer.Option(None, "--output", "-o", help="write JSON here instead of stdout"),
) -> None:
    """Replay a scenario tick by tick: problems with root-cause candidates as JSON (and scores if it has truth)."""
    settings = _settings(config)
    try:
        loaded = load_scenario(scenario)
    except CorrelationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"replaying {len(loaded.anomalies)} anomalies from {scenario}", err=True)
    text = json.dumps(replay(loaded, settings.correlation).to_json(), indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


def generate(
    output: Path = typer.Argument(..., help="where to write the scenario JSON"),
    services: int = typer.Option(40, min=3, max=2000),
    incidents: int = typer.Option(3, min=0, max=100),
    background: int = typer.Option(5, min=0),
    seed: int = typer.Option(0),
) -> None:
    """Generate a scenario with known root causes: a service graph, injected faults, propagation and noise."""
    scenario = generate_scenario(services=services, incidents=incidents, background=background, seed=seed)
    output.write_text(json.dumps(scenario_json(scenario)) + "\n", encoding="utf-8")
    typer.echo(f"wrote {output}: {len(scenario.anomalies)} anomalies", err=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="problems")
    root.command("correlate")(correlate)
    root.command("generate-scenario")(generate)
