"""``aiopsd detect``, ``aiopsd detectors list`` and ``aiopsd bench nab``: run detectors on files and benchmark them."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import typer

from daemon.cli.output import FORMAT_OPTION, OutputFormat, emit
from detectors import DetectorError, builtin_registry
from detectors.nab import PUBLISHED_ANCHORS, NabReport, load_corpus, run_nab
from detectors.nab.runner import detect_file
from detectors.series_csv import read_series_csv

detectors_app = typer.Typer(help="The anomaly detectors shipped with aiopsd.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks of the detectors.", no_args_is_help=True)


def _parse_params(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        typer.echo(f"--params: not valid JSON at column {exc.colno}: {exc.msg}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(params, dict):
        typer.echo("--params: expected a JSON object such as '{\"alpha\": 0.1}'", err=True)
        raise typer.Exit(2)
    return params


def detect(
    input_csv: Path = typer.Argument(..., help="CSV with columns timestamp,value (the NAB format)"),
    output: Path = typer.Option(..., "--output", "-o", help="where to write timestamp,value,anomaly_score,is_anomaly"),
    detector: str = typer.Option("default", "--detector", "-d", help="detector name; see `aiopsd detectors list`"),
    params: str = typer.Option(None, "--params", help="detector parameters as a JSON object"),
) -> None:
    """Score every row of INPUT causally; one output row per input row, NaN values get score 0."""
    registry = builtin_registry()
    try:
        series = read_series_csv(input_csv)
        cls = registry.get(detector)
        scores = detect_file(
            registry, detector, _parse_params(params), series.values, series.unix_seconds, series.step_seconds
        )
    except DetectorError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    flags = scores >= cls.default_threshold
    with output.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "anomaly_score", "is_anomaly"])
        stamps = np.datetime_as_string(series.timestamps, unit="s")
        for stamp, value, score, flag in zip(stamps, series.values, scores, flags, strict=True):
            writer.writerow([str(stamp).replace("T", " "), "" if np.isnan(value) else repr(float(value)),
                             f"{score:.6f}", int(flag)])  # fmt: skip
    typer.echo(
        f"{output}: {len(scores)} rows, {int(flags.sum())} anomalies ({cls.name}, threshold {cls.default_threshold})"
    )


@detectors_app.command("list")
def list_detectors(fmt: OutputFormat = FORMAT_OPTION) -> None:
    """Every registered detector with its parameters and defaults; the project default is marked."""
    registry = builtin_registry()
    rows = []
    for cls in registry:
        fields = {name: f.default for name, f in cls.Params.model_fields.items()}
        rows.append({
            "name": cls.name + (" (default)" if cls.name == registry.default_name else ""),
            "threshold": cls.default_threshold,
            "description": cls.description,
            "params": fields,
        })  # fmt: skip
    emit(rows, ["name", "threshold", "description", "params"], fmt)


@bench_app.command("nab")
def bench_nab(
    data: Path = typer.Option(
        ..., "--data", help="NAB layout: data/<category>/<file>.csv, labels/combined_windows.json"
    ),
    detector: str = typer.Option("default", "--detector", "-d"),
    params: str = typer.Option(None, "--params", help="detector parameters as a JSON object"),
    json_out: Path = typer.Option(None, "--json", help="also write the results as JSON here"),
    report_dir: Path = typer.Option(None, "--report", help="write nab-report.md and nab-report.html (with plots) here"),
) -> None:
    """Run one configuration over every file, score by NAB's rules, print scores beside the published anchors."""
    registry = builtin_registry()

    def progress(done: int, total: int, name: str, seconds: float) -> None:
        print(f"[{done}/{total}] {name} {seconds:.2f}s", file=sys.stderr, flush=True)

    try:
        corpus = load_corpus(data)
        report = run_nab(corpus, registry, detector, _parse_params(params), progress)
    except DetectorError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"per-file timings ({report.detector}):")
    for timing in report.timings:
        typer.echo(f"  {timing.name:70s} {timing.rows:6d} rows {timing.seconds:7.3f}s")
    total = sum(t.seconds for t in report.timings)
    rows_total = sum(t.rows for t in report.timings)
    typer.echo(f"  total {rows_total} rows in {total:.1f}s ({rows_total / max(total, 1e-9):.0f} points/s)")
    typer.echo(f"\nNAB scores on {len(corpus)} files (standard / reward_low_FP_rate / reward_low_FN_rate):")
    ours = " / ".join(f"{r.normalized:5.1f}" for r in report.results)
    typer.echo(f"  {report.detector + ' (this run)':28s} {ours}")
    for r in report.results:
        typer.echo(f"    {r.profile:20s} threshold {r.threshold:.6f}  tp {r.tp} fn {r.fn} fp-points {r.fp}")
    for name, anchor in PUBLISHED_ANCHORS.items():
        typer.echo(f"  {name:28s} " + " / ".join(f"{a:5.1f}" for a in anchor))
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        markdown = _nab_markdown(report)
        (report_dir / "nab-report.md").write_text(markdown)
        (report_dir / "nab-report.html").write_text(_nab_html(report, markdown))
        typer.echo(f"report: {report_dir / 'nab-report.md'}, {report_dir / 'nab-report.html'}")
    if json_out is not None:
        payload = {
            "detector": report.detector,
            "params": report.params,
            "files": len(corpus),
            "results": [r.__dict__ for r in report.results],
            "timings": [t.__dict__ for t in report.timings],
            "anchors": PUBLISHED_ANCHORS,
        }
        json_out.write_text(json.dumps(payload, indent=2))


def _nab_markdown(report: NabReport) -> str:
    lines = [f"# NAB benchmark: {report.detector}", "", f"parameters: `{json.dumps(dict(report.params))}`", ""]
    lines += ["| detector | standard | reward low FP | reward low FN |", "|---|---:|---:|---:|"]
    lines.append(f"| **{report.detector}** | " + " | ".join(f"**{r.normalized:.1f}**" for r in report.results) + " |")
    lines += [
        f"| {name} | " + " | ".join(f"{a:.1f}" for a in anchor) + " |" for name, anchor in PUBLISHED_ANCHORS.items()
    ]
    lines += ["", "| profile | threshold | windows detected | windows missed | detections outside windows |"]
    lines += ["|---|---:|---:|---:|---:|"]
    lines += [f"| {r.profile} | {r.threshold:.6f} | {r.tp} | {r.fn} | {r.fp} |" for r in report.results]
    lines += ["", "| file | rows | seconds |", "|---|---:|---:|"]
    lines += [f"| {t.name} | {t.rows} | {t.seconds:.3f} |" for t in report.timings]
    return "\n".join(lines) + "\n"


def _nab_html(report: NabReport, markdown: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [report.detector, *PUBLISHED_ANCHORS]
    values = [[r.normalized for r in report.results], *PUBLISHED_ANCHORS.values()]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.25
    for k, profile in enumerate(("standard", "reward low FP", "reward low FN")):
        ax.bar(np.arange(len(names)) + (k - 1) * width, [v[k] for v in values], width, label=profile)
    ax.set_xticks(np.arange(len(names)), names, rotation=20, fontsize=8)
    ax.set_ylabel("normalised NAB score")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    image = base64.b64encode(buffer.getvalue()).decode()
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>NAB benchmark</title></head><body>"
        f"<h1>NAB benchmark: {html.escape(report.detector)}</h1>"
        f"<img alt='scores beside the published detectors' src='data:image/png;base64,{image}'>"
        f"<pre>{html.escape(markdown)}</pre></body></html>"
    )


def register(root: typer.Typer) -> None:
    root.command("detect")(detect)
    root.add_typer(detectors_app, name="detectors")
    root.add_typer(bench_app, name="bench")
