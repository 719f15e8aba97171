"""``aiopsd kb list/show/export`` over a store built through the real repositories."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from daemon.cli.main import app
from tests.daemon.kpi.conftest import build_week

runner = CliRunner()


def test_list_show_export(tmp_path: Path) -> None:
    sc = build_week(tmp_path)
    env = {"AIOPSD_STORE__URL": f"sqlite:///{tmp_path / 'aiopsd.db'}"}
    (article,) = sc.knowledge.articles()
    listed = runner.invoke(app, ["kb", "list", "--format", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert (row["signature"], row["runbook"], row["worked"], row["failed"]) == (
        article.signature,
        "rollout-restart",
        2,
        1,
    )
    assert row["confidence"] == 0.5  # Beta(1 + 2, 2 + 1)
    table = runner.invoke(app, ["kb", "list"], env=env)
    assert "SIGNATURE" in table.stdout and "rollout-restart" in table.stdout
    shown = runner.invoke(app, ["kb", "show", article.signature], env=env)
    assert "**Fix:** `rollout-restart` — confidence 0.50 (2 worked, 1 failed)" in shown.stdout
    assert "a person → manual" in shown.stdout
    missing = runner.invoke(app, ["kb", "show", "node:nothing"], env=env)
    assert missing.exit_code == 1 and "no knowledge article" in missing.stderr
    out = tmp_path / "kb.md"
    exported = runner.invoke(app, ["kb", "export", "--format", "md", "-o", str(out)], env=env)
    assert exported.exit_code == 0 and "wrote 1 articles" in exported.stderr
    text = out.read_text()
    assert text.startswith("# aiopsd knowledge base") and f"## {article.signature}" in text
    assert "| rollout-restart | 0.50 |" in text and "prior Beta(1, 2)" in text
    html = runner.invoke(app, ["kb", "export", "--format", "html"], env=env)
    assert html.stdout.startswith("<!DOCTYPE html>") and f'<h2 id="{article.signature}">' in html.stdout
    as_json = json.loads(runner.invoke(app, ["kb", "export", "-f", "json"], env=env).stdout)
    assert [h["outcome"] for h in as_json[0]["history"]] == ["manual", "failed", "verified", "verified"]
