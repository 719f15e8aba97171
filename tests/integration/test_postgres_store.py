"""The store on a real PostgreSQL server (tests/harness/postgres.py): it migrates to every Alembic head and the
repositories behave as on SQLite. Store-level tests of other modules run here unchanged against PostgreSQL (imported
below; the `store` fixture of this module gives them a PostgreSQL store), plus focused tests of what differs."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError

from change_advisor.request import load_change_request
from daemon.alerts import to_anomalies, validate_payload
from daemon.changes import score_and_record
from daemon.changes.models import ChangeRequestRow
from daemon.correlation import ProblemCorrelator
from daemon.domain import Anomaly
from daemon.errors import InputError
from daemon.problems import SqlProblemRepository
from daemon.remediation.journal import StoreAuditLog
from daemon.settings.changes import ChangeAdvisorSettings
from daemon.store.anomalies import list_anomalies, log_run, recent_runs, record_anomalies
from daemon.store.db import MIGRATIONS, Store
from tests.daemon.correlation.factory import T0, TICK, anomaly, shop
from tests.daemon.correlation.test_correlator import SETTINGS

# Store-level tests of other modules, collected here again with this module's PostgreSQL `store` fixture.
from tests.daemon.test_change_store import (
    EXAMPLES as CHANGE_EXAMPLES,
)
from tests.daemon.test_change_store import (  # noqa: F401
    NOW,
    test_learn_is_all_or_nothing_and_replaces_by_id,
    test_live_health_and_similar_changes_from_the_store,
    test_problem_on_targets_soon_after_a_change_is_linked,
)
from tests.daemon.tickets.helpers import Clock
from tests.daemon.tickets.test_manager import (  # noqa: F401
    test_a_call_whose_answer_was_lost_is_not_repeated,
    test_a_crash_right_after_a_comment_landed_does_not_repeat_it_after_restart,
    test_a_refused_call_is_given_up_after_max_rejections_and_later_calls_go_on,
    test_crash_between_ticket_created_and_mapping_saved_reconciles_by_fingerprint,
    test_escalation_sets_priority_queue_and_assignee,
    test_flapping_problem_that_resolves_before_confirmation_never_gets_a_ticket,
    test_recurrence_reopens_the_same_ticket,
    test_story_of_a_problem_is_one_ticket_with_a_comment_per_event_resolved_at_the_end,
    test_system_down_queues_everything_and_flushes_in_order_with_backoff_when_back,
)
from tests.remediations.test_audit_store import _append, test_journal_keeps_one_record_per_idempotency_key  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
def store(postgres_url: str) -> Store:
    store = Store(postgres_url)
    store.migrate()
    yield store  # type: ignore[misc]
    store.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _heads() -> set[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return set(ScriptDirectory.from_config(cfg).get_heads())


def test_store_migrates_to_every_head_with_the_same_tables_as_sqlite(store: Store, tmp_path: Path) -> None:
    assert store.dialect == "postgresql"
    with store.engine.connect() as conn:
        applied = set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    assert applied == _heads() and len(applied) >= 2
    lite = Store(f"sqlite:///{tmp_path / 'aiopsd.db'}")
    lite.migrate()
    assert store.tables() == lite.tables()
    store.migrate()  # a second daemon starting on a migrated database changes nothing
    assert store.tables() == lite.tables()


def _anomalies(n: int, ts: float = T0) -> list[Anomaly]:
    return [
        Anomaly(
            source="prom",
            query="latency",
            series_key=f"s{i}",
            labels={"pod": f"cart-{i}"},
            ts=ts,
            value=float(i),
            entities={"namespace": "shop", "pod": f"cart-{i}"},
            score=0.9,
            direction=1,
            detector="novelty",
            kind="point",
        )
        for i in range(n)
    ]


def test_anomalies_already_recorded_are_left_alone(store: Store) -> None:
    with store.session() as session:
        assert record_anomalies(session, _anomalies(3)) == 3
    with store.session() as session:
        assert record_anomalies(session, _anomalies(5)) == 2
        assert record_anomalies(session, []) == 0
    with store.session() as session:
        found = list_anomalies(session, since=T0 - 1)
    assert sorted(a.series_key for a in found) == ["s0", "s1", "s2", "s3", "s4"]
    assert found[0].entities["namespace"] == "shop"


def test_problems_survive_a_restart_on_postgres(store: Store) -> None:
    first = ProblemCorrelator(shop(), SETTINGS, SqlProblemRepository(store), tick=TICK)
    a, b = anomaly("redis-0", T0), anomaly("cart-def34-ccccc", T0 + TICK)
    (opened,) = first.observe([a], T0)
    first.observe([b], T0 + TICK)

    second = ProblemCorrelator(shop(), SETTINGS, SqlProblemRepository(store), tick=TICK)
    (problem,) = second.problems()
    assert (problem.id, problem.fingerprint) == (opened.problem.id, opened.problem.fingerprint)
    assert problem.snapshot().anomaly_count == 2
    assert second.observe([a, b], T0 + 2 * TICK) == []
    second.observe([], T0 + 600)
    second.observe([], T0 + 3 * 3600)
    repo = SqlProblemRepository(store)
    assert [e.kind for e in repo.timeline(opened.problem.id)] == ["opened", "updated", "resolved", "closed"]


def test_a_problem_of_a_workload_with_the_longest_names_kubernetes_allows_is_stored(store: Store) -> None:
    # a Deployment name may have 253 characters and its namespace 63: the problem's base key is longer than 300
    namespace, name = "n" * 63, "d" * 253
    pod = f"{name}-7c9d8-abcde"
    long_one = Anomaly(
        source="prom", query="memory", series_key="k1", labels={"pod": pod},
        entities={"pod": f"pod/{namespace}/{pod}", "deployment": f"deployment/{namespace}/{name}"},
        ts=T0, value=2.0, score=0.99, expected=1.0, direction=1, detector="t", symptom="memory_working_set",
    )  # fmt: skip
    correlator = ProblemCorrelator(shop(), SETTINGS, SqlProblemRepository(store), tick=TICK)
    (opened,) = correlator.observe([long_one], T0)
    assert len(correlator.get(opened.problem.id).base_key) > 300
    again = ProblemCorrelator(shop(), SETTINGS, SqlProblemRepository(store), tick=TICK)
    assert [p.id for p in again.problems()] == [opened.problem.id]


def test_audit_log_is_append_only_in_postgres(store: Store) -> None:
    audit = StoreAuditLog(store)
    _append(audit, 4)
    assert audit.verify().ok and audit.verify().entries == 4
    for statement in (
        "UPDATE remediation_audit SET actor = 'user:mallory' WHERE seq = 2",
        "DELETE FROM remediation_audit WHERE seq = 4",
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert audit.verify().ok and audit.verify().entries == 4


def test_tampering_with_the_trigger_dropped_is_found_at_the_changed_entry(store: Store) -> None:
    audit = StoreAuditLog(store)
    _append(audit, 5)
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER remediation_audit_append_only ON remediation_audit"))
        conn.execute(sa.text("UPDATE remediation_audit SET payload = replace(payload, 'alice', 'bob') WHERE seq = 3"))
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 3


def test_long_alert_names_are_stored_as_on_sqlite(store: Store) -> None:
    """PostgreSQL enforces VARCHAR lengths that SQLite ignores: an Alertmanager alert with a long name (or symptom
    label) must still be recorded."""
    name = "KubePersistentVolumeFillingUpPredictedWithinFourDaysOnTheShopCheckoutDatabaseVolume"
    assert len(name) > 64
    payload = validate_payload(
        {
            "version": "4",
            "status": "firing",
            "receiver": "aiopsd",
            "groupKey": "g",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": name, "namespace": "shop", "pod": "db-0", "severity": "critical"},
                    "annotations": {},
                    "startsAt": "2026-03-03T09:00:00Z",
                    "fingerprint": "0123456789abcdef",
                }
            ],
        }
    )
    anomalies = to_anomalies(payload, received_at=T0)
    with store.session() as session:
        assert record_anomalies(session, anomalies) == 1
    with store.session() as session:
        [stored] = list_anomalies(session)
    assert stored.query == name[:64] and stored.symptom == name[:64]


def test_change_requests_with_long_fields_are_stored_or_refused_clearly(store: Store) -> None:
    request = load_change_request(CHANGE_EXAMPLES / "deploy-checkout.yaml")
    long_author = request.model_copy(update={"author": "Platform Team <" + "platform-team" * 20 + "@example.com>"})
    report = score_and_record(store, ChangeAdvisorSettings(), long_author, clock=lambda: NOW)
    assert report.probability >= 0
    with store.session() as session:
        assert session.get(ChangeRequestRow, request.id).author == long_author.author[:200]  # type: ignore[union-attr]
    long_id = request.model_copy(update={"id": "CHG-" + "9" * 70})
    with pytest.raises(InputError, match="64 characters"):
        score_and_record(store, ChangeAdvisorSettings(), long_id, clock=lambda: NOW)


def test_run_log_of_a_daemon_with_a_long_instance_name(store: Store) -> None:
    name = "aiopsd-" + "replica" * 12
    with store.session() as session:
        log_run(
            session,
            kind="tick",
            instance=name,
            started_at=T0,
            finished_at=T0 + 1,
            series=1,
            points=1,
            anomalies=0,
            sources={},
            error=None,
        )
    with store.session() as session:
        [run] = recent_runs(session)
    assert run.instance == name[:64]
