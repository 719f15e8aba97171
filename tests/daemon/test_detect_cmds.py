"""The `aiopsd detect` / `detectors list` / `bench nab` contract, through typer's CliRunner."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from daemon.cli.main import app

runner = CliRunner()


def _write(path: Path, rows: list[str], header: str = "timestamp,value") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _series(n: int = 400) -> list[str]:
    x = 10 + np.random.default_rng(0).normal(0, 1, n)
    x[300] += 20
    return [f"2020-01-01 {i // 60:02d}:{i % 60:02d}:00,{v}" for i, v in enumerate(x)]


def test_detect_writes_one_row_per_input_with_scores(tmp_path: Path) -> None:
    rows = _series()
    rows[100] = rows[100].split(",")[0] + ","  # a missing value
    src = _write(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["detect", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as handle:
        got = list(csv.DictReader(handle))
    assert list(got[0]) == ["timestamp", "value", "anomaly_score", "is_anomaly"]
    assert len(got) == 400
    scores = np.array([float(r["anomaly_score"]) for r in got])
    assert np.all((scores >= 0) & (scores <= 1))
    assert got[100]["value"] == "" and scores[100] == 0.0
    assert int(np.argmax(scores)) == 300 and got[300]["is_anomaly"] == "1"


def test_detect_with_named_detector_and_params(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.csv", _series())
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["detect", str(src), "-o", str(out), "--detector", "cusum", "--params", '{"drift": 1}'])
    assert result.exit_code == 0, result.output
    bad = runner.invoke(app, ["detect", str(src), "-o", str(out), "--detector", "cusum", "--params", '{"drift": -1}'])
    assert bad.exit_code == 2 and "drift" in bad.output


@pytest.mark.parametrize(
    ("rows", "header", "expected"),
    [
        (["2020-01-01 00:00:00,1", "2020-01-01 00:01:00,abc"], "timestamp,value", "row 3, column 'value': 'abc'"),
        (["2020-01-01 00:00:00,1"], "timestamp,val", "missing column 'value'"),
        (["2020-01-01 00:01:00,1", "2020-01-01 00:00:00,2"], "timestamp,value", "row 3, column 'timestamp'"),
        (["2020-01-01 00:01:00,1", "2020-01-01 00:01:00,2"], "timestamp,value", "duplicates"),
        (["yesterday,1"], "timestamp,value", "row 2, column 'timestamp': 'yesterday'"),
    ],
)
def test_detect_bad_csv_names_file_row_and_column(tmp_path: Path, rows: list[str], header: str, expected: str) -> None:
    src = _write(tmp_path / "bad.csv", rows, header)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["detect", str(src), "-o", str(out)])
    assert result.exit_code == 2
    assert str(src) in result.output and expected in result.output
    assert not out.exists()


def test_detectors_list_shows_params_and_default() -> None:
    result = runner.invoke(app, ["detectors", "list", "--format", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    names = [r["name"] for r in rows]
    assert any(n.endswith("(default)") for n in names)
    cusum = next(r for r in rows if r["name"].startswith("cusum"))
    assert "drift" in cusum["params"]


def test_bench_nab_on_a_tiny_corpus(tmp_path: Path) -> None:
    (tmp_path / "data" / "cat").mkdir(parents=True)
    (tmp_path / "labels").mkdir()
    _write(tmp_path / "data" / "cat" / "a.csv", _series())
    windows = {"cat/a.csv": [["2020-01-01 04:50:00", "2020-01-01 05:10:00"]]}
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    args = [
        "bench",
        "nab",
        "--data",
        str(tmp_path),
        "--json",
        str(tmp_path / "r.json"),
        "--report",
        str(tmp_path / "rep"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "ARTime" in result.output and "[1/1] cat/a.csv" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["results"][0]["profile"] == "standard"
    assert report["results"][0]["tp"] == 1
    page = (tmp_path / "rep" / "nab-report.html").read_text()
    assert "data:image/png;base64," in page and "http" not in page  # self-contained
    assert "| cat/a.csv | 400 |" in (tmp_path / "rep" / "nab-report.md").read_text()


def test_bench_nab_without_labels_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "data" / "cat").mkdir(parents=True)
    _write(tmp_path / "data" / "cat" / "a.csv", _series())
    result = runner.invoke(app, ["bench", "nab", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "combined_windows.json" in result.output and "missing" in result.output
