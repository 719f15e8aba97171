from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from daemon.errors import ConfigError
from daemon.settings import load_settings


def test_correlation_section_loads_from_yaml_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "aiopsd.yaml"
    path.write_text(
        """
correlation:
  group_window: 2m
  quiet_period: 10m
  topology:
    services:
      - {name: frontend, namespace: shop, workload: deployment/frontend, depends_on: [cart]}
""",
        encoding="utf-8",
    )
    settings = load_settings(path, environ={"AIOPSD_CORRELATION__REOPEN_WINDOW": "2h"})
    assert settings.correlation.group_window == timedelta(minutes=2)
    assert settings.correlation.reopen_window == timedelta(hours=2)
    assert settings.correlation.topology.services[0].depends_on == ["cart"]


def test_bad_correlation_settings_point_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "aiopsd.yaml"
    path.write_text(
        "correlation:\n  max_distance: 9\n  topology:\n    services:\n      - {name: Cart}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    text = str(err.value)
    assert "aiopsd.yaml:2 correlation.max_distance" in text
    assert "correlation.topology.services[0].name: expected a DNS-1123 name" in text
