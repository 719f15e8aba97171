"""The store-backed journal and audit chain on SQLite: idempotency keys, append-only rows, tamper detection."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from daemon.cli.main import app
from daemon.remediation.journal import StoreActionJournal, StoreAuditLog
from daemon.store.db import Store
from remediations.model import ActionRecord, ActionStatus, AuditEntry, Step, Target


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'state' / 'aiopsd.db'}")
    store.migrate()
    return store


def _record(key: str, status: ActionStatus = ActionStatus.running, at: float = 100.0) -> ActionRecord:
    return ActionRecord(
        id=f"id-{key}",
        idempotency_key=key,
        runbook="scale",
        target=Target.parse("deployment/a/b"),
        actor="daemon:x",
        status=status,
        created_at=at,
        updated_at=at,
    )


def test_journal_keeps_one_record_per_idempotency_key(store: Store) -> None:
    journal = StoreActionJournal(store)
    first = journal.record(_record("k1"))
    duplicate = journal.record(_record("k1").model_copy(update={"id": "id-other"}))

    assert duplicate.id == first.id
    assert [r.id for r in journal.unfinished()] == ["id-k1"]
    journal.update(first.model_copy(update={"status": ActionStatus.verified, "step": Step.done}))
    assert journal.unfinished() == []
    assert journal.by_key("k1") is not None and journal.by_key("k1").status is ActionStatus.verified  # type: ignore[union-attr]
    assert [r.id for r in journal.since(50)] == ["id-k1"]
    assert journal.since(150) == []


def _append(audit: StoreAuditLog, n: int) -> None:
    for i in range(n):
        audit.append(
            AuditEntry(
                ts=float(i),
                actor="user:alice",
                event="started",
                action_id=f"a{i}",
                runbook="scale",
                target="deployment/a/b",
                reason="why",
                outcome="ok",
            )
        )


def test_audit_chain_verifies_and_rows_cannot_be_changed(store: Store) -> None:
    audit = StoreAuditLog(store)
    _append(audit, 4)
    assert audit.verify().ok and audit.verify().entries == 4

    db = store.url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE remediation_audit SET actor = 'user:mallory' WHERE seq = 2")
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM remediation_audit WHERE seq = 4")


def test_tampering_is_found_at_the_changed_entry(store: Store) -> None:
    audit = StoreAuditLog(store)
    _append(audit, 5)
    db = store.url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:  # someone with file access drops the trigger and rewrites history
        conn.execute("DROP TRIGGER remediation_audit_no_update")
        conn.execute("UPDATE remediation_audit SET payload = replace(payload, 'alice', 'bob') WHERE seq = 3")

    report = audit.verify()

    assert not report.ok
    assert report.first_bad_seq == 3
    assert "content does not match" in report.problem


def test_audit_verify_cli(store: Store, tmp_path: Path) -> None:
    audit = StoreAuditLog(store)
    _append(audit, 3)
    settings = tmp_path / "aiopsd.yaml"
    settings.write_text(f"daemon:\n  state_dir: {tmp_path / 'state'}\n")
    runner = CliRunner()

    ok = runner.invoke(app, ["audit", "verify", "--config", str(settings)])
    assert ok.exit_code == 0, ok.output
    assert "intact: 3 entries" in ok.output
    listed = runner.invoke(app, ["audit", "list", "--config", str(settings), "-f", "json"])
    assert listed.exit_code == 0 and '"actor": "user:alice"' in listed.output

    with sqlite3.connect(store.url.removeprefix("sqlite:///")) as conn:
        conn.execute("DROP TRIGGER remediation_audit_no_delete")
        conn.execute("DELETE FROM remediation_audit WHERE seq = 2")
    broken = runner.invoke(app, ["audit", "verify", "--config", str(settings)])
    assert broken.exit_code == 1
    assert "BROKEN at entry 3" in broken.output
