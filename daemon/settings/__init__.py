"""The one settings tree of aiopsd: a YAML file, then ``AIOPSD_…`` environment variables (nested with ``__``)
over it, secrets from files. Nothing here reads the environment at import time.

Each section lives in its own module; the root model `Settings` composes them.
"""

from daemon.settings.base import StrictModel
from daemon.settings.core import (
    DaemonSettings,
    DetectionSettings,
    LoggingSettings,
    PrometheusSourceSettings,
    QuerySettings,
    SourcesSettings,
    StoreSettings,
)
from daemon.settings.loader import Settings, load_settings, read_secret

__all__ = [
    "DaemonSettings",
    "DetectionSettings",
    "LoggingSettings",
    "PrometheusSourceSettings",
    "QuerySettings",
    "Settings",
    "SourcesSettings",
    "StoreSettings",
    "StrictModel",
    "load_settings",
    "read_secret",
]
