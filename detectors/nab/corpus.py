"""A NAB-layout directory: ``data/<category>/<file>.csv`` and ``labels/combined_windows.json``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from detectors.errors import CorpusError, SeriesFileError
from detectors.nab.scoring import FileLayout, file_layout
from detectors.series_csv import SeriesFile, read_series_csv


@dataclass(frozen=True)
class NabFile:
    name: str  # "<category>/<file>.csv", the key of the labels file
    series: SeriesFile
    windows: tuple[tuple[str, str], ...]
    layout: FileLayout


@dataclass(frozen=True)
class NabCorpus:
    root: Path
    files: tuple[NabFile, ...]

    def __iter__(self) -> Iterator[NabFile]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, names: set[str]) -> NabCorpus:
        return NabCorpus(self.root, tuple(f for f in self.files if f.name in names))


def load_corpus(root: Path) -> NabCorpus:
    labels_path = root / "labels" / "combined_windows.json"
    data_dir = root / "data"
    if not data_dir.is_dir():
        raise CorpusError(f"{root}: no 'data/' directory (expected the NAB layout data/<category>/<file>.csv)")
    try:
        windows = json.loads(labels_path.read_text())
    except FileNotFoundError:
        raise CorpusError(f"{labels_path}: missing (expected NAB's labels/combined_windows.json)") from None
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{labels_path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(windows, dict):
        raise CorpusError(f"{labels_path}: expected an object mapping '<category>/<file>.csv' to windows")
    files = []
    for path in sorted(data_dir.glob("*/*.csv")):
        name = f"{path.parent.name}/{path.name}"
        if name not in windows:
            raise CorpusError(f"{labels_path}: no entry for {name!r}")
        try:
            series = read_series_csv(path, check_order=False)
        except SeriesFileError as exc:
            raise CorpusError(str(exc)) from None
        pairs = tuple((str(w[0]), str(w[1])) for w in windows[name])
        files.append(NabFile(name, series, pairs, file_layout(series.timestamps, pairs)))
    if not files:
        raise CorpusError(f"{data_dir}: no <category>/<file>.csv files")
    return NabCorpus(root, tuple(files))
