"""The stage after detection: anomalies (and Alertmanager alerts) become problems, problems drive tickets and
notifications. One ``on_tick`` per daemon tick, with or without anomalies, so quiet periods resolve problems."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Protocol

from daemon.acting import RemediationStage
from daemon.alerts import AlertInbox
from daemon.changes.matching import entity_sets
from daemon.changes.repository import ChangeRepository
from daemon.correlation.correlator import ProblemCorrelator
from daemon.correlation.model import anomaly_key
from daemon.domain import Anomaly, ProblemEvent
from daemon.knowledge import KnowledgeBase
from daemon.metrics import DaemonMetrics
from daemon.problems import commands
from daemon.problems.repository import SqlProblemRepository
from daemon.settings import Settings
from daemon.store import Store
from daemon.store.anomalies import list_anomalies, record_anomalies
from daemon.tickets.service import ProblemTicketing, TicketingReport, build_ticketing
from daemon.topology import Topology
from daemon.topology.builders import InstantQuery, add_from_settings, refresh_request_edges

logger = logging.getLogger(__name__)
EDGE_REFRESH = 300.0  # seconds between refreshes of service dependencies learnt from request metrics


class TopologyFeed(Protocol):
    def apply_pending(self) -> int | None: ...

    def stop(self) -> None: ...


class ProblemStage:
    """Correlation, then tickets. Ticket calls run on one worker thread so a slow ticket system never delays a
    tick; the outbox in the store keeps every update until it is delivered."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        instant_query: InstantQuery | None = None,
        clock: Callable[[], float] = time.time,
        on_events: Callable[[Sequence[ProblemEvent]], None] | None = None,
        metrics: DaemonMetrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.topology = Topology()
        add_from_settings(self.topology, settings.correlation.topology)
        self.repository = SqlProblemRepository(store)
        self.correlator = ProblemCorrelator(
            self.topology,
            settings.correlation,
            self.repository,
            tick=settings.daemon.interval.total_seconds(),
        )
        # alerts still firing are re-offered every bucket: well inside the quiet period, so their problem stays open
        self.inbox = AlertInbox(bucket=min(60.0, settings.correlation.quiet_period.total_seconds() / 3))
        self.knowledge = KnowledgeBase(store)
        self.watcher: TopologyFeed | None = None  # the Kubernetes watch, when configured
        self.ticketing: ProblemTicketing = build_ticketing(settings, store, clock)
        self.instant_query = instant_query
        self.on_events = on_events
        self.writes_enabled = threading.Event()  # only the leader writes tickets; set by the application
        self.writes_enabled.set()
        self._settings = settings
        self.store = store
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aiopsd-tickets")
        self._flush: Future[object] | None = None
        self._edges_at = -1e18
        self._started = False
        self.last_report: TicketingReport | None = None
        self.acting: RemediationStage | None = None  # set by the application when remediation is configured
        # several replicas (leader election): the store is the hand-over. Followers record what they detect and the
        # alerts they receive; the leader correlates, acts and writes tickets, and on taking over reloads the
        # problems and replays what was recorded in the gap (``takeover_window`` seconds back)
        self.shared = False
        self.takeover_window = 0.0
        self._leading = True
        self._seen: dict[str, float] = {}  # anomaly key -> when this leader correlated it (shared mode)

    def on_tick(self, anomalies: Sequence[Anomaly], now: float) -> None:
        if self.watcher is not None:
            self.watcher.apply_pending()
        alerts = self.inbox.drain(now)  # new deliveries, and the alerts still firing
        leading = self.writes_enabled.is_set()
        if self.shared:
            if alerts:
                with self.store.session() as session:
                    record_anomalies(session, alerts, now)  # the leader reads them back, whichever replica got them
            if not leading:
                self._leading = False
                return  # a follower: detection and recording only
            anomalies = self._shared_feed(anomalies, now)
            alerts = []
        if not self._started:
            self._started = True
            self._submit(self.ticketing.start)
        if self.instant_query is not None and now - self._edges_at >= EDGE_REFRESH:
            self._edges_at = now
            refresh_request_edges(self.topology, self._settings.correlation.topology, self.instant_query)
        self.publish(commands.apply_pending(self.store, self.correlator, now))  # a person's ack/resolve first
        events = self.correlator.observe([*anomalies, *alerts], now)
        self.publish(events)
        if self.acting is not None and self.writes_enabled.is_set():
            self.publish(self.acting.collect(now))
            self.publish(self.acting.decide(events, now))
        self._submit(self.ticketing.flush)

    def share(self, takeover_window: float) -> None:
        """Run as one of several replicas: only while ``writes_enabled`` (the leader) correlate, act and write."""
        self.shared, self.takeover_window, self._leading = True, takeover_window, False

    def _shared_feed(self, anomalies: Sequence[Anomaly], now: float) -> list[Anomaly]:
        """The leader's input with several replicas: this tick's anomalies plus what other replicas recorded (alerts
        they received, points they detected first); on taking over also the gap since the previous leader's last
        tick, minus what already belongs to a problem. Each anomaly is offered once."""
        interval = self._settings.daemon.interval.total_seconds()
        since = now - 3 * interval
        if not self._leading:
            self._leading = True
            loaded = self.correlator.reload()
            since = now - self.takeover_window
            self._seen.clear()
            logger.info("leader: %d unfinished problems loaded; replaying anomalies recorded since %.0fs ago",
                        loaded, now - since)  # fmt: skip
            if self.acting is not None:
                self.publish(self.acting.take_over(now))
        with self.store.session() as session:
            recorded = list_anomalies(session, detected_since=since, limit=50_000)
        fresh: dict[str, Anomaly] = {}
        for anomaly in [*anomalies, *recorded]:
            key = anomaly_key(anomaly)
            if key not in self._seen:
                fresh.setdefault(key, anomaly)
        taken = self.repository.assigned(list(fresh))
        for key in fresh:
            self._seen[key] = now
        horizon = now - max(self.takeover_window, 6 * interval)
        self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
        return [a for k, a in fresh.items() if k not in taken]

    def publish(self, events: Sequence[ProblemEvent]) -> None:
        """Hand events to tickets, notifications and the knowledge base (which learns from action outcomes)."""
        for event in events:
            self.ticketing.handle(event)
            self.knowledge.observe(event)
            if event.kind == "opened":
                self._link_changes(event)
        if self.on_events is not None and events:
            self.on_events(events)

    def _link_changes(self, event: ProblemEvent) -> None:
        """A problem that starts on a change's targets soon after it marks that change failed (change learning)."""
        problem = event.problem
        started = datetime.fromtimestamp(problem.opened_at, UTC)
        window = self._settings.changes.link_window
        ChangeRepository(self.store).link_problem(problem.id, entity_sets(problem.entities), started, window)

    def _submit(self, job: Callable[[], object]) -> None:
        if not self.writes_enabled.is_set():
            return
        if self._flush is not None and not self._flush.done():
            return  # the previous flush is still talking to the ticket system
        if self._flush is not None:
            try:
                result = self._flush.result()
            except Exception:  # a flush must never take the loop down; the outbox retries next tick
                logger.exception("ticket flush failed")
            else:
                if isinstance(result, TicketingReport):
                    self._observe(result)
        self._flush = self._flusher.submit(job)

    def settle(self) -> TicketingReport | None:
        """Wait for the ticket flush in flight, then flush once more in this thread (tests, shutdown)."""
        if self._flush is not None:
            self._flush.result()
        if not self.writes_enabled.is_set():
            return None
        report = self.ticketing.flush()
        self._observe(report)
        return report

    def _observe(self, report: TicketingReport) -> None:
        self.last_report = report
        if self.metrics is not None:
            self.metrics.outbox_pending.labels("tickets").set(report.tickets.pending)
            self.metrics.outbox_pending.labels("notifications").set(report.notifications.pending)

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.acting is not None:
            self.acting.close()
        if self._flush is not None:
            self._flush.result()
        if self.writes_enabled.is_set():
            self.last_report = self.ticketing.flush()
        self._flusher.shutdown(wait=True)
