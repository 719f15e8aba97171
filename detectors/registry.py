"""An instance registry of detectors. Duplicate names raise; tests build a fresh one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from detectors.base import Detector
from detectors.errors import DetectorParamsError, DuplicateDetector, UnknownDetector

ENTRY_POINT_GROUP = "aiopsd.detectors"


class DetectorRegistry:
    def __init__(self, default: str | None = None) -> None:
        self._classes: dict[str, type[Detector]] = {}
        self.default_name = default

    def register(self, cls: type[Detector]) -> type[Detector]:
        name = cls.name
        if name in self._classes or name == "default":
            raise DuplicateDetector(f"a detector named {name!r} is already registered")
        self._classes[name] = cls
        return cls

    def get(self, name: str) -> type[Detector]:
        if name == "default":
            if self.default_name is None:
                raise UnknownDetector("no default detector is set")
            name = self.default_name
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownDetector(f"unknown detector {name!r}; known: {sorted(self._classes)}") from None

    def create(self, name: str, params: Mapping[str, Any] | None, n_series: int, step: float) -> Detector:
        cls = self.get(name)
        try:
            validated = cls.Params.model_validate(dict(params or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}" for err in exc.errors()
            )
            raise DetectorParamsError(f"parameters of detector {cls.name!r}: {problems}") from None
        return cls(validated, n_series, step)

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __iter__(self) -> Iterator[type[Detector]]:
        return iter(self._classes[name] for name in self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._classes or (name == "default" and self.default_name is not None)

    def load_entry_points(self) -> None:
        """Detectors from other distributions, registered under the ``aiopsd.detectors`` entry-point group."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            self.register(ep.load())
