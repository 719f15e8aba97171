"""``aiopsd runbook run`` against the real control plane: plan, guards, result, and distinct exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from typer.testing import CliRunner

from daemon.cli.main import app
from tests.harness.cluster import ControlPlane
from tests.remediations.kubefixtures import OPEN_POLICY, create_ready_deployment, deployment

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api_client:
        yield api_client


@pytest.fixture
def settings(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Path:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        yaml.safe_dump(
            {**OPEN_POLICY, "allow": [{"namespaces": [namespace], "selector": {"auto": "yes"}}], "kill_switch": None}
        )
    )
    settings = tmp_path / "aiopsd.yaml"
    settings.write_text(
        yaml.safe_dump(
            {
                "daemon": {"state_dir": str(tmp_path / "state")},
                "remediation": {
                    "policy_file": str(policy),
                    "kubeconfig": str(control_plane.kubeconfig),
                    "settle_timeout": "8s",
                    "poll_interval": "1s",
                },
            }
        )
    )
    return settings


@pytest.fixture
def cli(settings: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["runbook", "run", *args, "--config", str(settings)])

    return run


def test_dry_run_by_default_then_execute(cli, settings: Path, api: client.ApiClient, namespace: str) -> None:  # type: ignore[no-untyped-def]
    create_ready_deployment(api, namespace, deployment("web", replicas=1, labels={"auto": "yes"}))
    target = f"deployment/{namespace}/web"

    dry = cli("scale", "--target", target, "--param", "replicas=2")
    assert dry.exit_code == 0, dry.output
    assert f"plan: scale {target} from 1 to 2 replicas" in dry.output
    assert "~ spec.replicas: 1 -> 2" in dry.output
    assert "[ok  ] allowlist: matches allow rule 0" in dry.output
    assert "result: dry_run (use --execute to act)" in dry.output
    assert client.AppsV1Api(api).read_namespaced_deployment("web", namespace).spec.replicas == 1

    done = cli("scale", "--target", target, "--param", "replicas=2", "--execute", "--yes")
    assert done.exit_code == 0, done.output
    assert "result: verified" in done.output
    assert client.AppsV1Api(api).read_namespaced_deployment("web", namespace).spec.replicas == 2

    listed = CliRunner().invoke(app, ["runbook", "history", "--config", str(settings)])
    assert listed.exit_code == 0, listed.output
    assert [line.split()[4] for line in listed.output.splitlines()[1:3]] == ["verified", "dry_run"]


def test_exit_codes_refused_failed_rolled_back_usage(cli, api: client.ApiClient, namespace: str) -> None:  # type: ignore[no-untyped-def]
    create_ready_deployment(api, namespace, deployment("outside", replicas=1))
    outside = cli("scale", "--target", f"deployment/{namespace}/outside", "-p", "replicas=2", "--execute", "--yes")
    assert outside.exit_code == 3, outside.output
    assert "outside the allowlist" in outside.output

    missing = cli("delete-pod", "--target", f"pod/{namespace}/ghost", "--execute", "--yes")
    assert missing.exit_code == 1, missing.output
    assert "not found" in missing.output.lower()

    stuck = deployment("stuck", replicas=1, labels={"auto": "yes"})
    create_ready_deployment(api, namespace, stuck)
    client.AppsV1Api(api).patch_namespaced_deployment(
        "stuck", namespace, {"spec": {"template": {"spec": {"nodeSelector": {"no-such": "node"}}}}}
    )
    rolled = cli("rollout-restart", "--target", f"deployment/{namespace}/stuck", "--execute", "--yes")
    assert rolled.exit_code == 4, rolled.output
    assert "did not settle" in rolled.output

    bad = cli("scale", "--target", "deployment/oops", "-p", "replicas=2")
    assert bad.exit_code == 2
    assert "expected KIND/NAMESPACE/NAME" in bad.output


def test_approval_required_runbook_runs_only_when_a_person_confirms(
    settings: Path, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    create_ready_deployment(api, namespace, deployment("ask", replicas=1, labels={"auto": "yes"}))
    policy = tmp_path / "approval.yaml"
    policy.write_text(yaml.safe_dump({**OPEN_POLICY, "kill_switch": None, "approval_required": ["scale"]}))
    args = [
        "runbook",
        "run",
        "scale",
        "-t",
        f"deployment/{namespace}/ask",
        "-p",
        "replicas=2",
        "--execute",
        "--policy",
        str(policy),
        "--config",
        str(settings),
    ]
    runner = CliRunner()

    declined = runner.invoke(app, args, input="n\n")
    assert declined.exit_code == 3, declined.output
    assert "not executed" in declined.output
    assert client.AppsV1Api(api).read_namespaced_deployment("ask", namespace).spec.replicas == 1

    confirmed = runner.invoke(app, args, input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "approval: a person runs it" in confirmed.output
    assert client.AppsV1Api(api).read_namespaced_deployment("ask", namespace).spec.replicas == 2
