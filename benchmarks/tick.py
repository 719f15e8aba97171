"""Time of one daemon tick against a real Prometheus, split into fetch, alignment, detection and store, for 1k / 10k
/ 50k series, and the daemon's peak memory.

The series come from an exporter in a child process, scraped by a local Prometheus (own temp storage); the daemon's
process is pinned to one core (the exporter and Prometheus get the other). Target (issue 2): 10k series per 15 s tick
with fetch + align under 2 s on one core.

    python benchmarks/tick.py [--sizes 1000,10000,50000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.app import open_store  # noqa: E402
from daemon.localprom import LocalPrometheus, free_port  # noqa: E402
from daemon.loop import Daemon  # noqa: E402
from daemon.settings import Settings  # noqa: E402
from daemon.sources.prometheus import PrometheusSource  # noqa: E402
from detectors import builtin_registry  # noqa: E402

INTERVAL = 15.0

EXPORTER = """
import sys, time, numpy as np
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
n, port = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
class Fleet:
    def collect(self):
        values = 50 + rng.normal(0, 5, n)
        family = GaugeMetricFamily("bench_value", "benchmark fleet", labels=["namespace", "pod"])
        for i in range(n):
            family.add_metric(["bench", f"pod-{i:06d}"], float(values[i]))
        yield family
registry = CollectorRegistry(); registry.register(Fleet())
start_http_server(port, addr="127.0.0.1", registry=registry)
while True:
    time.sleep(3600)
"""


def progress(text: str) -> None:
    sys.stderr.write(f"[tick-bench {time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


def measure(n: int, workdir: Path) -> dict[str, float]:
    port = free_port()
    exporter = subprocess.Popen([sys.executable, "-c", EXPORTER, str(n), str(port)], preexec_fn=_other_core)
    prom = LocalPrometheus(workdir / f"prom-{n}", scrape_targets=[f"127.0.0.1:{port}"], scrape_interval="5s")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        prom.start()
        _pin(prom)
        prom.wait_for_scrape(60)
        progress(f"{n:,} series: Prometheus scraping; waiting for 30 s of data")
        time.sleep(30)
        settings = Settings(
            daemon={"interval": f"{INTERVAL:g}s", "state_dir": str(workdir / f"state-{n}")},
            sources={"prometheus": [{"name": "bench", "url": prom.url, "timeout": "60s", "queries": [
                {"name": "fleet", "promql": "bench_value", "entity": {"namespace": "namespace", "pod": "pod"}}]}]},
            detection={"training_window": "30s"},
        )  # fmt: skip
        store = open_store(settings)
        daemon = Daemon(settings, store, [PrometheusSource(settings.sources.prometheus[0])], builtin_registry())
        backfill = daemon.tick()
        progress(f"{n:,} series: backfill {backfill.series:,} series in {backfill.fetch_seconds:.2f}s fetch")
        wait = INTERVAL - (time.time() % INTERVAL) + 1
        time.sleep(wait)
        report = daemon.tick()
        result = {
            "series": float(report.series),
            "points": float(report.points),
            "fetch_s": report.fetch_seconds,
            "align_s": report.align_seconds,
            "detect_s": report.detect_seconds,
            "store_s": report.store_seconds,
            "fetch_plus_align_s": report.fetch_seconds + report.align_seconds,
            "backfill_fetch_s": backfill.fetch_seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        store.dispose()
        return result
    finally:
        prom.stop()
        exporter.terminate()
        exporter.wait(10)


def _other_core() -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        os.sched_setaffinity(0, {1})


def _pin(prom: LocalPrometheus) -> None:
    proc = prom._proc
    if proc is not None and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(proc.pid, {1})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # the daemon: one core
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    with tempfile.TemporaryDirectory(prefix="aiopsd-tick-bench-") as tmp:
        for n in sizes:
            results[n] = measure(n, Path(tmp))
    print(f"{'series':>8} {'fetch s':>8} {'align s':>8} {'detect s':>9} {'store s':>8} {'fetch+align':>12} "
          f"{'backfill fetch':>15} {'peak RSS MB':>12}")  # fmt: skip
    for r in results.values():
        print(f"{int(r['series']):>8,} {r['fetch_s']:>8.3f} {r['align_s']:>8.3f} {r['detect_s']:>9.3f} "
              f"{r['store_s']:>8.3f} {r['fetch_plus_align_s']:>12.3f} {r['backfill_fetch_s']:>15.3f} "
              f"{r['peak_rss_mb']:>12.0f}")  # fmt: skip
    ten_k = results.get(10000)
    if ten_k is not None:
        verdict = "meets" if ten_k["fetch_plus_align_s"] < 2.0 else "MISSES"
        print(f"target: 10k series fetch + align < 2 s on one core: {ten_k['fetch_plus_align_s']:.2f} s ({verdict})")
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
