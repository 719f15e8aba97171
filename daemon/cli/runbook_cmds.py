"""``aiopsd runbook`` (list, show, run) and ``aiopsd audit`` (list, verify): the daemon's runbooks in SREs' hands.

Exit codes of ``runbook run`` (``remediations.model.ExitCode``): 0 verified (or a dry run guards would allow),
1 failed, 2 bad input (target, params, policy or settings), 3 refused by a guard (or needs approval, or outside the
allowlist while --execute was asked), 4 rolled back because it did not help.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import typer
import yaml

from daemon.cli.output import FORMAT_OPTION, OutputFormat, emit
from daemon.errors import AiopsdError, ConfigError
from daemon.remediation.journal import StoreActionJournal, StoreAuditLog
from daemon.remediation.wiring import Remediator, build_remediator
from daemon.settings import Settings, load_settings
from daemon.store.db import Store
from remediations.errors import InvalidParams, InvalidTarget, PolicyError, RemediationError, UnknownRunbook
from remediations.model import ActionRecord, ActionStatus, ExitCode, Target, Verdict
from remediations.runbooks import builtin_registry

app = typer.Typer(help="List, inspect and run remediation runbooks.", no_args_is_help=True)
audit_app = typer.Typer(help="Read and check the tamper-evident audit log of actions.", no_args_is_help=True)

CONFIG_OPTION = typer.Option(None, "--config", "-c", help="aiopsd settings YAML (store, policy, kubeconfig)")


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(ExitCode.usage) from None


def _store(settings: Settings) -> Store:
    store = Store(settings.store_url(), echo=settings.store.echo)
    store.migrate()
    return store


@app.command("list")
def list_runbooks(fmt: OutputFormat = FORMAT_OPTION) -> None:
    """Every runbook with the kinds it acts on."""
    rows = [
        {"name": r.name, "kinds": ",".join(sorted(r.kinds)), "disruptive": r.disruptive, "summary": r.summary}
        for r in builtin_registry()
    ]
    emit(rows, ["name", "kinds", "disruptive", "summary"], fmt)


@app.command("show")
def show(name: str = typer.Argument(..., help="runbook name"), fmt: OutputFormat = FORMAT_OPTION) -> None:
    """What a runbook does, its preconditions, verification, rollback and parameters."""
    try:
        info = builtin_registry().get(name).describe()
    except UnknownRunbook as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(ExitCode.usage) from None
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"{info['name']} — {info['summary']}\nacts on: {', '.join(info['kinds'])}")
    typer.echo(f"disruptive: {info['disruptive']}\n\n{info['doc']}\n\nparameters:")
    if not info["params"]:
        typer.echo("  (none)")
    for param, schema in info["params"].items():
        default = f" (default {schema['default']!r})" if "default" in schema else " (required)"
        typer.echo(f"  {param}{default}: {schema.get('description', '')}")


def _params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidParams(f"--param {pair!r}: expected KEY=VALUE, e.g. --param replicas=3")
        params[key] = yaml.safe_load(value) if value else ""
    return params


def _print_record(record: ActionRecord) -> None:
    plan = record.plan
    if plan is not None:
        typer.echo(f"plan: {plan.summary}")
        for change in plan.changes:
            typer.echo(f"  ~ {change.path}: {change.before!r} -> {change.after!r}")
        if plan.impact.scope != "none":
            impact = plan.impact
            typer.echo(
                f"  impact: {impact.touched}/{impact.total} {impact.scope}, healthy after: {impact.healthy_after}"
            )
    if record.decisions:
        typer.echo("guards:")
        for decision in record.decisions:
            mark = {
                Verdict.allow: "ok  ",
                Verdict.deny: "STOP",
                Verdict.dry_run: "dry ",
                Verdict.needs_approval: "ask ",
            }
            typer.echo(f"  [{mark[decision.verdict]}] {decision.guard}: {decision.reason}")


def _build(config: Path | None, policy: Path | None, kubeconfig: Path | None) -> Remediator:
    settings = _settings(config)
    return build_remediator(settings, _store(settings), policy_file=policy, kubeconfig=kubeconfig)


@app.command("run")
def run(
    name: str = typer.Argument(..., help="runbook name (see `aiopsd runbook list`)"),
    target: str = typer.Option(..., "--target", "-t", help="KIND/NAMESPACE/NAME, e.g. deployment/shop/cart"),
    param: list[str] = typer.Option([], "--param", "-p", help="KEY=VALUE, repeatable"),
    execute: bool = typer.Option(False, "--execute/--dry-run", help="act for real (default: dry run)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask before acting; counts as approval"),
    reason: str = typer.Option("run by hand", "--reason", "-r", help="why: recorded in the journal and audit log"),
    policy: Path | None = typer.Option(None, "--policy", help="guard policy YAML (default: settings)"),
    kubeconfig: Path | None = typer.Option(None, "--kubeconfig", help="default: settings, in-cluster, ~/.kube/config"),
    config: Path | None = CONFIG_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Plan, show the diff and guard decisions, then (with --execute) act, wait for the rollout and report.

    Exit codes: 0 verified or dry run, 1 failed, 2 bad input, 3 refused (guard, approval, allowlist, not
    confirmed), 4 rolled back.
    """
    try:
        parsed_target, params = Target.parse(target), _params(param)
        remediator = _build(config, policy, kubeconfig)
        actor = f"user:{getpass.getuser()}"
        executor = remediator.executor
        # a person running it approves by --yes or by confirming below; the daemon never approves itself
        preview = executor.run(name, parsed_target, params, reason, actor, dry_run=True, approved=True)
        if fmt is OutputFormat.table:
            typer.echo(f"policy: {remediator.policy_source}")
            _print_record(preview.record)
        result = preview
        if execute and preview.status is ActionStatus.dry_run:
            forced = [d for d in preview.record.decisions if d.verdict is Verdict.dry_run]
            if forced:
                # a guard (the allowlist) keeps this target to dry runs: asking to execute is refused
                typer.echo(f"refused: {forced[0].guard}: {forced[0].reason} (dry run only)", err=True)
                raise typer.Exit(ExitCode.refused)
            if not yes and not typer.confirm("execute this plan?", default=False):
                typer.echo("not executed", err=True)
                raise typer.Exit(ExitCode.refused)
            result = executor.run(name, parsed_target, params, reason, actor, dry_run=False, approved=True)
    except (InvalidTarget, InvalidParams, UnknownRunbook, PolicyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.usage) from None
    except (RemediationError, AiopsdError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.failed) from None
    record = result.record
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"exit_code": int(result.exit_code), **record.model_dump(mode="json")}, indent=2))
    else:
        if result is not preview:
            typer.echo(f"result: {record.status.value}")
        else:
            typer.echo(f"result: {record.status.value}" + ("" if execute else " (use --execute to act)"))
        if record.verification:
            typer.echo(f"verification: {record.verification}")
        if record.error:
            typer.echo(f"reason: {record.error}")
        typer.echo(f"action: {record.id}")
    raise typer.Exit(int(result.exit_code))


@app.command("history")
def history(
    limit: int = typer.Option(20, "--limit", "-n", help="newest N actions"),
    config: Path | None = CONFIG_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """The newest actions in the journal: who ran what on which target, and how it ended."""
    settings = _settings(config)
    try:
        records = StoreActionJournal(_store(settings)).latest(limit)
    except AiopsdError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.failed) from None
    rows = [
        {
            "id": r.id[:12],
            "runbook": r.runbook,
            "target": str(r.target),
            "actor": r.actor,
            "status": r.status.value,
            "why": r.error or r.verification or r.reason,
        }
        for r in records
    ]
    emit(rows, ["id", "runbook", "target", "actor", "status", "why"], fmt)


def _audit(config: Path | None) -> StoreAuditLog:
    settings = _settings(config)
    try:
        return StoreAuditLog(_store(settings))
    except AiopsdError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.failed) from None


@audit_app.command("verify")
def audit_verify(config: Path | None = CONFIG_OPTION) -> None:
    """Check the hash chain of the audit log: exit 0 when intact, 1 at the first broken entry."""
    report = _audit(config).verify()
    if report.ok:
        typer.echo(f"audit log intact: {report.entries} entries")
        return
    typer.echo(f"audit log BROKEN at entry {report.first_bad_seq}: {report.problem}", err=True)
    raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    action: str | None = typer.Option(None, "--action", help="only this action id"),
    limit: int = typer.Option(50, "--limit", "-n", help="newest N entries"),
    config: Path | None = CONFIG_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Who did what, why, and the outcome."""
    rows = _audit(config).entries(action, limit)
    emit(rows, ["seq", "actor", "event", "runbook", "target", "outcome"], fmt)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="runbook")
    root.add_typer(audit_app, name="audit")
