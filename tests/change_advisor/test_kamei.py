"""Kamei metrics from a real git repository created in the test."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest

from change_advisor.errors import GitMetricsError
from change_advisor.kamei import kamei_metrics
from tests.harness.common import unavailable

DAY = 86400
T0 = 1_700_000_000


def _git(repo: Path, *args: str, author: str = "ann", when: int = T0) -> str:
    env = {
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": f"{author}@example.com",
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": f"{author}@example.com",
        "GIT_AUTHOR_DATE": f"{when} +0000",
        "GIT_COMMITTER_DATE": f"{when} +0000",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True).stdout


def _commit(repo: Path, files: dict[str, str], message: str, author: str, when: int) -> str:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(repo, "add", "-A", author=author, when=when)
    _git(repo, "commit", "-q", "-m", message, author=author, when=when)
    return _git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        unavailable("git", "the git command is not installed")
    _git(tmp_path, "init", "-q", "-b", "main")
    _commit(tmp_path, {"api/server.py": "a\nb\nc\n", "api/util.py": "x\n"}, "initial", "ann", T0)
    _commit(tmp_path, {"api/server.py": "a\nb\nc\nd\n"}, "add d", "bob", T0 + 10 * DAY)
    _commit(tmp_path, {"docs/readme.md": "hello\n"}, "docs", "ann", T0 + 20 * DAY)
    _git(tmp_path, "tag", "base")
    # the change: bob edits two subsystems, says it fixes a bug
    _commit(
        tmp_path,
        {"api/server.py": "a\nB\nc\nd\ne\n", "db/schema.sql": "create table t;\n"},
        "Fix crash in server",
        "bob",
        T0 + 30 * DAY,
    )
    _commit(tmp_path, {"db/schema.sql": "create table t;\ncreate index i;\n"}, "index", "bob", T0 + 31 * DAY)
    return tmp_path


def test_metrics_of_a_range(repo: Path) -> None:
    m = kamei_metrics(repo, "base", "HEAD")
    assert (m.ns, m.nd, m.nf) == (2, 2, 2)
    # server.py: +2 -1 (B replaces b, e added); schema.sql: +2 new file
    assert (m.la, m.ld) == (4, 1)
    assert m.lt == 4  # server.py had 4 lines at base; schema.sql did not exist
    assert m.fix is True
    assert m.ndev == 2  # ann and bob touched api/server.py before
    assert m.nuc == 2
    assert m.exp == 1 and m.sexp == 1  # bob's one earlier commit, in api/
    assert m.age == pytest.approx(31 - 10, rel=1e-6)  # server.py last changed on day 10; head is day 31
    assert m.rexp == pytest.approx(1 / (21 / 365.25 + 1), rel=1e-6)
    assert m.entropy == pytest.approx(-(3 / 5) * math.log2(3 / 5) - (2 / 5) * math.log2(2 / 5))


def test_unknown_revision_and_empty_range(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(GitMetricsError, match="'nope' is not a commit"):
        kamei_metrics(repo, "nope")
    with pytest.raises(GitMetricsError, match="empty"):
        kamei_metrics(repo, "HEAD", "HEAD")
    with pytest.raises(GitMetricsError, match="not a directory"):
        kamei_metrics(tmp_path / "missing", "HEAD~1")


def test_request_with_a_git_range_is_scored_from_its_metrics(repo: Path) -> None:
    from datetime import UTC, datetime

    from change_advisor.advisor import ChangeAdvisor
    from change_advisor.context import OfflineContext
    from change_advisor.model import RiskModel
    from change_advisor.request import load_change_request

    request_file = repo / "requests" / "cr.yaml"  # the repository is the fixture's tmp dir: the request sits inside
    request_file.parent.mkdir()
    request_file.write_text(
        "id: CHG-7\ntitle: schema and server\ntype: deploy\nauthor: bob\n"
        "targets: [{kind: deployment, name: api, namespace: prod}]\n"
        "window: {start: 2026-03-03T21:00:00Z, end: 2026-03-03T22:00:00Z}\n"
        "change: {git: {repo: .., base: base}}\n"
    )
    advisor = ChangeAdvisor(RiskModel.prior(), OfflineContext(), clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))
    report = advisor.assess(load_change_request(request_file))
    assert report.kamei is not None and report.kamei.la == 4
    assert report.features["la"] == 4 and report.features["fix"] == 1.0
    assert report.features["added_share"] == pytest.approx(4 / 5)
    assert report.calendar.off_hours and not report.calendar.peak_hours
