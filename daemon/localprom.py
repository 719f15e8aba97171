"""A local Prometheus on 127.0.0.1 with its own storage: the demo, the tests and the benchmarks run one.

History is loaded with ``promtool tsdb create-blocks-from openmetrics`` *before* Prometheus starts (blocks added to a
running server appear only after its periodic rescan).
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from daemon.errors import AiopsdError

logger = logging.getLogger(__name__)


class LocalPrometheusError(AiopsdError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class HistorySeries:
    """One series of history: metric name, labels, and (unix seconds, value) samples sorted by time."""

    metric: str
    labels: Mapping[str, str]
    samples: Sequence[tuple[float, float]]
    type: str = "gauge"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_openmetrics(series: Iterable[HistorySeries], path: Path) -> int:
    """Write history as OpenMetrics text (grouped by metric family, sorted by time, ending in ``# EOF``)."""
    families: dict[str, list[HistorySeries]] = {}
    for s in series:
        families.setdefault(s.metric, []).append(s)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for metric, members in families.items():
            out.write(f"# TYPE {metric} {members[0].type}\n")
            for s in members:
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s.labels.items()))
                name = f"{metric}_total" if s.type == "counter" else metric
                prefix = f"{name}{{{labels}}}" if labels else name
                for ts, value in sorted(s.samples):
                    out.write(f"{prefix} {value!r} {ts:.3f}\n")
                    count += 1
        out.write("# EOF\n")
    return count


@dataclass
class LocalPrometheus:
    """Prometheus in a directory of its own: config, TSDB, log. ``start()`` / ``stop()``; restartable."""

    workdir: Path
    scrape_targets: Sequence[str] = ()
    scrape_interval: str = "1s"
    job: str = "local"
    port: int = field(default_factory=free_port)
    retention: str = "3650d"
    binary: str = "prometheus"
    extra_flags: Sequence[str] = ()
    rule_files: Sequence[Path] = ()
    alertmanagers: Sequence[str] = ()
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.workdir = self.workdir.resolve()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def load_history(self, series: Iterable[HistorySeries], max_block_duration: str = "24h") -> int:
        """Create TSDB blocks from history; call before ``start()``. Returns the number of samples."""
        if self.running:
            raise LocalPrometheusError("load history before starting Prometheus")
        promtool = shutil.which("promtool")
        if promtool is None:
            raise LocalPrometheusError("promtool not found: install the Debian package 'prometheus'")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        text = self.workdir / "history.om"
        count = write_openmetrics(series, text)
        proc = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics",
             f"--max-block-duration={max_block_duration}", str(text), str(self.data_dir)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        text.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise LocalPrometheusError(f"promtool failed: {proc.stderr.strip()[-2000:]}")
        return count

    def _write_config(self) -> Path:
        config: dict[str, object] = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "scrape_configs": [{"job_name": self.job, "static_configs": [{"targets": list(self.scrape_targets)}]}]
            if self.scrape_targets
            else [],
        }
        if self.rule_files:
            config["rule_files"] = [str(p) for p in self.rule_files]
        if self.alertmanagers:
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(self.alertmanagers)}]}]}
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        binary = shutil.which(self.binary)
        if binary is None:
            raise LocalPrometheusError("prometheus not found: install the Debian package 'prometheus'")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        log = (self.workdir / "prometheus.log").open("ab")
        self._proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={self.data_dir}",
             f"--web.listen-address=127.0.0.1:{self.port}", f"--storage.tsdb.retention.time={self.retention}",
             "--web.enable-lifecycle", "--rules.alert.resend-delay=1s", *self.extra_flags],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = (self.workdir / "prometheus.log").read_text(errors="replace")[-2000:]
                raise LocalPrometheusError(f"prometheus exited with {self._proc.returncode}: {tail}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    logger.info("prometheus ready on %s", self.url)
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise LocalPrometheusError(f"prometheus not ready on {self.url} within {timeout}s")

    def stop(self, kill: bool = False) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def wait_for_scrape(self, timeout: float = 30.0) -> None:
        """Block until every scrape target has been scraped once (``up`` has a sample for each)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = httpx.get(f"{self.url}/api/v1/query", params={"query": "up == 1"}, timeout=5.0).json()
            if len(answer.get("data", {}).get("result", [])) >= len(self.scrape_targets):
                return
            time.sleep(0.2)
        raise LocalPrometheusError(f"targets {list(self.scrape_targets)} not scraped within {timeout}s")

    def reload(self) -> None:
        self._write_config()
        httpx.post(f"{self.url}/-/reload", timeout=5.0).raise_for_status()
