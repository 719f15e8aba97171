"""What both end-to-end scenarios need: the cached control plane, and settings pointing the daemon at the real
PostgreSQL store and Request Tracker the harness started."""

from __future__ import annotations

from typing import Any

from daemon.devcluster import default_bin_dir, missing_binaries
from tests.harness.common import unavailable
from tests.harness.rt import RTServer


def require_control_plane() -> None:
    missing = missing_binaries(default_bin_dir())
    if missing:
        unavailable("the Kubernetes control plane", f"binaries {missing} not built (make cluster)")


def store_and_tickets(rt_server: RTServer, postgres_url: str) -> dict[str, Any]:
    """Settings overrides: the store on PostgreSQL, tickets in RT."""
    return {
        "store": {"url": postgres_url},
        "tickets": {"system": "rt", "rt": {"url": rt_server.url, "username": rt_server.username,
                                           "password": rt_server.password}},
    }  # fmt: skip
