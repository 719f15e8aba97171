"""The Helm chart applied to the real control plane with server-side apply and strict field validation (a schema
error in any manifest fails here): the prometheus-operator CRDs first, then every rendered object. The Deployment
then rolls out on kwok nodes, the PodDisruptionBudget protects it, and the chart's ServiceAccount may hold its Lease,
feed the topology watch (installed with it on) and nothing beyond its least privilege."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, dynamic
from kubernetes.client.exceptions import ApiException

from daemon.leader import LeaderElectionError, LeaseElector
from daemon.topology import Topology
from daemon.topology_kube import KubeTopologyWatcher
from tests.deploy.chart import FULL_VALUES, RELEASE, crd_files, render
from tests.harness.cluster import ControlPlane
from tests.harness.common import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
MANAGER = "aiopsd-chart-test"
STRICT = [("fieldValidation", "Strict")]
FULLNAME = f"{RELEASE}-aiopsd"
# a production install with the topology watch on, so its read-only ClusterRole is rendered and applied too
VALUES = FULL_VALUES | {"settings": {"correlation": {"topology": {"kubernetes": True}}}}


def _wait(check: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not within {timeout}s")


def apply(dyn: dynamic.DynamicClient, doc: dict[str, Any], dry_run: bool = False) -> Any:
    resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    return resource.server_side_apply(
        body=doc,
        namespace=doc["metadata"].get("namespace"),
        field_manager=MANAGER,
        force_conflicts=True,
        query_params=list(STRICT),
        dry_run="All" if dry_run else None,
    )


def _install_crds(api: client.ApiClient) -> None:
    dyn = dynamic.DynamicClient(api)
    names = []
    for path in crd_files():
        crd = yaml.safe_load(path.read_text())
        apply(dyn, crd)
        names.append(crd["metadata"]["name"])
    assert names == ["prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com"]
    ext = client.ApiextensionsV1Api(api)

    def established() -> bool:
        for name in names:
            conditions = ext.read_custom_resource_definition(name).status.conditions or []
            if not any(c.type == "Established" and c.status == "True" for c in conditions):
                return False
        return True

    _wait(established, "prometheus-operator CRDs established")


@pytest.fixture(scope="module")
def installed(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    namespace = f"aiopsd-{uuid.uuid4().hex[:8]}"
    docs = render(VALUES, namespace=namespace, tmp=tmp_path_factory.mktemp("values"))
    with control_plane.api_client() as api:
        _install_crds(api)
        core = client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": namespace}})
        for name, key in (("aiopsd-api", "token"), ("aiopsd-store", "url"), ("aiopsd-tickets", "rt-token")):
            core.create_namespaced_secret(namespace, {"metadata": {"name": name}, "stringData": {key: "not-a-secret"}})
        dyn = dynamic.DynamicClient(api)  # discovery after the CRDs exist
        applied = [apply(dyn, doc) for doc in docs]
        try:
            yield {"namespace": namespace, "docs": docs, "applied": applied}
        finally:
            for doc in docs:
                if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                    dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"]).delete(
                        name=doc["metadata"]["name"]
                    )
            core.delete_namespace(namespace, propagation_policy="Background")


@pytest.fixture
def admin(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api:
        yield api


def test_every_rendered_object_is_on_the_server_owned_by_the_apply(
    installed: dict[str, Any], admin: client.ApiClient
) -> None:
    dyn = dynamic.DynamicClient(admin)
    for doc in installed["docs"]:
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        live = resource.get(name=doc["metadata"]["name"], namespace=doc["metadata"].get("namespace"))
        managers = {m["manager"]: m["operation"] for m in live.metadata.managedFields}
        assert managers.get(MANAGER) == "Apply", (doc["kind"], managers)
    monitor = dyn.resources.get(api_version="monitoring.coreos.com/v1", kind="ServiceMonitor")
    live = monitor.get(name=FULLNAME, namespace=installed["namespace"])
    assert live.spec.endpoints[0].path == "/metrics"  # the CRD's schema kept the field (not pruned)


def test_applying_again_changes_nothing(installed: dict[str, Any], admin: client.ApiClient) -> None:
    """Idempotent: the spec generation (or, for objects without one, the resource version) does not move."""
    dyn = dynamic.DynamicClient(admin)

    def version(obj: Any) -> str:
        return f"gen {obj.metadata.generation}" if obj.metadata.generation else f"rv {obj.metadata.resourceVersion}"

    def live(doc: dict[str, Any]) -> Any:
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        return resource.get(name=doc["metadata"]["name"], namespace=doc["metadata"].get("namespace"))

    for doc in installed["docs"]:
        before = version(live(doc))
        assert version(apply(dyn, doc)) == before, doc["kind"]


@pytest.mark.parametrize(
    ("kind", "break_it", "expected"),
    [
        ("Deployment", lambda d: d["spec"].__setitem__("replicas", "two"), "replicas"),
        ("Deployment", lambda d: d["spec"]["template"]["spec"].__setitem__("runAsNobody", True), "runAsNobody"),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].__setitem__("scrapeEvery", "1s"), "scrapeEvery"),
        ("PrometheusRule", lambda d: d["spec"]["groups"][0].__setitem__("rules", "none"), "rules"),
    ],
)
def test_a_schema_error_is_refused_by_the_server(
    installed: dict[str, Any],
    admin: client.ApiClient,
    kind: str,
    break_it: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    doc = yaml.safe_load(yaml.safe_dump(next(d for d in installed["docs"] if d["kind"] == kind)))
    break_it(doc)
    with pytest.raises(ApiException) as refused:
        apply(dynamic.DynamicClient(admin), doc, dry_run=True)
    # 422 from validation; server-side apply answers 500 "failed to create typed patch object" for a field or type
    # its schema does not have (a long-standing apiserver quirk): either way the apply is refused, naming the field
    assert refused.value.status in (400, 422, 500)
    assert expected in str(refused.value.body)


def test_deployment_rolls_out_two_replicas_protected_by_the_pdb(
    installed: dict[str, Any], admin: client.ApiClient
) -> None:
    namespace = installed["namespace"]
    apps, policy = client.AppsV1Api(admin), client.PolicyV1Api(admin)
    _wait(
        lambda: (apps.read_namespaced_deployment(FULLNAME, namespace).status.available_replicas or 0) == 2,
        "2 available replicas",
    )

    def pdb_ready() -> bool:
        status = policy.read_namespaced_pod_disruption_budget(FULLNAME, namespace).status
        return bool(status and status.current_healthy == 2 and status.disruptions_allowed == 1)

    _wait(pdb_ready, "PodDisruptionBudget counting both replicas")
    pods = client.CoreV1Api(admin).list_namespaced_pod(namespace, label_selector="app.kubernetes.io/instance=prod")
    assert len(pods.items) == 2
    for pod in pods.items:
        assert pod.spec.service_account_name == FULLNAME
        assert pod.spec.containers[0].security_context.read_only_root_filesystem is True


def _sa_client(control_plane: ControlPlane, namespace: str) -> client.ApiClient:
    with control_plane.api_client() as api:
        spec = client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        token = client.CoreV1Api(api).create_namespaced_service_account_token(
            FULLNAME, namespace, client.AuthenticationV1TokenRequest(spec=spec)
        )
    return control_plane.api_client(str(token.status.token))


def test_the_chart_identity_holds_its_lease_and_nothing_more(
    installed: dict[str, Any], control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = installed["namespace"]
    with _sa_client(control_plane, namespace) as sa:
        first = LeaseElector(sa, namespace, "aiopsd-leader", "replica-a")
        second = LeaseElector(sa, namespace, "aiopsd-leader", "replica-b")
        assert first.try_acquire_or_renew()
        assert not second.try_acquire_or_renew()  # one leader at a time
        first.release()
        with pytest.raises(LeaderElectionError, match="403"):
            LeaseElector(sa, namespace, "another-lease", "replica-a").try_acquire_or_renew()
        core = client.CoreV1Api(sa)
        assert core.read_namespaced_config_map("aiopsd-kill-switch", namespace).data == {"automation": "on"}
        with pytest.raises(ApiException) as forbidden:
            core.read_namespaced_secret("aiopsd-store", namespace)
        assert forbidden.value.status == 403
        assert core.list_namespaced_pod(namespace).items is not None  # runbooks may list pods


def test_the_chart_identity_feeds_the_topology_watch_and_writes_nothing_it_reads(
    installed: dict[str, Any], control_plane: ControlPlane, admin: client.ApiClient
) -> None:
    namespace = installed["namespace"]
    core = client.CoreV1Api(admin)
    _wait(lambda: len(core.list_namespaced_pod(namespace).items) == 2, "the chart's two pods")
    with _sa_client(control_plane, namespace) as sa:
        topology = Topology()
        watcher = KubeTopologyWatcher(sa, topology, watch_timeout=5)  # every namespace, as the daemon does
        watcher.start()
        try:

            def listed() -> bool:
                assert watcher.last_error is None, watcher.last_error
                watcher.apply_pending()
                return watcher.synced

            wait_until(listed, 30, "the first list of every resource")
            pods = topology.related(f"service/{namespace}/{FULLNAME}", "selects")
            assert len(pods) == 2
            assert {topology.workload_of(p) for p in pods} == {f"deployment/{namespace}/{FULLNAME}"}
            core.create_namespaced_service(
                namespace, {"metadata": {"name": "later"}, "spec": {"ports": [{"port": 80}]}}
            )

            def watched() -> bool:
                watcher.apply_pending()
                return f"service/{namespace}/later" in topology.entities

            wait_until(watched, 30, "the new service through the watch")
            assert watcher.last_error is None, watcher.last_error
        finally:
            watcher.stop()
        with pytest.raises(ApiException) as forbidden:
            client.CoreV1Api(sa).delete_namespaced_service("later", namespace)
        assert forbidden.value.status == 403
