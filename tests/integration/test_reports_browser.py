"""The KPI and knowledge HTML reports rendered by real headless chromium with the network blocked: they must be
self-contained and show the numbers and plots."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from daemon.kpi import compute_kpis
from daemon.reports import knowledge_report, kpi_report
from daemon.settings.kpi import KpiSettings
from tests.daemon.kpi.conftest import S, U, build_week
from tests.harness.common import unavailable

pytestmark = pytest.mark.integration


def _self_contained(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"url\((?!#)", html) and "@import" not in html and "<script" not in html


def _dump_dom(html: str, tmp_path: Path, name: str) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        unavailable("chromium", "install it with scripts/install-debian.sh chromium")
    page = tmp_path / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / f'profile-{name}'}",
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_kpi_and_knowledge_reports_render_in_chromium(tmp_path: Path) -> None:
    sc = build_week(tmp_path)
    report = compute_kpis(sc.store, KpiSettings(weeks=4), S, U)
    kpi_html = kpi_report.render(report, "html")
    articles = [sc.knowledge.article(a.signature) for a in sc.knowledge.articles()]
    kb_html = knowledge_report.render_html(articles, U)
    _self_contained(kpi_html)
    _self_contained(kb_html)

    dom = _dump_dom(kpi_html, tmp_path, "kpi")
    assert '<div class="value" id="deflection">50.0%</div>' in dom
    assert '<div class="value" id="auto-resolution">25.0%</div>' in dom
    assert '<div class="value" id="mttr">14m 45s</div>' in dom and '<div class="value" id="mttd">48s</div>' in dom
    assert '<div class="value" id="cost">37.55 USD</div>' in dom
    assert "guard:max_unavailable" in dom and "verification_failed" in dom
    for label in ["deflection and auto-resolution rate per week", "MTTD and MTTR per week",
                  "auto-resolution rate by category", "escalations by reason",
                  "confidence distribution, automated versus escalated"]:  # fmt: skip
        assert f'aria-label="{label}"' in dom, label
    weeks = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>", dom)
    assert len(weeks) == 4 and weeks == sorted(weeks)  # the week-over-week table, oldest first

    dom = _dump_dom(kb_html, tmp_path, "kb")
    (article,) = articles
    assert f'<h2 id="{article.signature}">{article.signature}</h2>' in dom
    assert 'aria-label="runbook confidence"' in dom and "<td>rollout-restart</td>" in dom
    assert "prior Beta(1, 2)" in dom
