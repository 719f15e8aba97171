"""The change metrics of Kamei et al. (TSE 2013) for a git range, computed with the git CLI.

The range ``base..head`` is treated as one change: its diff against ``base`` gives the size and diffusion metrics,
the commits in the range give ``fix``, and the history up to ``base`` gives the history and experience metrics
of the files touched and of the author of ``head``.
"""

from __future__ import annotations

import logging
import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field

from change_advisor.errors import GitMetricsError

logger = logging.getLogger(__name__)

FIX_WORDS = re.compile(r"\b(fix(e[sd])?|bug|defect|patch|hotfix|regression|crash)\b", re.IGNORECASE)
_DAY = 86400.0
_YEAR = 365.25 * _DAY


class KameiMetrics(BaseModel):
    """Size (la, ld, lt), diffusion (ns, nd, nf, entropy), purpose (fix), history (ndev, age, nuc) and author
    experience (exp, rexp, sexp) of one change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ns: int = Field(ge=0, description="subsystems (top-level directories) touched")
    nd: int = Field(ge=0, description="directories touched")
    nf: int = Field(ge=0, description="files touched")
    entropy: float = Field(ge=0, description="spread of the modified lines over the files (bits)")
    la: int = Field(ge=0, description="lines added")
    ld: int = Field(ge=0, description="lines deleted")
    lt: int = Field(ge=0, description="lines of the touched files before the change")
    fix: bool = Field(description="a commit in the range says it fixes a defect")
    ndev: int = Field(ge=0, description="developers who changed the touched files before")
    age: float = Field(ge=0, description="mean days since the touched files were last changed")
    nuc: int = Field(ge=0, description="unique earlier changes to the touched files")
    exp: int = Field(ge=0, description="earlier changes by the author")
    rexp: float = Field(ge=0, description="earlier changes by the author, weighted 1/(years ago + 1)")
    sexp: int = Field(ge=0, description="earlier changes by the author in the touched subsystems")


@dataclass(frozen=True)
class _Commit:
    sha: str
    author: str
    time: float
    files: tuple[str, ...]


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "-c", "core.quotepath=off", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except FileNotFoundError as exc:
        raise GitMetricsError("the git command is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitMetricsError(f"git {' '.join(args)} in {repo} took longer than 120 s") from exc
    if done.returncode != 0:
        raise GitMetricsError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
    return done.stdout


def _resolve(repo: Path, rev: str) -> str:
    if not repo.is_dir():
        raise GitMetricsError(f"{repo} is not a directory; expected a local git repository")
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except GitMetricsError as exc:
        raise GitMetricsError(f"{repo}: {rev!r} is not a commit in this repository") from exc


def _history(repo: Path, upto: str) -> list[_Commit]:
    out = _git(repo, "log", "--no-renames", "--format=%x01%H%x00%ae%x00%ct", "--name-only", upto)
    commits = []
    for block in out.split("\x01")[1:]:
        head, _, rest = block.partition("\n")
        sha, author, ts = head.split("\x00")
        files = tuple(line for line in rest.splitlines() if line.strip())
        commits.append(_Commit(sha, author.lower(), float(ts), files))
    return commits


def _subsystem(path: str) -> str:
    parts = PurePosixPath(path).parts
    return parts[0] if len(parts) > 1 else "."


def _directory(path: str) -> str:
    return str(PurePosixPath(path).parent)


def _entropy(changed: list[int]) -> float:
    total = sum(changed)
    if total == 0:
        return 0.0
    return -sum(c / total * math.log2(c / total) for c in changed if c)


def _lines_at(repo: Path, rev: str, paths: list[str]) -> int:
    """Lines of the files at ``rev`` (files the change creates are not there), read with one ``git cat-file``."""
    existing = set(_git(repo, "ls-tree", "-r", "--name-only", rev, "--", *paths).splitlines()) if paths else set()
    wanted = [p for p in paths if p in existing]
    if not wanted:
        return 0
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "cat-file", "--batch"],
            input="".join(f"{rev}:{path}\n" for path in wanted).encode(),
            capture_output=True,
            check=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise GitMetricsError(f"git cat-file in {repo} failed: {exc}") from exc
    out, pos, total = done.stdout, 0, 0
    for _ in wanted:
        end = out.index(b"\n", pos)
        size = int(out[pos:end].split()[2])
        total += out[end + 1 : end + 1 + size].count(b"\n")
        pos = end + 1 + size + 1
    return total


def kamei_metrics(repo: Path, base: str, head: str = "HEAD") -> KameiMetrics:
    """Compute the metrics of ``base..head`` in ``repo``; raise GitMetricsError naming what is wrong."""
    base_sha, head_sha = _resolve(repo, base), _resolve(repo, head)
    if base_sha == head_sha:
        raise GitMetricsError(f"{repo}: the range {base}..{head} is empty")
    added: dict[str, int] = {}
    deleted: dict[str, int] = {}
    for line in _git(repo, "diff", "--no-renames", "--numstat", base_sha, head_sha).splitlines():
        a, d, path = line.split("\t", 2)
        added[path] = int(a) if a.isdigit() else 0  # binary files count as touched, without lines
        deleted[path] = int(d) if d.isdigit() else 0
    files = sorted(added)
    if not files:
        raise GitMetricsError(f"{repo}: {base}..{head} changes no files")
    messages = _git(repo, "log", "--format=%s%n%b", f"{base_sha}..{head_sha}")
    author = _git(repo, "log", "-1", "--format=%ae", head_sha).strip().lower()
    history = _history(repo, base_sha)
    now = float(_git(repo, "log", "-1", "--format=%ct", head_sha).strip())

    touched = set(files)
    subsystems = {_subsystem(f) for f in files}
    devs: set[str] = set()
    prior_changes: set[str] = set()
    last_change: dict[str, float] = {}
    exp = sexp = 0
    rexp = 0.0
    for commit in history:
        hit = touched.intersection(commit.files)
        if hit:
            devs.add(commit.author)
            prior_changes.add(commit.sha)
            for path in hit:
                last_change[path] = max(last_change.get(path, 0.0), commit.time)
        if commit.author == author:
            exp += 1
            rexp += 1.0 / ((now - commit.time) / _YEAR + 1.0)
            if subsystems.intersection(_subsystem(f) for f in commit.files):
                sexp += 1
    ages = [(now - t) / _DAY for t in last_change.values()]
    logger.debug("kamei metrics for %s..%s in %s over %d earlier commits", base, head, repo, len(history))
    return KameiMetrics(
        ns=len(subsystems),
        nd=len({_directory(f) for f in files}),
        nf=len(files),
        entropy=_entropy([added[f] + deleted[f] for f in files]),
        la=sum(added.values()),
        ld=sum(deleted.values()),
        lt=_lines_at(repo, base_sha, files),
        fix=bool(FIX_WORDS.search(messages)),
        ndev=len(devs),
        age=max(0.0, sum(ages) / len(ages)) if ages else 0.0,
        nuc=len(prior_changes),
        exp=exp,
        rexp=rexp,
        sexp=sexp,
    )
