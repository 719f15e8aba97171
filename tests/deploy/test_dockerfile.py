"""deploy/Dockerfile's invariants, read from the file (no registry here to pull a base image from): multi-stage,
nothing built in the runtime stage, a numeric non-root user, every write path on a volume (read-only root), and the
same user, port, command and config path as the Helm chart."""

from __future__ import annotations

import json
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import CHART, FULL_VALUES, REPO, one, render

DOCKERFILE = REPO / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO / "deploy" / "Dockerfile.dockerignore"


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.instructions if i == instruction]

    def env(self) -> dict[str, str]:
        pairs = [p for a in self.args("ENV") for p in shlex.split(a)]
        return dict(p.split("=", 1) for p in pairs)


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages: instructions with continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            lines.append(current.strip())
            current = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            assert len(words) == 3 and words[1].upper() == "AS", f"unnamed stage: {line}"
            stages.append(Stage(words[0], words[2]))
        elif not stages:
            assert instruction == "ARG", line
            key, _, value = rest.partition("=")
            args[key] = value
        else:
            stages[-1].instructions.append((instruction, rest.strip()))
    return args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def test_parser_joins_continuations_and_names_stages() -> None:
    args, stages = parse('ARG X=1\nFROM a:1 AS one\n# c\nRUN a \\\n  && b\nENV A=1 \\\n    B="2 3"\n')
    assert args == {"X": "1"}
    assert stages[0].args("RUN") == ["a  && b"]
    assert stages[0].env() == {"A": "1", "B": "2 3"}
    with pytest.raises(AssertionError, match="unnamed"):
        parse("FROM a:1\n")


def test_multi_stage_build_with_a_pinned_base(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    args, stages = dockerfile
    assert [s.name for s in stages] == ["build", "runtime"]
    base = args["PYTHON_IMAGE"]
    assert all(s.base == "${PYTHON_IMAGE}" for s in stages)
    assert ":" in base and not base.endswith(":latest") and "3.11" in base  # requires-python >= 3.11
    runtime = stages[-1]
    assert not any("pip install" in run or "apt-get install" in run for run in runtime.args("RUN"))
    copies = runtime.args("COPY")
    assert copies and all(c.startswith("--from=build ") for c in copies)
    assert not any(i == "ADD" for s in stages for i, _ in s.instructions)


def test_build_stage_copies_exactly_the_packages_the_project_ships(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    build = dockerfile[1][0]
    sources = {word for c in build.args("COPY") for word in c.split()[:-1]}
    for source in sources:
        assert (REPO / source).exists(), source
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert sources == packages | {"pyproject.toml", "README.md"}
    ignore = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip()[:1] not in ("", "#")]
    assert ignore[0] == "*"  # everything else (.venv, .git, tests, caches) stays out of the build context
    assert {line.lstrip("!").rstrip("/") for line in ignore if line.startswith("!")} == sources


def test_runs_as_a_numeric_non_root_user_matching_the_chart(
    dockerfile: tuple[dict[str, str], list[Stage]], tmp_path: Path
) -> None:
    runtime = dockerfile[1][-1]
    user = runtime.args("USER")[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    after_user = runtime.instructions[[i for i, _ in runtime.instructions].index("USER") :]
    assert not [a for i, a in after_user if i == "RUN"]  # nothing runs as root after dropping privileges
    assert any(f"--uid {uid}" in run for run in runtime.args("RUN"))
    pod = one(render(FULL_VALUES, tmp=tmp_path), "Deployment")["spec"]["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (int(uid), int(gid))


def test_every_write_path_is_a_volume(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    runtime = dockerfile[1][-1]
    volumes = [v for arg in runtime.args("VOLUME") for v in json.loads(arg)]
    assert set(volumes) == {"/var/lib/aiopsd", "/tmp"}
    env = runtime.env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # bytecode is compiled in the build stage
    for name in ("HOME", "TMPDIR", "MPLCONFIGDIR", "NUMBA_CACHE_DIR", "AIOPSD_DAEMON__STATE_DIR"):
        assert any(env[name] == v or env[name].startswith(v + "/") for v in volumes), name
    assert any("compileall" in run for run in dockerfile[1][0].args("RUN"))


def test_port_command_and_config_path_match_the_chart(
    dockerfile: tuple[dict[str, str], list[Stage]], values: dict[str, Any]
) -> None:
    runtime = dockerfile[1][-1]
    assert runtime.args("EXPOSE") == [str(values["service"]["port"])]
    assert runtime.env()["AIOPSD_DAEMON__LISTEN"] == f"0.0.0.0:{values['service']['port']}"
    entrypoint = json.loads(runtime.args("ENTRYPOINT")[-1])  # exec form: signals reach the daemon
    assert entrypoint == ["/opt/aiopsd/bin/aiopsd"]
    cmd = json.loads(runtime.args("CMD")[-1])
    assert cmd == ["run", "--config", "/etc/aiopsd/aiopsd.yaml"]
    template = (CHART / "templates" / "deployment.yaml").read_text()
    assert 'args: ["run", "--config", "/etc/aiopsd/aiopsd.yaml"]' in template
    assert "mountPath: /etc/aiopsd\n" in template
