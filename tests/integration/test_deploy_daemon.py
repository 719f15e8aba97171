"""Two daemons configured exactly as the chart configures its two replicas (the rendered ConfigMap, the image's
environment, the store URL from a mounted secret file) share one real PostgreSQL: both migrate and tick, their
probes answer as the Deployment expects, and every aiopsd metric the alert rules and dashboard use is exposed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.app import Application, build_application
from daemon.settings.loader import load_settings
from tests.deploy.chart import FULL_VALUES, REPO, one, render
from tests.harness.common import free_port

pytestmark = pytest.mark.integration


def _image_environment(dockerfile: Path) -> dict[str, str]:
    """The AIOPSD_* variables the image sets (they override the settings file, as in the container)."""
    text = dockerfile.read_text()
    return dict(re.findall(r"\b(AIOPSD_[A-Z_]+)=(\S+)", text))


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[list[tuple[Application, str]]]:
    rendered = render(FULL_VALUES, tmp=tmp_path)
    settings_file = tmp_path / "aiopsd.yaml"
    settings_file.write_text(one(rendered, "ConfigMap", "-settings")["data"]["aiopsd.yaml"])
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "url").write_text(postgres_url + "\n")
    (secrets / "token").write_text("s3cret-token\n")
    apps: list[tuple[Application, str]] = []
    try:
        for name in ("aiopsd-0", "aiopsd-1"):
            listen = f"127.0.0.1:{free_port()}"
            environ = _image_environment(REPO / "deploy" / "Dockerfile") | {
                # in the pod: /var/lib/aiopsd (emptyDir), /run/secrets/aiopsd/... (Secrets), all interfaces
                "AIOPSD_DAEMON__STATE_DIR": str(tmp_path / name),
                "AIOPSD_DAEMON__LISTEN": listen,
                "AIOPSD_STORE__URL_FILE": str(secrets / "url"),
                "AIOPSD_DAEMON__API_TOKEN_FILE": str(secrets / "token"),
                "AIOPSD_DAEMON__INSTANCE_NAME": name,  # the Deployment's fieldRef metadata.name
            }
            settings = load_settings(settings_file, environ=environ)
            app = build_application(settings)
            apps.append((app, f"http://{listen}"))
            assert app.http is not None
            app.http.start()
        yield apps
    finally:
        for app, _ in apps:
            app.close()


def test_image_environment_is_what_the_chart_expects() -> None:
    env = _image_environment(REPO / "deploy" / "Dockerfile")
    assert env == {"AIOPSD_DAEMON__STATE_DIR": "/var/lib/aiopsd", "AIOPSD_DAEMON__LISTEN": "0.0.0.0:9464"}


def test_two_replicas_share_postgres_and_answer_their_probes(replicas: list[tuple[Application, str]]) -> None:
    for app, url in replicas:
        assert app.store.dialect == "postgresql"
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/readyz").status_code == 503  # no tick yet: kept out of the Service
    for app, url in replicas:
        app.daemon.tick()
        assert httpx.get(f"{url}/readyz").json()["status"] == "ok"
    assert replicas[0][0].store.tables() == replicas[1][0].store.tables()


def test_api_needs_the_token_from_the_secret_file(replicas: list[tuple[Application, str]]) -> None:
    _, url = replicas[0]
    alert: dict[str, Any] = {"version": "4", "status": "firing", "alerts": []}
    assert httpx.post(f"{url}/api/v1/alerts", json=alert).status_code == 401
    authorised = httpx.post(f"{url}/api/v1/alerts", json=alert, headers={"Authorization": "Bearer s3cret-token"})
    assert authorised.status_code < 300


def _referenced_metrics(text: str) -> set[str]:
    names = set(re.findall(r"\baiopsd_[a-z_]+", text))
    return {re.sub(r"_(bucket|total|count|sum)$", "", n) for n in names} - {"aiopsd_kpis"}


def test_every_metric_the_rules_and_dashboard_use_is_exposed(
    replicas: list[tuple[Application, str]], tmp_path: Path
) -> None:
    app, url = replicas[0]
    app.daemon.tick()
    types = re.findall(r"^# TYPE (aiopsd_\w+) ", httpx.get(f"{url}/metrics").text, flags=re.M)
    exposed = _referenced_metrics(" ".join(types))  # counters are typed by their _total name
    chart = REPO / "deploy" / "helm" / "aiopsd"
    referenced = _referenced_metrics((chart / "dashboards" / "aiopsd-kpis.json").read_text())
    referenced |= _referenced_metrics((chart / "templates" / "prometheusrule.yaml").read_text())
    missing = referenced - exposed
    assert not missing, f"referenced but not exposed by the daemon: {sorted(missing)}"
    assert {"aiopsd_ready", "aiopsd_last_tick_timestamp_seconds", "aiopsd_source_up"} <= exposed
