"""Errors of the detectors library.

DetectorError
├── UnknownDetector     no detector of that name is registered
├── DuplicateDetector   a second detector tried to register a taken name
├── DetectorParamsError parameters did not validate against the detector's Params model
└── DetectorStateError  a saved state does not fit the detector (shape, keys, version)
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
