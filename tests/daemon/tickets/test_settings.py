"""The ``tickets`` settings section: secrets from files or the environment, masked when shown, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from daemon.errors import ConfigError
from daemon.settings import load_settings
from daemon.tickets.factory import build_ticket_system
from daemon.tickets.rt import RequestTracker
from tests.daemon.tickets.helpers import make_store


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aiopsd.yaml"
    path.write_text(text)
    return path


def test_rt_password_from_a_file_reaches_the_request_and_is_masked_when_shown(tmp_path: Path):
    (tmp_path / "rt-password").write_text("hunter2-from-file\n")
    config = write(
        tmp_path,
        f"tickets:\n  system: rt\n  rt:\n    url: http://127.0.0.1:1\n    username: aiopsd\n"
        f"    password_file: {tmp_path / 'rt-password'}\n",
    )
    settings = load_settings(config, environ={})
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"items": []})

    system = build_ticket_system(settings.tickets, make_store(tmp_path), transport=httpx.MockTransport(answer))
    assert isinstance(system, RequestTracker)
    assert system.find("fp") is None
    assert seen == ["Basic " + __import__("base64").b64encode(b"aiopsd:hunter2-from-file").decode()]
    assert "hunter2" not in json.dumps(settings.model_dump(mode="json"))


def test_environment_supplies_the_token_and_overrides_the_file(tmp_path: Path):
    config = write(tmp_path, "tickets:\n  system: github\n  github:\n    repo: acme/shop\n")
    settings = load_settings(config, environ={"AIOPSD_TICKETS__GITHUB__TOKEN": "ghp-from-env"})
    assert settings.tickets.github is not None
    assert settings.tickets.github.token is not None
    assert settings.tickets.github.token.get_secret_value() == "ghp-from-env"
    assert "ghp-from-env" not in repr(settings)


def test_missing_secret_file_names_the_setting_and_the_file(tmp_path: Path):
    config = write(
        tmp_path,
        "tickets:\n  system: pagerduty\n  pagerduty:\n    routing_key_file: /nonexistent/pd-key\n",
    )
    settings = load_settings(config, environ={})
    with pytest.raises(ConfigError, match=r"tickets.pagerduty.routing_key_file.*\n.*/nonexistent/pd-key: cannot read"):
        build_ticket_system(settings.tickets, make_store(tmp_path))


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("tickets:\n  system: jira\n", ":2 tickets: system is 'jira' but the section tickets.jira is missing"),
        (
            "tickets:\n  system: rt\n  rt:\n    url: rt.example.com\n",
            ":4 tickets.rt.url: expected an http:// or https:// URL, got 'rt.example.com'",
        ),
        ("tickets:\n  policy:\n    min_severity: high\n", ":3 tickets.policy.min_severity: Input should be"),
        (
            "tickets:\n  notify:\n    webhooks:\n      - name: chat\n",
            ":4 tickets.notify.webhooks[0]: expected url or url_file",
        ),
    ],
)
def test_bad_settings_say_where_and_what_was_expected(tmp_path: Path, yaml_text: str, expected: str):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, yaml_text), environ={})
    assert expected in str(info.value)
