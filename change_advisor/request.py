"""The change request: what is proposed, where, when, by whom, and the change itself in one of three forms.

A request is a YAML or JSON file (schema and examples in ``examples/changes/``). `load_change_request` reports every
problem at once with the file, the line (YAML) and the field path.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from change_advisor.errors import ChangeRequestError, RequestIssue

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChangeType(StrEnum):
    deploy = "deploy"
    config = "config"
    infrastructure = "infrastructure"
    database_migration = "database_migration"
    scaling = "scaling"
    security = "security"
    network = "network"
    other = "other"


Criticality = Literal["low", "medium", "high", "critical"]


class Target(Frozen):
    """A Kubernetes object, service or namespace the change touches."""

    kind: Literal[
        "namespace",
        "deployment",
        "statefulset",
        "daemonset",
        "service",
        "job",
        "cronjob",
        "node",
        "cluster",
        "database",
    ]
    name: str = Field(min_length=1)
    namespace: str | None = None
    criticality: Criticality = "medium"

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


class ChangeWindow(Frozen):
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> ChangeWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone, e.g. 2026-03-02T14:00:00+01:00 or ...Z")
        if self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} must be after start {self.start.isoformat()}")
        return self


class RollbackPlan(Frozen):
    description: str = Field(min_length=1)
    rehearsed: bool = False
    automated: bool = False


class TestEvidence(Frozen):
    kind: Literal["unit", "integration", "e2e", "staging", "load", "canary", "manual"]
    result: Literal["passed", "failed"]
    link: str | None = None


class DiffStats(Frozen):
    """Diff statistics as a pipeline knows them (the Kamei size and diffusion metrics)."""

    files: int = Field(ge=1)
    lines_added: int = Field(ge=0)
    lines_deleted: int = Field(ge=0)
    subsystems: int = Field(1, ge=1)
    directories: int = Field(1, ge=1)
    lines_before: int | None = Field(None, ge=0, description="lines of the touched files before the change")
    entropy: float | None = Field(None, ge=0)
    fix: bool = False


class GitRange(Frozen):
    """A range ``base..head`` in a local repository; aiopsd computes the Kamei metrics with the git CLI."""

    repo: Path
    base: str = Field(min_length=1)
    head: str = Field("HEAD", min_length=1)


class ManifestPair(Frozen):
    """Kubernetes manifests (multi-document YAML files) before and after the change."""

    before: Path
    after: Path


class ChangeSpec(Frozen):
    diff_stats: DiffStats | None = None
    git: GitRange | None = None
    manifests: ManifestPair | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ChangeSpec:
        given = [name for name in ("diff_stats", "git", "manifests") if getattr(self, name) is not None]
        if not given:
            raise ValueError("expected at least one of diff_stats, git, manifests")
        if self.diff_stats is not None and self.git is not None:
            raise ValueError("give either diff_stats or git (both describe the code diff), not both")
        return self


class ChangeRequest(Frozen):
    id: str
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    type: ChangeType
    targets: list[Target] = Field(min_length=1)
    window: ChangeWindow
    author: str = Field(min_length=1)
    rollback: RollbackPlan | None = None
    test_evidence: list[TestEvidence] = Field(default_factory=list)
    change: ChangeSpec

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("expected letters, digits, '.', '_' or '-' (at most 64), e.g. CHG-1042")
        return value

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = re.sub(r"[\s-]+", "_", value.strip().lower())
            allowed = [t.value for t in ChangeType]
            if value not in allowed:
                raise ValueError(f"unknown change type {value!r}; expected one of {allowed}")
        return value

    def with_resolved_paths(self, base: Path) -> ChangeRequest:
        """Paths in the request are relative to the request file."""
        spec = self.change
        git = spec.git.model_copy(update={"repo": base / spec.git.repo}) if spec.git else None
        manifests = (
            spec.manifests.model_copy(
                update={"before": base / spec.manifests.before, "after": base / spec.manifests.after}
            )
            if spec.manifests
            else None
        )
        return self.model_copy(update={"change": spec.model_copy(update={"git": git, "manifests": manifests})})


class _LineLoader(yaml.SafeLoader):
    pass


def _lines(node: yaml.Node, path: tuple[str | int, ...], out: dict[tuple[str | int, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            _lines(value, (*path, key.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), out)


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_change_request(
    data: Any, source: str = "request", lines: dict[tuple[str | int, ...], int] | None = None
) -> ChangeRequest:
    """Validate an already-parsed mapping (from a file or an HTTP body); every problem is reported."""
    if not isinstance(data, dict):
        raise ChangeRequestError(source, [RequestIssue(source, "expected a mapping with id, title, type, ...")])
    try:
        return ChangeRequest.model_validate(data)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            line = next((lines[loc[:cut]] for cut in range(len(loc), -1, -1) if lines and loc[:cut] in lines), None)
            where = f"{source}:{line}" if line else source
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"unknown field {loc[-1]!r}"
            elif err["type"] == "missing":
                message = "required field is missing"
            elif "input" in err and err["type"] not in ("value_error", "assertion_error"):
                message += f" (got {err['input']!r})"
            issues.append(RequestIssue(f"{where} {_dotted(loc)}", message))
        raise ChangeRequestError(source, issues) from None


def load_change_request(path: Path) -> ChangeRequest:
    """Read a change request from YAML (.yaml/.yml) or JSON (.json); relative paths resolve against its folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChangeRequestError(str(path), [RequestIssue(str(path), f"cannot read file: {exc.strerror}")]) from exc
    lines: dict[tuple[str | int, ...], int] = {}
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ChangeRequestError(
                str(path), [RequestIssue(f"{path}:{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg}")]
            ) from exc
    else:
        try:
            node = yaml.compose(text, Loader=_LineLoader)
            data = yaml.load(text, Loader=_LineLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            raise ChangeRequestError(
                str(path), [RequestIssue(where, f"invalid YAML: {getattr(exc, 'problem', None) or exc}")]
            ) from exc
        if node is not None:
            _lines(node, (), lines)
    return parse_change_request(data, str(path), lines).with_resolved_paths(path.parent)
