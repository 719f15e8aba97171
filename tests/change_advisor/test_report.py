"""The CAB report: Markdown, JSON, and self-contained HTML checked in headless chromium with the network off."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from change_advisor.advisor import ChangeAdvisor, RiskReport
from change_advisor.context import ChangeCalendar, Freeze, OfflineContext
from change_advisor.model import RiskModel
from change_advisor.report import render
from change_advisor.request import load_change_request
from tests.harness.browser import render_dom

EXAMPLES = Path(__file__).parents[2] / "examples" / "changes"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _report(name: str, calendar: ChangeCalendar | None = None) -> RiskReport:
    advisor = ChangeAdvisor(RiskModel.prior(), OfflineContext(calendar), clock=lambda: NOW)
    return advisor.assess(load_change_request(EXAMPLES / name))


def test_risky_manifest_change_is_deferred_with_conditions() -> None:
    report = _report("manifest-payments.yaml")
    assert report.tier == "critical" and report.recommendation == "defer"
    assert any("restore the probe" in c for c in report.conditions)
    assert "write a rollback plan before approval" in report.conditions
    assert report.factors[0].feature == "tests_failed"


def test_freeze_defers_and_says_until_when() -> None:
    calendar = ChangeCalendar(
        freezes=[
            Freeze(name="quarter close", start=datetime(2026, 3, 2, tzinfo=UTC), end=datetime(2026, 3, 5, tzinfo=UTC))
        ]
    )
    frozen = _report("deploy-checkout.yaml", calendar)
    assert frozen.recommendation == "defer"
    assert frozen.conditions[0] == "reschedule after the change freeze 'quarter close'"
    assert frozen.probability > _report("deploy-checkout.yaml").probability


def test_markdown_and_json() -> None:
    report = _report("db-migration.json")
    md = render(report, "md")
    assert md.startswith("# Change risk: CHG-1044")
    assert "| database migration | 1 | +0.80 |" in md
    data = json.loads(render(report, "json"))
    assert data["change_id"] == "CHG-1044" and data["tier"] == report.tier


def test_html_is_self_contained_and_renders_in_chromium(tmp_path: Path) -> None:
    html = render(_report("manifest-payments.yaml"), "html")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"url\((?!#)", html) and "@import" not in html  # only in-document references
    assert html.count("<svg") == 2  # gauge and factors (no similar changes offline)
    dom = render_dom(html, tmp_path, "report")
    assert '<span class="tier tier-critical" id="tier">critical</span>' in dom
    assert "defer" in dom and "probability of failure" in dom
    assert "<svg" in dom and "livenessProbe removed" in dom
