"""The chart's alert rules behave as intended: `promtool test rules` feeds synthetic series of aiopsd's own metrics
(a source going down, ticks stopping, the outbox filling, a replica not ready) and checks when each alert fires."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import FULL_VALUES, NAMESPACE, RELEASE, one, promtool, render

JOB = f'job="{RELEASE}-aiopsd",namespace="{NAMESPACE}",pod="{RELEASE}-aiopsd-0"'


def _rules(tmp_path: Path) -> dict[str, dict[str, Any]]:
    spec = one(render(FULL_VALUES, tmp=tmp_path), "PrometheusRule")["spec"]
    return {r["alert"]: r for g in spec["groups"] for r in g["rules"]}


def _annotations(rule: dict[str, Any], labels: dict[str, str], value: str) -> dict[str, str]:
    """The rule's annotations as Prometheus fills them in for these labels and value."""

    def fill(text: str) -> str:
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
        return text.replace("{{ $value }}", value)

    return {key: fill(text) for key, text in rule["annotations"].items()}


Rules = dict[str, dict[str, Any]]


def _alert(rules: Rules, eval_time: str, name: str, fired: list[dict[str, str]], value: str = "1") -> dict[str, Any]:
    return {
        "eval_time": eval_time,
        "alertname": name,
        "exp_alerts": [
            {"exp_labels": labels, "exp_annotations": _annotations(rules[name], labels, value)} for labels in fired
        ],
    }


def _run(
    tmp_path: Path, series: list[dict[str, str]], checks: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    spec = one(render(FULL_VALUES, tmp=tmp_path), "PrometheusRule")["spec"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    return subprocess.run(
        [promtool(), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def rules(tmp_path: Path) -> Rules:
    return _rules(tmp_path)


@pytest.fixture
def unhealthy() -> list[dict[str, str]]:
    return [
        {"series": f"up{{{JOB}}}", "values": "1x30"},
        {"series": f'aiopsd_source_up{{{JOB},source="prom"}}', "values": "1 1 0x28"},  # down from minute 2
        {"series": f"aiopsd_last_tick_timestamp_seconds{{{JOB}}}", "values": "0+60x5 300x24"},  # stops at minute 5
        {"series": f"aiopsd_ready{{{JOB}}}", "values": "1 1 1 0x27"},  # not ready from minute 3
        {"series": f'aiopsd_outbox_pending{{{JOB},channel="rt"}}', "values": "0 200x29"},  # backlog from minute 1
    ]


def test_each_alert_fires_after_its_delay_and_not_before(
    tmp_path: Path, unhealthy: list[dict[str, str]], rules: Rules
) -> None:
    ns = {"namespace": NAMESPACE}
    checks = [
        _alert(rules, "5m", "AiopsdSourceDown", []),  # down 3 minutes: still pending (for 5m)
        _alert(rules, "8m", "AiopsdSourceDown", [ns | {"source": "prom", "severity": "warning"}]),
        _alert(rules, "11m", "AiopsdTicksStalled", []),  # 6 minutes without a tick, pending for 2m
        _alert(rules, "13m", "AiopsdTicksStalled", [ns | {"severity": "critical"}]),
        _alert(rules, "10m", "AiopsdOutboxBacklog", []),
        _alert(rules, "17m", "AiopsdOutboxBacklog", [ns | {"severity": "warning"}], value="200"),
        _alert(rules, "12m", "AiopsdNotReady", []),
        _alert(rules, "14m", "AiopsdNotReady", [ns | {"pod": f"{RELEASE}-aiopsd-0", "severity": "warning"}]),
        _alert(rules, "20m", "AiopsdDown", []),  # it is scraped the whole time
    ]
    done = _run(tmp_path, unhealthy, checks)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_wrong_expectation_fails_so_the_checks_above_mean_something(
    tmp_path: Path, unhealthy: list[dict[str, str]], rules: Rules
) -> None:
    done = _run(tmp_path, unhealthy, [_alert(rules, "20m", "AiopsdSourceDown", [])])
    assert done.returncode != 0
    assert "AiopsdSourceDown" in done.stdout + done.stderr


def test_a_vanished_daemon_is_reported_down(tmp_path: Path, rules: Rules) -> None:
    series = [{"series": f"up{{{JOB}}}", "values": "1 1 0x20"}]
    checks = [
        _alert(rules, "5m", "AiopsdDown", []),
        _alert(
            rules,
            "8m",
            "AiopsdDown",
            [
                {
                    "job": f"{RELEASE}-aiopsd",
                    "namespace": NAMESPACE,
                    "pod": f"{RELEASE}-aiopsd-0",
                    "severity": "critical",
                }
            ],
        ),
    ]
    done = _run(tmp_path, series, checks)
    assert done.returncode == 0, done.stdout + done.stderr
