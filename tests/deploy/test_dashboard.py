"""The Grafana dashboard of aiopsd's KPIs: valid JSON shipped by the chart, every KPI gauge on it, and every query
valid PromQL (checked by promtool as recording rules, Grafana's variables replaced by values)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import CHART, FULL_VALUES, one, promtool, render

DASHBOARD = CHART / "dashboards" / "aiopsd-kpis.json"
KPIS = (
    "aiopsd_kpi_deflection_rate",
    "aiopsd_kpi_auto_resolution_rate",
    "aiopsd_kpi_mttd_seconds",
    "aiopsd_kpi_mttr_seconds",
    "aiopsd_kpi_cost_per_resolution",
    "aiopsd_kpi_knowledge_freshness",
)


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def _targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in dashboard["panels"] if p["type"] != "row" for t in p["targets"]]


def test_every_kpi_is_on_the_dashboard(dashboard: dict[str, Any]) -> None:
    exprs = " ".join(t["expr"] for t in _targets(dashboard))
    for kpi in KPIS:
        assert re.search(rf"\b{kpi}\b", exprs), kpi
    by_category = [t for t in _targets(dashboard) if "aiopsd_kpi_auto_resolution_rate" in t["expr"]]
    assert all("by (category)" in t["expr"] and t["legendFormat"] == "{{category}}" for t in by_category)


def test_panels_are_well_formed(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "aiopsd-kpis" and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "namespace"}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert re.search(r"\baiopsd_\w+", target["expr"]), target["expr"]
            assert 'namespace="$namespace"' in target["expr"], target["expr"]


def test_every_query_is_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    rules = []
    for i, target in enumerate(_targets(dashboard)):
        expr = target["expr"].replace("$__rate_interval", "2m").replace("$namespace", "aiopsd-system")
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    rule_file = tmp_path / "dashboard-rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run([promtool(), "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_chart_ships_the_dashboard_for_the_grafana_sidecar(tmp_path: Path) -> None:
    config_map = one(render(FULL_VALUES, tmp=tmp_path), "ConfigMap", "-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["aiopsd-kpis.json"]) == json.loads(DASHBOARD.read_text())
