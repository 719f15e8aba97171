"""The Helm chart rendered by a real helm: the Deployment's safety and HA invariants, settings the daemon accepts,
the same least privilege as deploy/rbac, selectors that match, and alert rules promtool accepts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from daemon.settings.loader import load_settings
from remediations.policy import load_policy
from tests.deploy.chart import (
    CHART,
    FULL_VALUES,
    NAMESPACE,
    RELEASE,
    REPO,
    RenderError,
    by_kind,
    helm,
    one,
    promtool,
    render,
)

RBAC_DIR = REPO / "deploy" / "rbac"
FULLNAME = f"{RELEASE}-aiopsd"


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render(FULL_VALUES, tmp=tmp_path_factory.mktemp("values"))


def _container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    [container] = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def _settings(docs: list[dict[str, Any]], tmp_path: Path) -> Any:
    path = tmp_path / "aiopsd.yaml"
    path.write_text(one(docs, "ConfigMap", "-settings")["data"]["aiopsd.yaml"])
    return load_settings(path, environ={})


def test_chart_renders_every_object_of_an_install(docs: list[dict[str, Any]]) -> None:
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "ConfigMap",
            "ConfigMap",
            "Deployment",
            "PodDisruptionBudget",
            "PrometheusRule",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
        ]
    )
    namespaced = [d for d in docs if d["kind"] not in ("ClusterRole", "ClusterRoleBinding")]
    assert {d["metadata"]["namespace"] for d in namespaced} == {NAMESPACE}


def test_deployment_is_locked_down(docs: list[dict[str, Any]]) -> None:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = _container(docs)
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    # with a read-only root, every place the daemon writes is a volume of its own
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert set(writable) == {"/var/lib/aiopsd", "/tmp"}
    assert all("emptyDir" in v for v in writable.values())


def test_deployment_runs_two_replicas_with_probes_and_an_identity_each(docs: list[dict[str, Any]]) -> None:
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = _container(docs)
    [port] = container["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 9464)
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    env = {e["name"]: e for e in container["env"]}
    assert env["AIOPSD_DAEMON__INSTANCE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert not [e for e in container["env"] if "value" in e and "secret" in e["name"].lower()]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"


def test_settings_are_valid_and_credentials_are_files_from_secrets(docs: list[dict[str, Any]], tmp_path: Path) -> None:
    settings = _settings(docs, tmp_path)
    election = settings.remediation.leader_election
    assert election.enabled and election.namespace == NAMESPACE
    assert settings.daemon.listen == "0.0.0.0:9464"
    assert str(settings.daemon.state_dir) == "/var/lib/aiopsd"
    assert settings.store.url is None and settings.daemon.api_token is None  # never inline
    container = _container(docs)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    secret_of = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}

    def secret_behind(path: Path) -> str:
        mount = mounts[str(path.parent)]
        assert mount["readOnly"] is True
        return secret_of[mount["name"]]

    assert secret_behind(settings.store.url_file) == "aiopsd-store"
    assert secret_behind(settings.daemon.api_token_file) == "aiopsd-api"
    assert secret_of[mounts["/run/secrets/aiopsd/tickets"]["name"]] == "aiopsd-tickets"
    assert "password" not in one(docs, "ConfigMap", "-settings")["data"]["aiopsd.yaml"].lower()


def test_user_settings_are_kept_and_chart_owned_ones_win(tmp_path: Path) -> None:
    values = FULL_VALUES | {
        "settings": {
            "daemon": {"interval": "30s", "listen": "127.0.0.1:1"},
            "tickets": {"system": "rt", "rt": {"url": "https://rt.example.com", "queue": "Ops"}},
        }
    }
    settings = _settings(render(values, tmp=tmp_path), tmp_path)
    assert settings.daemon.interval.total_seconds() == 30
    assert settings.daemon.listen == "0.0.0.0:9464"
    assert settings.tickets.system == "rt"


def test_two_replicas_without_a_shared_store_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="PostgreSQL store"):
        render({}, tmp=tmp_path)
    single = render({"replicaCount": 1}, tmp=tmp_path)
    assert one(single, "Deployment")["spec"]["replicas"] == 1
    assert not _settings(single, tmp_path).remediation.leader_election.enabled


def _rules_from(path: Path, kind: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == kind]
    assert len(docs) == 1
    return list(docs[0]["rules"])


def _assert_bound_to_the_service_account(docs: list[dict[str, Any]], role_kind: str, suffix: str) -> None:
    binding = one(docs, f"{role_kind}Binding", suffix)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": role_kind,
        "name": one(docs, role_kind, suffix)["metadata"]["name"],
    }
    sa = one(docs, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}]


def test_rbac_is_exactly_the_least_privilege_of_deploy_rbac(docs: list[dict[str, Any]]) -> None:
    remediator = _rules_from(RBAC_DIR / "clusterrole.yaml", "ClusterRole")
    assert one(docs, "ClusterRole", "-remediator")["rules"] == remediator
    assert one(docs, "Role")["rules"] == _rules_from(RBAC_DIR / "role.yaml", "Role")
    _assert_bound_to_the_service_account(docs, "ClusterRole", "-remediator")
    _assert_bound_to_the_service_account(docs, "Role", "-coordination")
    lease_rule = next(r for r in one(docs, "Role")["rules"] if r.get("resourceNames") and "leases" in r["resources"])
    assert lease_rule["resourceNames"] == ["aiopsd-leader"]


def test_the_topology_watch_brings_the_read_only_role_of_deploy_rbac(
    docs: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The role follows the setting that starts the watch: rendered with it, absent without it (the default)."""
    assert [d["metadata"]["name"] for d in by_kind(docs, "ClusterRole")] == [f"{FULLNAME}-remediator"]
    values = FULL_VALUES | {"settings": {"correlation": {"topology": {"kubernetes": True}}}}
    watching = render(values, tmp=tmp_path)
    assert _settings(watching, tmp_path).correlation.topology.kubernetes is True
    reader = _rules_from(RBAC_DIR / "clusterrole-topology.yaml", "ClusterRole")
    assert one(watching, "ClusterRole", "-topology-reader")["rules"] == reader
    assert {verb for rule in reader for verb in rule["verbs"]} == {"list", "watch"}
    _assert_bound_to_the_service_account(watching, "ClusterRole", "-topology-reader")
    without_rbac = render(values | {"rbac": {"create": False}}, tmp=tmp_path)
    assert not by_kind(without_rbac, "ClusterRole") and not by_kind(without_rbac, "ClusterRoleBinding")


def test_lease_name_follows_the_value_in_settings_and_role(tmp_path: Path) -> None:
    docs = render(FULL_VALUES | {"leaderElection": {"leaseName": "other-lease"}}, tmp=tmp_path)
    assert _settings(docs, tmp_path).remediation.leader_election.lease_name == "other-lease"
    assert any(r.get("resourceNames") == ["other-lease"] for r in one(docs, "Role")["rules"])


def test_service_pdb_and_servicemonitor_select_the_pods(docs: list[dict[str, Any]]) -> None:
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    service = one(docs, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "http", "port": 9464, "targetPort": "http", "protocol": "TCP"}]
    pdb = one(docs, "PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 1 and pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    monitor = one(docs, "ServiceMonitor")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert [(e["port"], e["path"]) for e in monitor["endpoints"]] == [("http", "/metrics")]


def test_prometheus_rule_alerts_on_aiopsd_health_and_promtool_accepts_it(
    docs: list[dict[str, Any]], tmp_path: Path
) -> None:
    spec = one(docs, "PrometheusRule")["spec"]
    rules = [r for g in spec["groups"] for r in g["rules"]]
    alerts = {r["alert"]: r for r in rules}
    assert {"AiopsdSourceDown", "AiopsdTicksStalled", "AiopsdOutboxBacklog", "AiopsdNotReady", "AiopsdDown"} == set(
        alerts
    )
    for name, rule in alerts.items():
        assert f'job="{FULLNAME}"' in rule["expr"], name  # the ServiceMonitor's job label is the Service name
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(yaml.safe_dump(spec))
    done = subprocess.run([promtool(), "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: the same promtool call on a rule with a PromQL syntax error."""
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up{ == 0"}]}]}))
    done = subprocess.run([promtool(), "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert done.returncode != 0


def test_optional_objects_can_be_turned_off(tmp_path: Path) -> None:
    values = FULL_VALUES | {
        "serviceMonitor": {"enabled": False},
        "prometheusRule": {"enabled": False},
        "grafanaDashboard": {"enabled": False},
        "podDisruptionBudget": {"enabled": False},
    }
    kinds = {d["kind"] for d in render(values, tmp=tmp_path)}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "PodDisruptionBudget"}
    names = {d["metadata"]["name"] for d in by_kind(render(values, tmp=tmp_path), "ConfigMap")}
    assert names == {f"{FULLNAME}-settings", "aiopsd-kill-switch"}


def test_helm_lint_is_clean_in_strict_mode(tmp_path: Path) -> None:
    values = tmp_path / "values.json"
    values.write_text(json.dumps(FULL_VALUES))
    done = subprocess.run(
        [helm(), "lint", "--strict", str(CHART), "--values", str(values)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


def test_guard_policy_is_shipped_with_the_kill_switch_the_role_may_read(tmp_path: Path) -> None:
    policy = yaml.safe_load((REPO / "examples" / "policy.yaml").read_text())
    docs = render(FULL_VALUES | {"policy": policy}, tmp=tmp_path)
    settings = _settings(docs, tmp_path)
    assert str(settings.remediation.policy_file) == "/etc/aiopsd/policy.yaml"
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(one(docs, "ConfigMap", "-settings")["data"]["policy.yaml"])
    loaded = load_policy(policy_file)
    assert loaded.kill_switch is not None
    assert (loaded.kill_switch.namespace, loaded.kill_switch.name) == (NAMESPACE, "aiopsd-kill-switch")
    assert loaded.approval_required == policy["approval_required"]  # the rest as given
    switch = one(docs, "ConfigMap", "aiopsd-kill-switch")
    assert switch["data"] == {"automation": "on"}
    assert switch["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    readable = next(r for r in one(docs, "Role")["rules"] if r["resources"] == ["configmaps"])
    assert readable["resourceNames"] == ["aiopsd-kill-switch"] and readable["verbs"] == ["get"]


def test_without_a_policy_every_action_stays_a_dry_run(docs: list[dict[str, Any]], tmp_path: Path) -> None:
    assert _settings(docs, tmp_path).remediation.policy_file is None
    assert "policy.yaml" not in one(docs, "ConfigMap", "-settings")["data"]


def test_pods_roll_when_the_settings_or_policy_change(tmp_path: Path) -> None:
    def checksum(values: dict[str, Any]) -> str:
        pod = one(render(values, tmp=tmp_path), "Deployment")["spec"]["template"]
        return str(pod["metadata"]["annotations"]["checksum/settings"])

    base = checksum(FULL_VALUES)
    assert checksum(FULL_VALUES) == base
    assert checksum(FULL_VALUES | {"settings": {"daemon": {"interval": "30s"}}}) != base
    assert checksum(FULL_VALUES | {"policy": {"approval_required": ["scale"]}}) != base


def test_another_port_is_used_everywhere(tmp_path: Path) -> None:
    docs = render(FULL_VALUES | {"service": {"type": "ClusterIP", "port": 8080}}, tmp=tmp_path)
    container = _container(docs)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["ports"][0]["containerPort"] == 8080
    assert env["AIOPSD_DAEMON__LISTEN"] == "0.0.0.0:8080"  # overrides the image's default 9464
    assert _settings(docs, tmp_path).daemon.listen == "0.0.0.0:8080"
    assert one(docs, "Service")["spec"]["ports"][0]["port"] == 8080
