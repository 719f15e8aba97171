"""Leader election over a coordination.k8s.io Lease, as client-go's leaderelection does it.

Several replicas run; only the holder of the Lease acts and writes tickets. Expiry is judged on the *local* clock
from the moment a replica last saw the lease record change (never by comparing clocks across machines): a leader
that stops renewing loses the lease ``lease_duration`` after its last renewal was observed. A leader that cannot
renew within ``renew_deadline`` stops acting on its own, before anyone else may take over. Updates carry the
resourceVersion, so two replicas can never both win the same round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from daemon.errors import AiopsdError
from daemon.settings.remediation import LeaderElectionSettings

logger = logging.getLogger(__name__)


class LeaderElectionError(AiopsdError):
    """The Lease cannot be used at all (forbidden, invalid); transient API errors only lose a round."""


@dataclass(frozen=True)
class LeaseTiming:
    lease_duration: float = 15.0  # seconds a silent leader keeps the lease
    renew_deadline: float = 10.0  # seconds a leader may fail to renew before it stops acting
    retry_period: float = 2.0  # seconds between attempts


class LeaseElector:
    def __init__(
        self,
        api_client: client.ApiClient,
        namespace: str,
        name: str,
        identity: str,
        timing: LeaseTiming = LeaseTiming(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = client.CoordinationV1Api(api_client)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.timing = timing
        self.clock = clock
        self._observed: tuple[str | None, str | None, int] | None = None  # holder, renewTime, transitions
        self._observed_at = 0.0
        self._renewed_at: float | None = None

    @property
    def is_leader(self) -> bool:
        """True while this replica holds the lease and renewed it within the renew deadline."""
        return self._renewed_at is not None and self.clock() - self._renewed_at < self.timing.renew_deadline

    def _spec(self, transitions: int, acquire: datetime | None) -> client.V1LeaseSpec:
        now = datetime.now(UTC)
        return client.V1LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=max(1, int(self.timing.lease_duration)),
            acquire_time=acquire or now,
            renew_time=now,
            lease_transitions=transitions,
        )

    def try_acquire_or_renew(self) -> bool:
        """One round: take the lease if free or expired, renew it if ours. Returns whether we lead now."""
        now = self.clock()
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                return self._lost_round(exc)
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace), spec=self._spec(0, None)
            )
            try:
                self.api.create_namespaced_lease(self.namespace, body)
            except ApiException as create_exc:
                return self._lost_round(create_exc)
            return self._won(now, "created the lease")
        spec = lease.spec or client.V1LeaseSpec()
        record = (spec.holder_identity, str(spec.renew_time), int(spec.lease_transitions or 0))
        if record != self._observed:
            self._observed, self._observed_at = record, now
        holder = spec.holder_identity
        if holder and holder != self.identity and now < self._observed_at + self.timing.lease_duration:
            self._renewed_at = None
            return False
        ours = holder == self.identity
        transitions = record[2] if ours else record[2] + 1
        lease.spec = self._spec(transitions, spec.acquire_time if ours else None)
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:
            return self._lost_round(exc)
        return self._won(now, "renewed" if ours else f"took over from {holder or 'nobody'}")

    def _won(self, now: float, how: str) -> bool:
        if self._renewed_at is None:
            logger.info("%s is now the leader (%s)", self.identity, how, extra={"ctx_lease": self.name})
        self._renewed_at = now
        return True

    def _lost_round(self, exc: ApiException) -> bool:
        if exc.status in (401, 403, 422):
            raise LeaderElectionError(
                f"lease {self.namespace}/{self.name}: HTTP {exc.status} {exc.reason}: check the RBAC in deploy/rbac"
            ) from exc
        logger.debug("lease round lost: HTTP %s %s", exc.status, exc.reason)
        return self.is_leader

    def release(self) -> None:
        """Step down at shutdown so another replica takes over at once instead of after the lease duration."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec is not None and lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:
            logger.warning("could not release lease %s/%s: %s", self.namespace, self.name, exc.reason)

    def run(
        self,
        stop: threading.Event,
        on_started: Callable[[], None] = lambda: None,
        on_stopped: Callable[[], None] = lambda: None,
        release: bool = True,
    ) -> None:
        """Compete until ``stop`` is set; call ``on_started`` on winning and ``on_stopped`` on losing the lease.
        With ``release`` the lease is handed back at the end (a clean shutdown)."""
        leading = False
        try:
            while not stop.is_set():
                self.try_acquire_or_renew()
                if self.is_leader and not leading:
                    leading = True
                    on_started()
                elif not self.is_leader and leading:
                    leading = False
                    on_stopped()
                stop.wait(self.timing.retry_period)
        finally:
            if leading:
                on_stopped()
            if release:
                self.release()


def elector_from_settings(section: LeaderElectionSettings, api_client: client.ApiClient, identity: str) -> LeaseElector:
    """The elector configured by ``remediation.leader_election``; ``identity`` names this replica (pod name)."""
    timing = LeaseTiming(
        lease_duration=section.lease_duration.total_seconds(),
        renew_deadline=section.renew_deadline.total_seconds(),
        retry_period=section.retry_period.total_seconds(),
    )
    return LeaseElector(api_client, section.namespace, section.lease_name, identity, timing)
