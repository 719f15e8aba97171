from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from daemon.cli.main import app
from daemon.correlation import ProblemCorrelator
from daemon.operations import ProblemStage
from daemon.problems import SqlProblemRepository
from daemon.settings import load_settings
from daemon.store import Store
from tests.daemon.correlation.factory import T0, TICK, anomaly, shop

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "aiopsd.yaml"
    path.write_text(f"daemon:\n  state_dir: {tmp_path / 'state'}\n", encoding="utf-8")
    return path


def seed(config_dir: Path) -> str:
    s = Store(f"sqlite:///{config_dir / 'state' / 'aiopsd.db'}")
    s.migrate()
    c = ProblemCorrelator(shop(), repository=SqlProblemRepository(s), tick=TICK)
    pid = c.observe([anomaly("redis-0", T0, 0.99, "errors")], T0)[0].problem.id
    c.observe([anomaly("cart-def34-ccccc", T0 + TICK, 0.9, "errors")], T0 + TICK)
    return pid


@contextmanager
def running_daemon(config: Path) -> Iterator[ProblemStage]:
    """The daemon's problem stage ticking on the same store (its clock just after the seeded problem)."""
    settings = load_settings(config)
    stage = ProblemStage(settings, Store(settings.store_url()))
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.1):
            stage.on_tick([], T0 + 2 * TICK)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield stage
    finally:
        stop.set()
        thread.join(10)
        stage.close()


def test_correlate_prints_problems_and_evaluation(tmp_path: Path) -> None:
    scenario = tmp_path / "s.json"
    assert runner.invoke(app, ["generate-scenario", str(scenario), "--services", "20", "--seed", "3"]).exit_code == 0
    result = runner.invoke(app, ["correlate", str(scenario)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout[result.stdout.index("{") :])
    assert payload["problems"] and payload["problems"][0]["root_causes"]
    assert set(payload["evaluation"]) >= {"adjusted_rand_index", "top1", "top3", "max_open_delay_ticks"}


def test_correlate_rejects_a_bad_scenario_with_the_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"anomalies": [{"source": "x"}]}', encoding="utf-8")
    result = runner.invoke(app, ["correlate", str(bad)])
    assert result.exit_code == 2
    assert "anomalies[0].query: Field required" in result.output


def test_list_show_ack_resolve(config: Path) -> None:
    pid = seed(config.parent)
    listed = runner.invoke(app, ["problems", "list", "-c", str(config), "-f", "json"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert row["id"] == pid and row["root_cause"] == "statefulset/shop/redis" and row["anomalies"] == 2

    shown = runner.invoke(app, ["problems", "show", pid, "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    parts = ("Root-cause candidates:", "1. statefulset/shop/redis", "earliest onset", "Timeline:", "opened", "Evidence")
    for part in parts:
        assert part in shown.stdout

    # no daemon runs: the request is queued, not lost, and the CLI says so (exit 3)
    queued = runner.invoke(app, ["problems", "ack", pid, "--by", "alice", "-c", str(config), "--wait", "0"])
    assert queued.exit_code == 3 and "queued" in queued.output, queued.output
    with running_daemon(config):  # the daemon applies it at its next tick, through its own correlator
        args = ["problems", "resolve", pid, "--by", "bob", "--reason", "restarted", "-c", str(config), "--wait", "20"]
        resolved = runner.invoke(app, args)
        assert resolved.exit_code == 0, resolved.output
        again = runner.invoke(app, ["problems", "resolve", pid, "--by", "bob", "-c", str(config), "--wait", "20"])
        assert again.exit_code == 1 and "already resolved" in again.output
    detail = json.loads(runner.invoke(app, ["problems", "show", pid, "-c", str(config), "-f", "json"]).stdout)
    assert detail["problem"]["status"] == "resolved"
    assert [e["kind"] for e in detail["timeline"]] == ["opened", "updated", "updated", "resolved"]
    assert detail["timeline"][2]["message"] == "acknowledged by alice"
    assert detail["timeline"][3]["message"] == "resolved by bob: restarted"
    missing = runner.invoke(app, ["problems", "show", "p-nope", "-c", str(config)])
    assert missing.exit_code == 1 and "no problem" in missing.output
