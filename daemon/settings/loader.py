"""Loading the settings tree from a YAML file and the environment, with errors that point into the file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from daemon.errors import ConfigError, ConfigIssue
from daemon.settings.changes import ChangeAdvisorSettings
from daemon.settings.core import (
    DaemonSettings,
    DetectionSettings,
    LoggingSettings,
    SourcesSettings,
    StoreSettings,
)
from daemon.settings.correlation import CorrelationSettings
from daemon.settings.kpi import KpiSettings
from daemon.settings.remediation import RemediationSettings
from daemon.settings.tickets import TicketsSettings

ENV_PREFIX = "AIOPSD_"
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("aiopsd_settings_environ", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """The environment source, reading a given mapping instead of os.environ (tests, embedding)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        return parse_env_vars(environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class Settings(BaseSettings):
    """Root of the settings tree. Environment variables override the file: ``AIOPSD_DAEMON__INTERVAL=30s``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)

    daemon: DaemonSettings = DaemonSettings()
    store: StoreSettings = StoreSettings()
    sources: SourcesSettings = SourcesSettings()
    detection: DetectionSettings = DetectionSettings()
    logging: LoggingSettings = LoggingSettings()
    tickets: TicketsSettings = TicketsSettings()
    correlation: CorrelationSettings = CorrelationSettings()
    remediation: RemediationSettings = RemediationSettings()
    changes: ChangeAdvisorSettings = ChangeAdvisorSettings()
    kpi: KpiSettings = KpiSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the environment overrides the file (passed as init values); no .env files are read
        return (_MappingEnvSource(settings_cls), init_settings)

    def store_url(self) -> str:
        url = read_secret(self.store.url, self.store.url_file, "store.url_file")
        if url:
            return url
        return f"sqlite:///{(self.daemon.state_dir / 'aiopsd.db').as_posix()}"


def read_secret(value: SecretStr | None, file: Path | None, what: str) -> str | None:
    """A secret given inline (or by environment) or in a file; the file wins. Never logged."""
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(what, [ConfigIssue(str(file), f"cannot read secret file: {exc.strerror}")]) from exc
    return value.get_secret_value() if value is not None else None


class _LineMapLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping key, to point errors at the file."""


def _compose_lines(node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value
            lines[(*path, name)] = key.start_mark.line + 1
            _compose_lines(value, (*path, name), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _compose_lines(item, (*path, index), lines)


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[str | int, ...], int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [ConfigIssue(str(path), f"cannot read file: {exc.strerror}")]) from exc
    try:
        node = yaml.compose(text, Loader=_LineMapLoader)
        data = yaml.load(text, Loader=_LineMapLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [ConfigIssue(where, f"invalid YAML: {problem}")]) from exc
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [ConfigIssue(str(path), "expected a mapping of sections at the top level")])
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _compose_lines(node, (), lines)
    return data, lines


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str] | None:
    """The keys the model accepts at the parent of ``loc``, to say what was expected for an unknown key."""
    model: type[BaseModel] | None = Settings
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
    return sorted(model.model_fields) if model is not None else None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _issues(exc: ValidationError, source: str, lines: Mapping[tuple[str | int, ...], int]) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in lines:
                line = lines[loc[:cut]]
                break
        where = f"{source}:{line}" if line else source
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc)
            message = f"unknown key {loc[-1]!r}" + (f"; expected one of {allowed}" if allowed else "")
        elif err["type"] == "missing":
            message = "required key is missing"
        elif "input" in err and err["type"] not in ("value_error", "assertion_error"):
            message += f" (got {err['input']!r})"
        issues.append(ConfigIssue(f"{where} {_dotted(loc)}", message))
    return issues


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file (optional) and the environment; raise ConfigError listing every problem."""
    data, lines = read_yaml(path) if path is not None else ({}, {})
    source = str(path) if path is not None else "environment"
    token = _ENVIRON.set(dict(os.environ if environ is None else environ))
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(source, _issues(exc, source, lines)) from None
    finally:
        _ENVIRON.reset(token)
