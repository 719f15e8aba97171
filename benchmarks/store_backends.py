"""The store on SQLite and on a real PostgreSQL (started like the test harness does: Debian `postgresql`, own data
dir, 127.0.0.1): tick writes of anomalies and the audit chain, by one daemon and by two daemons sharing the database.

    .venv/bin/python benchmarks/store_backends.py [--ticks 100] [--batch 500] [--appends 200] [--out DIR]

Prints a table, writes store_backends.{md,html,json} to --out (default benchmarks/results/), progress to stderr.
Numbers are for this shared 2-core machine; read them relative to each other.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daemon.domain import Anomaly
from daemon.remediation.journal import StoreAuditLog
from daemon.store.anomalies import record_anomalies
from daemon.store.db import Store
from daemon.store.models import AnomalyRow
from remediations.model import AuditEntry
from tests.harness.common import stop_process
from tests.harness.postgres import postgres_bin_dir, start_postgres


def _batch(tick: int, size: int) -> list[Anomaly]:
    return [
        Anomaly(
            source="prom",
            query="memory",
            series_key=f"s{i}",
            labels={"pod": f"p{i}"},
            ts=1_700_000_000.0 + 15 * tick,
            value=1.0,
            entities={"namespace": "shop", "pod": f"p{i}"},
            score=0.9,
            direction=1,
            detector="novelty",
            kind="point",
        )
        for i in range(size)
    ]


def _parallel(jobs: list[Callable[[], None]]) -> float:
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - any failure in a writer thread is re-raised after the join
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t0


def measure(url_for: Callable[[str], str], ticks: int, batch: int, appends: int) -> dict[str, Any]:
    batches = [_batch(t, batch) for t in range(ticks)]
    out: dict[str, Any] = {}
    for writers in (1, 2):
        url = url_for(f"anomalies{writers}")
        stores = [Store(url) for _ in range(writers)]
        stores[0].migrate()

        def daemon(store: Store) -> None:
            for b in batches:
                with store.session() as session:
                    record_anomalies(session, b)

        seconds = _parallel([lambda s=s: daemon(s) for s in stores])
        with stores[0].session() as session:
            rows = int(session.scalar(select(func.count(AnomalyRow.id))) or 0)
        out[f"anomalies_{writers}w"] = {
            "seconds": seconds,
            "ms_per_tick": 1000 * seconds / ticks,
            "rows_per_s": ticks * batch * writers / seconds,
            "rows": rows,
            "duplicates": rows - ticks * batch,
        }
        print(f"  anomalies, {writers} writer(s): {1000 * seconds / ticks:.1f} ms per tick", file=sys.stderr)
        url = url_for(f"audit{writers}")
        stores_audit = [Store(url) for _ in range(writers)]
        stores_audit[0].migrate()
        logs = [StoreAuditLog(s, attempts=100) for s in stores_audit]

        def appender(log: StoreAuditLog, who: int) -> None:
            for n in range(appends):
                log.append(
                    AuditEntry(
                        ts=float(n),
                        actor=f"r{who}",
                        event="started",
                        action_id=f"{who}-{n}",
                        runbook="scale",
                        target="x",
                    )
                )

        seconds = _parallel([lambda log=log, i=i: appender(log, i) for i, log in enumerate(logs)])
        report = logs[0].verify()
        out[f"audit_{writers}w"] = {
            "seconds": seconds,
            "appends_per_s": appends * writers / seconds,
            "chain_ok": report.ok,
            "entries": report.entries,
        }
        print(f"  audit, {writers} writer(s): {appends * writers / seconds:.0f} appends/s", file=sys.stderr)
        for s in stores + stores_audit:
            s.dispose()
    return out


def _svg_bars(title: str, values: dict[str, float], unit: str) -> str:
    width, bar_h, left = 560, 22, 200
    top = max(values.values()) or 1.0
    rows = []
    for i, (label, value) in enumerate(values.items()):
        y = 30 + i * (bar_h + 8)
        w = (width - left - 90) * value / top
        rows.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#4878a8"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 15}">{value:,.0f} {unit}</text>'
        )
    height = 40 + len(values) * (bar_h + 8)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        f'font-size="12"><text x="4" y="16" font-weight="bold">{html.escape(title)}</text>{"".join(rows)}</svg>'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--appends", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed (Debian package 'postgresql'; make test installs it)")
    results: dict[str, Any] = {"ticks": args.ticks, "batch": args.batch, "appends": args.appends}
    tmp = Path(tempfile.mkdtemp(prefix="aiopsd-bench-"))
    try:
        print("SQLite (WAL) …", file=sys.stderr)
        results["sqlite"] = measure(lambda n: f"sqlite:///{tmp / n}.db", args.ticks, args.batch, args.appends)
        print("PostgreSQL …", file=sys.stderr)
        server = start_postgres(bin_dir)
        try:
            results["postgresql"] = measure(
                lambda n: server.create_database(f"b_{n}"), args.ticks, args.batch, args.appends
            )
        finally:
            stop_process(server.process, timeout=20)
            shutil.rmtree(server.workdir, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [
        "# Store backends: SQLite vs PostgreSQL",
        "",
        f"{args.ticks} ticks × {args.batch} anomalies (one transaction per tick; with 2 writers both record the same "
        f"points, as two replicas would); {args.appends} audit appends per writer.",
        "",
        "| backend | writers | ms per tick | anomaly rows/s offered | rows stored | duplicates | audit appends/s "
        "| chain ok |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for backend in ("sqlite", "postgresql"):
        for w in (1, 2):
            a, u = results[backend][f"anomalies_{w}w"], results[backend][f"audit_{w}w"]
            lines.append(
                f"| {backend} | {w} | {a['ms_per_tick']:.1f} | {a['rows_per_s']:,.0f} | {a['rows']} | "
                f"{a['duplicates']} | {u['appends_per_s']:,.0f} | {u['chain_ok']} |"
            )
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "store_backends.md").write_text(markdown)
    (args.out / "store_backends.json").write_text(json.dumps(results, indent=2))
    tick_ms = {
        f"{b} {w}w": results[b][f"anomalies_{w}w"]["ms_per_tick"] for b in ("sqlite", "postgresql") for w in (1, 2)
    }
    audit = {f"{b} {w}w": results[b][f"audit_{w}w"]["appends_per_s"] for b in ("sqlite", "postgresql") for w in (1, 2)}
    table = "".join(
        f"<tr>{''.join(f'<td>{html.escape(c.strip())}</td>' for c in line.strip('|').split('|'))}</tr>"
        for line in lines[6:]
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Store backends</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:2px 8px;border-bottom:1px solid #ddd}</style>"
        f"</head><body><h1>Store backends: SQLite vs PostgreSQL</h1><p>{html.escape(lines[2])}</p>"
        f"<table><tr><th>backend</th><th>writers</th><th>ms per tick</th><th>rows/s offered</th><th>rows</th>"
        f"<th>duplicates</th><th>audit appends/s</th><th>chain ok</th></tr>{table}</table>"
        f"{_svg_bars('Time per tick (ms, lower is better)', tick_ms, 'ms')}"
        f"{_svg_bars('Audit appends per second (higher is better)', audit, '/s')}</body></html>"
    )
    (args.out / "store_backends.html").write_text(page)
    print(f"wrote {args.out}/store_backends.{{md,html,json}}", file=sys.stderr)


if __name__ == "__main__":
    main()
