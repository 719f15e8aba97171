from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon.correlation import ScenarioError
from daemon.correlation.evaluation import evaluate, replay
from daemon.correlation.scenario import generate_scenario, load_scenario, scenario_json


def test_generation_is_deterministic_and_has_truth_for_every_anomaly() -> None:
    a = generate_scenario(services=25, incidents=2, background=3, seed=11)
    b = generate_scenario(services=25, incidents=2, background=3, seed=11)
    assert scenario_json(a) == scenario_json(b)
    assert a.truth is not None
    assert len(a.truth.incident_of) == len(a.anomalies)
    assert [x.ts for x in a.anomalies] == sorted(x.ts for x in a.anomalies)
    roots = {i: r for i, r in a.truth.roots.items() if not i.startswith("bg-")}
    assert roots and all(r.startswith(("deployment/", "node/")) for r in roots.values())


def test_root_anomalies_come_first_in_their_incident() -> None:
    s = generate_scenario(services=40, incidents=3, background=0, seed=2, node_fault_share=0.0)
    assert s.truth is not None
    for incident, root in s.truth.roots.items():
        mine = [a for a, i in zip(s.anomalies, s.truth.incident_of, strict=True) if i == incident]
        first = min(a.ts for a in mine)
        assert any(a.entities["deployment"] == root and a.ts == first for a in mine)


def test_replay_recovers_a_single_clean_incident() -> None:
    s = generate_scenario(services=20, incidents=1, background=0, seed=3, node_fault_share=0.0)
    result = replay(s)
    scores = evaluate(result)
    assert scores.incidents == 1
    assert scores.problems == 1
    assert scores.adjusted_rand_index == 1.0
    assert scores.top1 == 1.0
    assert scores.max_open_delay_ticks <= 1.0
    out = result.to_json()
    assert out["problems"][0]["anomaly_indices"] == list(range(len(s.anomalies)))


def test_load_scenario_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"s\.json:1:2: invalid JSON"):
        load_scenario(path)
    data = scenario_json(generate_scenario(services=5, incidents=1, background=0, seed=1))
    data["anomalies"][2]["score"] = 7
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"anomalies\[2\]\.score: Input should be less than or equal to 1"):
        load_scenario(path)
    data["anomalies"][2]["score"] = 0.5
    data["truth"]["incident_of"].pop()
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ScenarioError, match="expected one per anomaly"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.json")
