"""The HTML side of reports: templates and the one stylesheet, both shipped inside the package (no external files)."""

from __future__ import annotations

from importlib.resources import files

import jinja2
from markupsafe import Markup

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def html_template(name: str) -> jinja2.Template:
    return _ENV.from_string(files("daemon.reports").joinpath(f"templates/{name}").read_text("utf-8"))


def stylesheet() -> Markup:
    return Markup(files("daemon.reports").joinpath("templates/style.css.j2").read_text("utf-8"))
