"""The KPI and knowledge HTML reports rendered by real headless chromium with the network blocked: they must be
self-contained and show the numbers and plots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from daemon.kpi import compute_kpis
from daemon.reports import knowledge_report, kpi_report
from daemon.settings.kpi import KpiSettings
from tests.daemon.kpi.conftest import S, U, build_week
from tests.harness.browser import render_dom

pytestmark = pytest.mark.integration


def _self_contained(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"url\((?!#)", html) and "@import" not in html and "<script" not in html


def test_kpi_and_knowledge_reports_render_in_chromium(tmp_path: Path) -> None:
    sc = build_week(tmp_path)
    report = compute_kpis(sc.store, KpiSettings(weeks=4), S, U)
    kpi_html = kpi_report.render(report, "html")
    articles = [sc.knowledge.article(a.signature) for a in sc.knowledge.articles()]
    kb_html = knowledge_report.render_html(articles, U)
    _self_contained(kpi_html)
    _self_contained(kb_html)

    dom = render_dom(kpi_html, tmp_path, "kpi")
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

    dom = render_dom(kb_html, tmp_path, "kb")
    (article,) = articles
    assert f'<h2 id="{article.signature}">{article.signature}</h2>' in dom
    assert 'aria-label="runbook confidence"' in dom and "<td>rollout-restart</td>" in dom
    assert "prior Beta(1, 2)" in dom
