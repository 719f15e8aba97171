"""``aiopsd report kpi`` over a store built through the real repositories."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from daemon.cli.main import app
from tests.daemon.kpi.conftest import S, U
from tests.daemon.kpi.scenario import Scenario

runner = CliRunner()


def _env(tmp_path: Path) -> dict[str, str]:
    return {"AIOPSD_STORE__URL": f"sqlite:///{tmp_path / 'aiopsd.db'}", "AIOPSD_KPI__WEEKS": "3"}


def test_json_markdown_and_html(week: Scenario, tmp_path: Path) -> None:
    env = _env(tmp_path)
    done = runner.invoke(app, ["report", "kpi", "--since", str(S), "--until", str(U), "--format", "json"], env=env)
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["summary"]["auto_resolution_rate"] == 0.25 and len(report["weeks"]) == 3
    md = runner.invoke(app, ["report", "kpi", "--since", str(S), "--until", str(U)], env=env)
    assert "| Auto-resolution rate | 25.0% |" in md.stdout and "| memory_leak | 2 | 2 | 1 | 50.0% |" in md.stdout
    out = tmp_path / "kpi.html"
    html = runner.invoke(app, ["report", "kpi", "--since", str(S), "--until", str(U), "-f", "html", "-o", str(out)],
                         env=env)  # fmt: skip
    assert html.exit_code == 0 and "wrote the KPI report" in html.stderr
    assert out.read_text().startswith("<!DOCTYPE html>") and out.read_text().count("<svg") == 5


def test_bad_times_are_explained(week: Scenario, tmp_path: Path) -> None:
    env = _env(tmp_path)
    done = runner.invoke(app, ["report", "kpi", "--since", "last tuesday"], env=env)
    assert done.exit_code == 2 and "--since/--until" in done.stderr and "RFC 3339" in done.stderr
    backwards = runner.invoke(app, ["report", "kpi", "--since", str(U), "--until", str(S)], env=env)
    assert backwards.exit_code == 2 and "must be before" in backwards.stderr


def test_bad_cost_model_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "aiopsd.yaml"
    config.write_text("kpi:\n  cost_per_human_hour: -5\n")
    done = runner.invoke(app, ["report", "kpi", "-c", str(config)], env=_env(tmp_path))
    assert done.exit_code == 2 and f"{config}:2 kpi.cost_per_human_hour" in done.stderr
