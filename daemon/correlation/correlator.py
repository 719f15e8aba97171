"""ProblemCorrelator: anomalies in, problem events out, once per tick.

Grouping: an anomaly joins an active problem whose latest anomaly is within ``group_window`` of it and whose
entities are within ``max_distance`` topology hops (see daemon.topology.graph); if it joins several, they share a
cause and are merged into the oldest. Otherwise it reopens a problem resolved less than ``reopen_window`` ago that it
is near, or opens a new one (linked to the previous problem of the same unit and symptom, if any).

Lifecycle: open → mitigating (remediation said so) → resolved (no anomaly for ``quiet_period``; hysteresis) →
closed (no recurrence within ``reopen_window``). Every change is a `ProblemEvent`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from daemon.correlation.errors import InvalidTransition, UnknownProblem
from daemon.correlation.model import ACTIVE, Member, Problem, anomaly_key, fingerprint_of
from daemon.correlation.ranking import rank_root_causes
from daemon.correlation.repository import MemoryProblemRepository, ProblemRepository
from daemon.domain import Anomaly, ProblemEvent, ProblemEventKind, Severity
from daemon.settings.correlation import CorrelationSettings
from daemon.topology.builders import add_from_entities
from daemon.topology.graph import Topology, anchor_of, kind_of

logger = logging.getLogger(__name__)

NODE_SUSPECT_SHARE = 0.5  # share of a node's pods that must be anomalous for the node to link them
NODE_CONFINED_SHARE = 0.75  # share of a problem's anomalies on one node for it to count as that node's
Details = dict[str, str | float | int | bool | None]


_SHAPE = ("severity", "symptoms", "root_cause", "units")


def _shape(problem: Problem) -> tuple[object, ...]:
    """What a person reading the ticket cares about, in the order of ``_SHAPE``."""
    top = problem.candidates[0].entity if problem.candidates else None
    return problem.severity, frozenset(m.symptom for m in problem.members), top, frozenset(problem.units())


class ProblemCorrelator:
    def __init__(
        self,
        topology: Topology,
        settings: CorrelationSettings | None = None,
        repository: ProblemRepository | None = None,
        tick: float = 15.0,
    ) -> None:
        self.topology = topology
        self.settings = settings or CorrelationSettings()
        self.repository: ProblemRepository = repository or MemoryProblemRepository()
        self.tick = tick
        self._problems: dict[str, Problem] = {}
        self._member_of: dict[str, str] = {}
        self._history: dict[str, tuple[int, str | None]] = {}
        self._gone: dict[str, Problem] = {}  # closed or merged this step, still to be saved
        self.reload()

    def reload(self) -> int:
        """Drop what is held in memory and load the unfinished problems from the repository: at start, and when
        this replica becomes the leader (another replica may have changed them). Returns how many."""
        self._problems.clear()
        self._member_of.clear()
        self._history.clear()
        self._gone.clear()
        for problem in self.repository.load_unfinished():
            self._adopt(problem)
        if self._problems:
            logger.info("loaded %d unfinished problems from the store", len(self._problems))
        return len(self._problems)

    # -- reading --------------------------------------------------------------------------------------------------
    def problems(self) -> list[Problem]:
        """Problems not yet closed, oldest first."""
        return sorted(self._problems.values(), key=lambda p: (p.opened_at, p.id))

    def get(self, problem_id: str) -> Problem:
        try:
            return self._problems[problem_id]
        except KeyError:
            raise UnknownProblem(problem_id) from None

    def problem_of(self, key: str) -> str | None:
        """The unfinished problem holding the anomaly with this `anomaly_key`."""
        return self._member_of.get(key)

    # -- the tick -------------------------------------------------------------------------------------------------
    def observe(self, anomalies: Iterable[Anomaly], now: float) -> list[ProblemEvent]:
        """Correlate this tick's anomalies (possibly none) and advance lifecycles to ``now``."""
        opened: list[str] = []
        reopened: list[str] = []
        touched: dict[str, int] = {}
        merged: list[tuple[str, str]] = []
        fresh = self._new_members(anomalies)
        before = {pid: _shape(p) for pid, p in self._problems.items()} if fresh else {}
        for member, anomaly in fresh:
            problem_id, kind = self._place(member, anomaly.score, now, merged)
            if problem_id is None:
                continue
            if kind == "opened":
                opened.append(problem_id)
            elif kind == "reopened":
                reopened.append(problem_id)
            touched[problem_id] = touched.get(problem_id, 0) + 1
        for problem_id in list(touched):
            self._refresh(self._problems[problem_id], now)
        self._merge_shared_causes(touched, merged)
        events: list[ProblemEvent] = []
        for absorbed, _ in merged:
            self._gone[absorbed] = self._problems.pop(absorbed)
        for absorbed, into in merged:
            while into not in self._problems and into in self._gone:  # merged on into a third problem
                into = self._gone[into].merged_into or into
            gone = self._gone[absorbed]
            events.append(self._event("merged", gone, now, f"merged into {into}: they share a cause", {"into": into}))
            touched.pop(absorbed, None)
            touched.setdefault(into, 0)
        for problem_id, count in touched.items():
            problem = self._problems[problem_id]
            self._refresh(problem, now)
            if problem_id in opened:
                events.append(self._event("opened", problem, now, f"opened: {problem.title}", {"anomalies": count}))
            elif problem_id in reopened:
                msg = f"reopened: recurred {now - (problem.resolved_at or now):.0f}s after resolving"
                problem.resolved_at = None
                events.append(self._event("reopened", problem, now, msg, {"anomalies": count}))
            else:
                # what changed beyond more anomalies (tickets comment on those only)
                changed = [
                    k for k, a, b in zip(_SHAPE, before.get(problem_id, ()), _shape(problem), strict=False) if a != b
                ]
                details: Details = {"anomalies": count, "changed": ",".join(changed)}
                events.append(self._event("updated", problem, now, f"{count} new anomalies", details))
        events.extend(self._advance(now))
        self._save(events, now)
        return events

    def _new_members(self, anomalies: Iterable[Anomaly]) -> list[tuple[Member, Anomaly]]:
        out: list[tuple[Member, Anomaly]] = []
        seen: set[str] = set()
        for anomaly in sorted(anomalies, key=lambda a: a.ts):
            key = anomaly_key(anomaly)
            if key in seen or key in self._member_of or not anomaly.entities:
                continue
            seen.add(key)
            add_from_entities(self.topology, anomaly.entities)
            anchor = anchor_of(anomaly.entities) or ""
            unit = self.topology.unit_of(anchor)
            node = anomaly.entities.get("node") or self.topology.node_of(anchor)
            if kind_of(anchor) == "node":
                node = anchor
            entities = tuple(sorted(set(anomaly.entities.values())))
            symptom = anomaly.symptom or anomaly.query
            out.append(
                (Member(key, anomaly.ts, anchor, unit, node, entities, anomaly.score, symptom, anomaly.query), anomaly)
            )
        return out

    def _place(
        self, member: Member, score: float, now: float, merged: list[tuple[str, str]]
    ) -> tuple[str | None, ProblemEventKind | None]:
        window = self.settings.group_window.total_seconds()
        active = [
            p
            for p in self._problems.values()
            if p.status in ACTIVE and p.merged_into is None and member.ts - p.last_ts <= window
        ]
        hubs = set().union(*(p.hub_anchors() for p in active)) if active else set()
        hubs |= self._suspect_nodes(active, member)
        distances = self.topology.distances(member.related_keys(), self.settings.max_distance, hubs)
        matches = []
        for problem in active:
            near = [distances[k] for k in problem.related_keys() if k in distances]
            if near:
                matches.append((min(near), -problem.last_ts, problem))
        if matches:
            # the nearest, then the most recently active; problems merge only when they share a root cause
            matches.sort(key=lambda m: (m[0], m[1], m[2].id))
            nearest = matches[0][2]
            self._attach(nearest, member, now)
            return nearest.id, None
        reopen_window = self.settings.reopen_window.total_seconds()
        for problem in sorted(self._problems.values(), key=lambda p: -(p.resolved_at or 0)):
            if problem.status != "resolved" or now - (problem.resolved_at or now) > reopen_window:
                continue
            # a recurrence is the same unit (workload, node…) failing again, not a neighbour: an anomaly on a node
            # must not reopen a problem of a workload whose pods merely run there
            if member.unit in problem.units():
                problem.status = "open"
                problem.reopen_count += 1
                self._attach(problem, member, now)
                return problem.id, "reopened"
        if score < self.settings.open_min_score:
            return None, None
        return self._open(member, now).id, "opened"

    def _merge_shared_causes(self, touched: dict[str, int], merged: list[tuple[str, str]]) -> None:
        """Problems whose top root-cause candidate is the same entity are one problem: merge into the oldest."""
        by_cause: dict[str, list[Problem]] = {}
        for problem in self._problems.values():
            if problem.status in ACTIVE and problem.candidates and problem.merged_into is None:
                by_cause.setdefault(problem.candidates[0].entity, []).append(problem)
        for node, group in self._confined_to_suspect_nodes().items():
            by_cause.setdefault(node, []).extend(p for p in group if p not in by_cause.get(node, []))
        for candidates in by_cause.values():
            # a problem can sit in two groups (same top cause, and on a failing node): merge each only once
            group = sorted(
                {p.id: p for p in candidates if p.merged_into is None}.values(), key=lambda p: (p.opened_at, p.id)
            )
            if len(group) < 2 or not any(p.id in touched for p in group):
                continue
            for other in group[1:]:
                self._merge(other, group[0], merged)
                touched.pop(other.id, None)
            touched.setdefault(group[0].id, 0)

    def _confined_to_suspect_nodes(self) -> dict[str, list[Problem]]:
        """Active problems whose anomalies all sit on one node that most of whose pods are anomalous."""
        groups: dict[str, list[Problem]] = {}
        for problem in self._problems.values():
            if problem.status not in ACTIVE or problem.merged_into is not None:
                continue
            counts = Counter(m.node for m in problem.members if m.node)
            if counts:
                node, count = counts.most_common(1)[0]
                if count >= NODE_CONFINED_SHARE * len(problem.members):
                    groups.setdefault(node, []).append(problem)
        active = [p for p in self._problems.values() if p.status in ACTIVE]
        return {
            node: group
            for node, group in groups.items()
            if len(group) >= 2 and self._suspect_nodes(active, next(m for m in group[0].members if m.node == node))
        }

    def _suspect_nodes(self, active: list[Problem], member: Member) -> set[str]:
        """Nodes most of whose pods, of several workloads, are anomalous now: a path through them is a real one."""
        if member.node is None:
            return set()
        window = self.settings.group_window.total_seconds()
        on_node = [m for p in active for m in p.members if m.node == member.node and member.ts - m.ts <= window]
        on_node.append(member)
        if len({m.unit for m in on_node}) < 2:
            return set()
        pods = set(self.topology.related(member.node, "runs_on", "in"))
        anomalous = {m.anchor for m in on_node if m.anchor in pods}
        return {member.node} if pods and len(anomalous) >= NODE_SUSPECT_SHARE * len(pods) else set()

    def _open(self, member: Member, now: float) -> Problem:
        base_key = f"{member.unit}|{member.symptom}"
        count, previous = self._history.get(base_key) or self.repository.history(base_key)
        fingerprint = fingerprint_of(base_key, count)
        problem = Problem(
            id=f"p-{fingerprint[:12]}",
            fingerprint=fingerprint,
            base_key=base_key,
            status="open",
            opened_at=now,
            updated_at=now,
            linked_to=previous,
        )
        self._history[base_key] = (count + 1, problem.id)
        self._problems[problem.id] = problem
        self._attach(problem, member, now)
        logger.info("problem %s opened on %s", problem.id, member.unit, extra={"ctx_problem": problem.id})
        return problem

    def _attach(self, problem: Problem, member: Member, now: float) -> None:
        problem.members.append(member)
        problem.updated_at = now
        self._member_of[member.key] = problem.id

    def _merge(self, absorbed: Problem, into: Problem, merged: list[tuple[str, str]]) -> None:
        for member in absorbed.members:
            self._attach(into, member, into.updated_at)
        absorbed.members = []
        absorbed.merged_into = into.id
        absorbed.status = "closed"
        merged.append((absorbed.id, into.id))
        logger.info("problem %s merged into %s", absorbed.id, into.id, extra={"ctx_problem": into.id})

    def _refresh(self, problem: Problem, now: float) -> None:
        problem.candidates = rank_root_causes(
            problem.members,
            self.topology,
            self.settings.topology.change_window.total_seconds(),
            self.tick,
            self.settings.max_candidates,
        )
        problem.severity = self._severity(problem)
        symptoms = problem.symptoms()
        cause = problem.candidates[0].entity if problem.candidates else problem.base_key.split("|")[0]
        breadth = len(problem.units())
        problem.title = f"{symptoms[0]} at {cause}" + (f" affecting {breadth} units" if breadth > 1 else "")
        problem.updated_at = now

    def _severity(self, problem: Problem) -> Severity:
        breadth = len(problem.units())
        peak = max(m.score for m in problem.members)
        if breadth >= self.settings.critical_breadth or (peak >= self.settings.critical_score and breadth > 1):
            return "critical"
        if breadth == 1 and peak < 0.6:
            return "info"
        return "warning"

    def _advance(self, now: float) -> list[ProblemEvent]:
        quiet = self.settings.quiet_period.total_seconds()
        reopen_window = self.settings.reopen_window.total_seconds()
        events: list[ProblemEvent] = []
        for problem in self.problems():
            if problem.status in ACTIVE and now - problem.last_ts >= quiet:
                problem.status = "resolved"
                problem.resolved_at = now
                problem.updated_at = now
                events.append(self._event("resolved", problem, now, f"no anomaly for {quiet:.0f}s: resolved"))
            elif problem.status == "resolved" and now - (problem.resolved_at or now) > reopen_window:
                events.append(self._close(problem, now, "no recurrence within the reopen window"))
        return events

    def _close(self, problem: Problem, now: float, why: str) -> ProblemEvent:
        problem.status = "closed"
        problem.closed_at = now
        problem.updated_at = now
        self._problems.pop(problem.id, None)
        self._gone[problem.id] = problem
        for member in problem.members:
            self._member_of.pop(member.key, None)
        return self._event("closed", problem, now, f"closed: {why}")

    # -- what remediation and people do ---------------------------------------------------------------------------
    def mark_mitigating(self, problem_id: str, now: float, action: str, details: Details | None = None) -> ProblemEvent:
        """Remediation started ``action`` on this problem: open → mitigating (a resolved one is left as it is)."""
        problem = self.get(problem_id)
        if problem.status == "closed":
            raise InvalidTransition(f"problem {problem_id} is closed; it cannot become mitigating")
        if problem.status == "open":
            problem.status = "mitigating"
        problem.updated_at = now
        event = self._event("mitigating", problem, now, f"mitigating: {action}", {"action": action, **(details or {})})
        self._save([event], now)
        return event

    def record_action(self, problem_id: str, now: float, message: str, details: Details | None = None) -> ProblemEvent:
        """An action's outcome (ran, failed, rolled back) for the problem's timeline."""
        return self._note("action", problem_id, now, message, details)

    def record_verification(self, problem_id: str, now: float, recovered: bool, message: str) -> ProblemEvent:
        """Remediation checked the metrics. Recovery alone does not resolve: the quiet period still applies."""
        return self._note("verified", problem_id, now, message, {"recovered": recovered})

    def escalate(self, problem_id: str, now: float, reason: str, details: Details | None = None) -> ProblemEvent:
        """Automation may not or could not fix it: people must."""
        return self._note("escalated", problem_id, now, reason, details)

    def acknowledge(self, problem_id: str, now: float, by: str) -> ProblemEvent:
        problem = self.get(problem_id)
        problem.acknowledged_by = by
        return self._note("updated", problem_id, now, f"acknowledged by {by}", {"acknowledged_by": by})

    def resolve(self, problem_id: str, now: float, by: str, reason: str = "") -> ProblemEvent:
        """A person says it is over; a recurrence within the reopen window will reopen it."""
        problem = self.get(problem_id)
        if problem.status == "resolved":
            raise InvalidTransition(f"problem {problem_id} is already resolved")
        problem.status = "resolved"
        problem.resolved_at = now
        problem.updated_at = now
        message = f"resolved by {by}" + (f": {reason}" if reason else "")
        event = self._event("resolved", problem, now, message, {"by": by})
        self._save([event], now)
        return event

    def _note(
        self, kind: ProblemEventKind, problem_id: str, now: float, message: str, details: Details | None
    ) -> ProblemEvent:
        problem = self.get(problem_id)
        problem.updated_at = now
        event = self._event(kind, problem, now, message, details)
        self._save([event], now)
        return event

    # -- plumbing -------------------------------------------------------------------------------------------------
    def _event(
        self, kind: ProblemEventKind, problem: Problem, now: float, message: str, details: Details | None = None
    ) -> ProblemEvent:
        return ProblemEvent(kind=kind, problem=problem.snapshot(), ts=now, message=message, details=details or {})

    def _save(self, events: list[ProblemEvent], now: float) -> None:
        if not events:
            return
        ids = {e.problem.id for e in events}
        changed = [self._problems[i] for i in ids if i in self._problems]
        changed += [self._gone.pop(i) for i in ids if i not in self._problems and i in self._gone]
        self.repository.save(changed, events)

    def _adopt(self, problem: Problem) -> None:
        """A problem loaded from the store; its anomalies' relations go back into the topology."""
        self._problems[problem.id] = problem
        for member in problem.members:
            self._member_of[member.key] = problem.id
            add_from_entities(self.topology, {kind_of(k): k for k in member.entities})
