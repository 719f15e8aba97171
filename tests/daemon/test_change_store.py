"""The daemon side: store tables, the store context (live health, history), learning, the CLI and the HTTP API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from change_advisor.context import ChangeCalendar
from change_advisor.request import load_change_request
from daemon.api.changes import build_changes_router
from daemon.changes import ChangeRepository, StoreChangeContext, score_and_record
from daemon.cli.main import app
from daemon.errors import InputError
from daemon.settings.changes import ChangeAdvisorSettings
from daemon.store.db import Store
from daemon.store.models import AnomalyRow

EXAMPLES = Path(__file__).parents[2] / "examples" / "changes"
NOW = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'aiopsd.db'}")
    store.migrate()
    return store


def _history_csv(path: Path, rows: int, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    la = rng.lognormal(3, 1.5, rows).round()
    failed = rng.random(rows) < 1 / (1 + np.exp(-(-2 + 0.9 * (np.log1p(la) - 3))))
    table = pd.DataFrame(
        {
            "_id": [f"c{i}" for i in range(rows)],
            "date": 1_600_000_000 + rng.permutation(rows) * 3600,
            "bug": failed.astype(int),
            "ns": 1,
            "nd": 1,
            "nf": rng.integers(1, 9, rows),
            "entrophy": 0.5,
            "la": la,
            "ld": rng.integers(0, 50, rows),
            "lt": 400,
            "fix": 0,
            "ndev": 3,
            "age": 10.0,
            "nuc": 5,
            "exp": rng.integers(1, 500, rows),
            "rexp": 3.0,
            "sexp": 9,
        }
    )
    table.to_csv(path)
    return path


def test_live_health_and_similar_changes_from_the_store(store: Store) -> None:
    with store.session() as session:
        for ts, score, pod in (
            (NOW.timestamp() - 600, 0.9, "checkout-7d9f-abc"),
            (NOW.timestamp() - 7200, 1.0, "checkout-7d9f-abc"),
            (NOW.timestamp() - 60, 0.99, "payments-1"),
        ):
            session.add(
                AnomalyRow(
                    source="p",
                    query="q",
                    series_key=f"{ts}",
                    labels={},
                    ts=ts,
                    value=1.0,
                    entities={"namespace": "shop", "pod": pod},
                    score=score,
                    direction=1,
                    detector="d",
                    kind="point",
                    detected_at=ts,
                )
            )
    settings = ChangeAdvisorSettings()
    request = load_change_request(EXAMPLES / "deploy-checkout.yaml")
    report = score_and_record(store, settings, request, clock=lambda: NOW)
    assert report.health.known and report.health.anomalies == 1  # the old one and the other pod do not count
    assert report.health.anomaly_level == pytest.approx(0.9)
    assert any("anomaly level" in c for c in report.conditions)

    repository = ChangeRepository(store, clock=lambda: NOW)
    repository.record_outcome("CHG-1042", "rolled-back", incident="PRB-7")
    second = request.model_copy(update={"id": "CHG-2000"})
    report2 = score_and_record(store, settings, second, clock=lambda: NOW + timedelta(days=1))
    assert [c.id for c in report2.similar] == ["CHG-1042"] and report2.similar[0].result == "rolled-back"
    assert report2.health.recent_incidents == ["PRB-7"]
    assert report2.features["similar_failure_rate"] == pytest.approx(2.5 / 11)

    with pytest.raises(InputError, match="unknown"):
        repository.record_outcome("CHG-404", "failed")


def test_problem_on_targets_soon_after_a_change_is_linked(store: Store) -> None:
    request = load_change_request(EXAMPLES / "deploy-checkout.yaml")
    score_and_record(store, ChangeAdvisorSettings(), request, clock=lambda: NOW)
    repository = ChangeRepository(store, clock=lambda: NOW)
    end, six_hours = request.window.end, timedelta(hours=6)
    other = [{"namespace": "shop", "pod": "payments-5f-x"}]
    checkout_pod = [{"namespace": "other", "pod": "x"}, {"namespace": "shop", "pod": "checkout-7d9f-abc"}]
    assert repository.link_problem("PRB-1", other, end + timedelta(hours=1), six_hours) == []
    assert repository.link_problem("PRB-2", checkout_pod, end + timedelta(days=1), six_hours) == []
    assert repository.link_problem("PRB-0", checkout_pod, end - timedelta(minutes=5), six_hours) == []
    assert repository.link_problem("PRB-3", checkout_pod, end + timedelta(hours=1), six_hours) == ["CHG-1042"]
    context = StoreChangeContext(store, ChangeCalendar())
    health = context.target_health(request.targets, end + timedelta(hours=2))
    assert health.recent_incidents == ["PRB-3"]


def test_cli_learn_then_score_and_outcome(tmp_path: Path) -> None:
    config = tmp_path / "aiopsd.yaml"
    config.write_text(f"daemon: {{state_dir: {tmp_path / 'state'}}}\n")
    runner = CliRunner()
    few = runner.invoke(app, ["change", "learn", str(_history_csv(tmp_path / "few.csv", 20)), "-c", str(config)])
    assert few.exit_code == 0, few.output
    assert "model: prior" in few.output  # cold start: 20 outcomes are too few
    learned = runner.invoke(app, ["change", "learn", str(_history_csv(tmp_path / "h.csv", 600)), "-c", str(config)])
    assert learned.exit_code == 0, learned.output
    assert "imported 600 changes; model: fitted, 600 outcomes" in learned.output
    assert "validation on the newest 120 outcomes" in learned.output
    out = tmp_path / "r.json"
    scored = runner.invoke(
        app,
        [
            "change",
            "score",
            str(EXAMPLES / "deploy-checkout.yaml"),
            "--format",
            "json",
            "-o",
            str(out),
            "-c",
            str(config),
        ],
    )
    assert scored.exit_code == 0, scored.output
    report = json.loads(out.read_text())
    assert report["model_kind"] == "fitted" and report["model_rows"] == 600
    done = runner.invoke(
        app, ["change", "outcome", "CHG-1042", "--result", "failed", "--incident", "PRB-9", "-c", str(config)]
    )
    assert done.exit_code == 0, done.output
    assert "model: fitted, 601 outcomes" in done.output
    bad = runner.invoke(app, ["change", "outcome", "CHG-1042", "--result", "meh", "-c", str(config)])
    assert bad.exit_code == 2


def test_cli_backtest_contract(tmp_path: Path) -> None:
    data = _history_csv(tmp_path / "jit.csv", 1000)
    scores = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app, ["change", "backtest", str(data), "--train-fraction", "0.8", "--scores-out", str(scores)]
    )
    assert result.exit_code == 0, result.output
    for label in ("ROC AUC:", "PR AUC:", "F1:", "calibration error:"):
        assert label in result.output
    written = pd.read_csv(scores)
    table = pd.read_csv(data).sort_values("date", kind="stable")
    assert list(written.columns) == ["_id", "risk"]
    assert list(written["_id"]) == list(table["_id"].iloc[800:])  # the newest 20 %, in time order
    assert written["risk"].between(0, 1).all()
    auc = float(result.output.split("ROC AUC:")[1].split()[0])
    assert auc > 0.6  # size drives failure in this data


def test_cli_reports_malformed_inputs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("_id,date,bug,ns\na,1,2,1\n")
    result = CliRunner().invoke(app, ["change", "backtest", str(bad)])
    assert result.exit_code == 2 and "row 2 column 'bug': expected 0 or 1" in result.output
    request = tmp_path / "cr.yaml"
    request.write_text("id: x\n")
    result = CliRunner().invoke(app, ["change", "score", str(request), "--offline"])
    assert result.exit_code == 2 and "title: required field is missing" in result.output


def test_http_score_endpoint(store: Store) -> None:
    api = FastAPI()
    api.include_router(build_changes_router(store, ChangeAdvisorSettings(), clock=lambda: NOW))
    client = TestClient(api)
    body = json.loads((EXAMPLES / "db-migration.json").read_text())
    response = client.post("/api/v1/changes/score", json=body)
    assert response.status_code == 200
    assert response.json()["change_id"] == "CHG-1044" and 0 < response.json()["probability"] < 1
    html = client.post("/api/v1/changes/score?format=html", json=body)
    assert html.headers["content-type"].startswith("text/html") and "<svg" in html.text
    body["window"] = {"start": "2026-03-04T22:00:00"}
    bad = client.post("/api/v1/changes/score", json=body)
    assert bad.status_code == 422
    assert any("window.end: required field is missing" in d for d in bad.json()["detail"])


def test_settings_section_and_report_with_history(store: Store, tmp_path: Path) -> None:
    from change_advisor.report import render
    from daemon.settings import load_settings

    config = tmp_path / "aiopsd.yaml"
    config.write_text(
        "changes:\n  calendar:\n    freezes:\n      - {name: release freeze, start: 2026-03-01T00:00:00Z,"
        " end: 2026-03-10T00:00:00Z}\n  link_window: 2h\n"
    )
    settings = load_settings(config, environ={}).changes
    assert settings.link_window == timedelta(hours=2)
    request = load_change_request(EXAMPLES / "deploy-checkout.yaml")
    score_and_record(store, settings, request.model_copy(update={"id": "CHG-1"}), clock=lambda: NOW)
    ChangeRepository(store, clock=lambda: NOW).record_outcome("CHG-1", "failed")
    report = score_and_record(store, settings, request, clock=lambda: NOW)
    assert report.calendar.freeze == "release freeze" and report.recommendation == "defer"
    html = render(report, "html")
    assert html.count("<svg") == 3 and "outcomes of 1 similar past changes" in html

    bad = tmp_path / "bad.yaml"
    bad.write_text("changes:\n  calendar:\n    utc_offset_hours: 30\n")
    from daemon.errors import ConfigError

    with pytest.raises(ConfigError, match=r"bad.yaml:3 changes.calendar.utc_offset_hours"):
        load_settings(bad, environ={})


def test_learn_is_all_or_nothing_and_replaces_by_id(store: Store, tmp_path: Path) -> None:
    from change_advisor.backtest import read_history_table
    from change_advisor.features import kamei_table_features

    repository = ChangeRepository(store, clock=lambda: NOW)
    table = read_history_table(_history_csv(tmp_path / "h.csv", 100))
    features = kamei_table_features(table, "h.csv")
    times, failed = table["date"].to_numpy(float), table["bug"].to_numpy(float)
    assert repository.import_history(list(table["_id"]), times, failed, features) == 100
    assert repository.import_history(list(table["_id"]), times, 1 - failed, features) == 100  # replaces
    _, stored_failed, _ = repository.training_set()
    assert len(stored_failed) == 100 and stored_failed.sum() == (1 - failed).sum()
    ids = list(table["_id"])
    ids[5] = ids[4]
    with pytest.raises(InputError, match=f"change id '{ids[4]}' appears more than once"):
        repository.import_history(ids, times, failed, features)
    assert len(repository.training_set()[1]) == 100

    broken = tmp_path / "broken.csv"
    table.assign(la=table["la"].astype(object).where(table.index != 50, "many")).to_csv(broken)
    config = tmp_path / "aiopsd.yaml"
    config.write_text(f"store: {{url: 'sqlite:///{tmp_path / 'other.db'}'}}\n")
    result = CliRunner().invoke(app, ["change", "learn", str(broken), "-c", str(config)])
    assert result.exit_code == 2 and "row 52 column 'la': expected a non-negative number, got 'many'" in result.output


def test_http_refuses_host_paths_unless_allowed(store: Store) -> None:
    body = json.loads((EXAMPLES / "db-migration.json").read_text())
    body["change"] = {"manifests": {"before": "/etc/passwd", "after": "/etc/passwd"}}
    api = FastAPI()
    api.include_router(build_changes_router(store, ChangeAdvisorSettings(), clock=lambda: NOW))
    refused = TestClient(api).post("/api/v1/changes/score", json=body)
    assert refused.status_code == 422 and "api_local_paths" in refused.json()["detail"][0]
    allowed = FastAPI()
    allowed.include_router(build_changes_router(store, ChangeAdvisorSettings(api_local_paths=True), clock=lambda: NOW))
    body["change"]["manifests"] = {
        "before": str(EXAMPLES / "manifests" / "payments-before.yaml"),
        "after": str(EXAMPLES / "manifests" / "payments-after.yaml"),
    }
    response = TestClient(allowed).post("/api/v1/changes/score", json=body)
    assert response.status_code == 200 and response.json()["risky_edits"]
