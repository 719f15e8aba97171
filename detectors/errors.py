"""Errors of the detectors library.

DetectorError
├── UnknownDetector     no detector of that name is registered
├── DuplicateDetector   a second detector tried to register a taken name
├── DetectorParamsError parameters did not validate against the detector's Params model
├── DetectorStateError  a saved state does not fit the detector (shape, keys, version)
├── SeriesFileError     a timestamp,value CSV is malformed (file, row, column named)
└── CorpusError         a NAB-layout directory is incomplete or inconsistent
"""

from __future__ import annotations


class DetectorError(Exception):
    pass


class UnknownDetector(DetectorError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown detector"


class DuplicateDetector(DetectorError):
    pass


class DetectorParamsError(DetectorError, ValueError):
    pass


class DetectorStateError(DetectorError):
    pass


class SeriesFileError(DetectorError, ValueError):
    """A ``timestamp,value`` file is malformed; the message names the file, the row and the column."""


class CorpusError(DetectorError):
    """A NAB-layout directory is missing its data or labels, or they do not fit together."""
