"""A real browser for reports: headless Debian Chromium renders a page with the network blocked (any request
outside loopback goes to a dead proxy), and the test reads the DOM it built."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.harness.common import unavailable


def render_dom(html: str, tmp_path: Path, name: str = "page") -> str:
    """Write ``html`` to a file, let headless Chromium load it offline, and return the rendered DOM."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        unavailable("chromium", "install it with scripts/install-debian.sh chromium (make test does)")
    page = tmp_path / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / f'profile-{name}'}", "--proxy-server=127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
