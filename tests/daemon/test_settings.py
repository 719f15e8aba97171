from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from daemon.cli.main import app
from daemon.errors import ConfigError
from daemon.settings import load_settings

GOOD = """\
daemon:
  interval: 30s
sources:
  prometheus:
    - name: main
      url: http://127.0.0.1:9090
      queries:
        - name: cpu
          promql: rate(container_cpu_usage_seconds_total[5m])
          entity: {namespace: namespace, pod: pod}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aiopsd.yaml"
    path.write_text(text)
    return path


def test_file_then_environment_override(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    settings = load_settings(path, {"AIOPSD_DAEMON__INTERVAL": "45s", "HOME": "/root"})
    assert settings.daemon.interval == timedelta(seconds=45)
    assert settings.sources.prometheus[0].queries[0].entity == {"namespace": "namespace", "pod": "pod"}
    assert load_settings(path, {}).daemon.interval == timedelta(seconds=30)


def test_every_error_is_reported_with_line_path_and_expectation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD.replace("interval: 30s", "interval: soon\n  colour: blue").replace(
            "url: http://127.0.0.1:9090", "url: 127.0.0.1:9090"
        ),
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    messages = [str(i) for i in info.value.issues]
    assert len(messages) == 3
    assert messages[0].startswith(f"{path}:2 daemon.interval: expected a duration such as 15s")
    assert messages[1].startswith(f"{path}:3 daemon.colour: unknown key 'colour'; expected one of")
    assert "interval" in messages[1] and "listen" in messages[1]
    assert messages[2].startswith(f"{path}:7 sources.prometheus[0].url: expected an http:// or https:// URL")


def test_missing_required_key(tmp_path: Path) -> None:
    text = GOOD.replace("          promql: rate(container_cpu_usage_seconds_total[5m])\n", "")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), {})
    assert f"{tmp_path / 'aiopsd.yaml'}:8 sources.prometheus[0].queries[0].promql: required key is missing" in str(
        info.value
    )


def test_duplicate_query_names(tmp_path: Path) -> None:
    text = GOOD + "        - name: cpu\n          promql: up\n"
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), {})
    assert "query names must be unique within a source; repeated: ['cpu']" in str(info.value)


def test_invalid_yaml_points_at_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "daemon:\n  interval: [15s\n"), {})
    assert f"{tmp_path / 'aiopsd.yaml'}:3:1: invalid YAML" in str(info.value)


def test_environment_errors_are_reported_too() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"AIOPSD_DAEMON__LISTEN": "everywhere"})
    assert "daemon.listen: expected host:port" in str(info.value)


def test_secret_from_file_never_printed(tmp_path: Path) -> None:
    secret = tmp_path / "db-url"
    secret.write_text("postgresql://aiopsd:s3cret@127.0.0.1/aiopsd\n")
    settings = load_settings(write(tmp_path, GOOD + f"store:\n  url_file: {secret}\n"), {})
    assert settings.store_url() == "postgresql://aiopsd:s3cret@127.0.0.1/aiopsd"
    shown = CliRunner().invoke(app, ["config", "show", str(tmp_path / "aiopsd.yaml")])
    assert shown.exit_code == 0 and "s3cret" not in shown.output


def test_config_validate_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["config", "validate", str(write(tmp_path, GOOD))])
    assert ok.exit_code == 0 and "OK" in ok.output
    bad = runner.invoke(app, ["config", "validate", str(write(tmp_path, "sources: {prometheus: [{name: X}]}"))])
    assert bad.exit_code == 2
    assert "sources.prometheus[0].name: expected a lower-case name" in bad.output
    assert "sources.prometheus[0].url: required key is missing" in bad.output


def test_examples_validate() -> None:
    examples = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*.yaml"))
    daemon_configs = [p for p in examples if p.name in ("aiopsd.yaml", "demo.yaml")]
    assert daemon_configs, "examples/aiopsd.yaml and examples/demo.yaml are documented configs"
    for path in daemon_configs:
        load_settings(path, {})
