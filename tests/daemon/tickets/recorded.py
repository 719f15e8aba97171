"""Replaying recorded HTTP exchanges at the httpx transport (``httpx.MockTransport``), the one test seam.

A recording is a JSON file: ``{"system", "source", "exchanges": [{"request": {...}, "response": {...}}]}``. Requests
must arrive in the recorded order; method and path must be equal, recorded query parameters and JSON fields must be
present with equal values (a string starting with ``~`` only has to be contained in the sent one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

RECORDINGS = Path(__file__).parent / "recordings"


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, str) and expected.startswith("~"):
        return expected[1:] in (actual if isinstance(actual, str) else json.dumps(actual))
    return bool(expected == actual)


class Recording:
    def __init__(self, name: str, substitutions: dict[str, str] | None = None) -> None:
        """``substitutions`` fill ``{{name}}`` placeholders (values only the test knows, such as operation keys)."""
        text = (RECORDINGS / f"{name}.json").read_text()
        for key, value in (substitutions or {}).items():
            text = text.replace("{{" + key + "}}", value)
        data = json.loads(text)
        self.exchanges: list[dict[str, Any]] = data["exchanges"]
        self.position = 0
        self.mismatches: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.position >= len(self.exchanges):
            self.mismatches.append(f"unexpected extra request {request.method} {request.url}")
            return httpx.Response(599, json={"error": "not in the recording"})
        expected = self.exchanges[self.position]["request"]
        response = self.exchanges[self.position]["response"]
        sent_json = json.loads(request.content) if request.content else None
        problems = []
        if request.method != expected["method"] or request.url.path != expected["path"]:
            problems.append(f"{request.method} {request.url.path} != {expected['method']} {expected['path']}")
        if not matches(expected.get("query", {}), dict(request.url.params)):
            problems.append(f"query {dict(request.url.params)} does not match {expected.get('query')}")
        if "json" in expected and not matches(expected["json"], sent_json):
            problems.append(f"body {sent_json} does not match {expected['json']}")
        for header, value in expected.get("headers", {}).items():
            if not matches(value, request.headers.get(header)):
                problems.append(f"header {header}={request.headers.get(header)!r} does not match {value!r}")
        if problems:
            self.mismatches.append(f"exchange {self.position}: " + "; ".join(problems))
        self.position += 1
        if "json" not in response:
            return httpx.Response(response["status"])
        return httpx.Response(response["status"], json=response["json"])

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler), **kwargs)

    def assert_complete(self) -> None:
        assert self.mismatches == []
        assert self.position == len(self.exchanges), f"only {self.position} of {len(self.exchanges)} exchanges made"
