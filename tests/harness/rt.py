"""A real Request Tracker 5 for the test session (Debian request-tracker5 + rt5-standalone + rt5-db-sqlite).

One server per session (it is ~640 MB even with 2 workers); tests isolate themselves by fingerprint/queue.
Its configuration lives in a temp dir (RT_SITE_CONFIG_DIR), its SQLite database too; /etc is never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.harness.common import free_port, unavailable, wait_until

RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
RT_SETUP = "rt-setup-database-5"
RT_SITE_CONFIG = Path("/etc/request-tracker5/RT_SiteConfig.d")
ROOT_PASSWORD = "aiopsd-test-root"  # a throw-away instance on 127.0.0.1 of a temp dir


@dataclass
class RTServer:
    url: str
    username: str
    password: str
    process: subprocess.Popen[bytes]
    config_dir: Path
    port: int

    def create_auth_token(self, description: str = "aiopsd tests") -> str:
        """An RT auth token for root, made with RT's Perl API (REST 2 cannot create tokens)."""
        script = (
            "use lib '/usr/share/request-tracker5/lib'; use RT; RT::LoadConfig(); RT::Init();"
            "my $u = RT::User->new(RT->SystemUser); $u->Load('root');"
            "my $t = RT::AuthToken->new(RT->SystemUser);"
            f"my ($id, $msg, $token) = $t->Create(Owner => $u->Id, Description => '{description}');"
            "die $msg unless $id; print $token;"
        )
        env = dict(os.environ, RT_SITE_CONFIG_DIR=str(self.config_dir))
        done = subprocess.run(["perl", "-e", script], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not done.stdout.strip():
            raise RuntimeError(f"creating an RT auth token failed: {done.stderr[-1000:]}")
        return done.stdout.strip()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(self.username, self.password), timeout=30)

    def stop(self) -> None:
        """Stop the server (SIGTERM to the master stops its workers) — to test a ticket system that is down."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)

    def start(self) -> None:
        env = dict(os.environ, RT_SITE_CONFIG_DIR=str(self.config_dir))
        log = (self.config_dir / "rt-server.log").open("ab")
        self.process = subprocess.Popen(
            [str(RT_SERVER), "--host", "127.0.0.1", "--port", str(self.port), "--max-workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"rt-server exited with {self.process.returncode}; see {self.config_dir}")
            return (
                httpx.get(f"{self.url}/REST/2.0/rt", auth=(self.username, self.password), timeout=5).status_code == 200
            )

        wait_until(ready, 60, "Request Tracker", interval=0.2)


def _write_config(config_dir: Path, db: Path, port: int) -> None:
    for pm in sorted(RT_SITE_CONFIG.glob("*.pm")):
        shutil.copy(pm, config_dir / pm.name)
    (config_dir / "99-aiopsd-test.pm").write_text(
        "\n".join(
            [
                "Set($DatabaseType, 'SQLite');",
                f"Set($DatabaseName, '{db}');",
                "Set($WebPath, '');",
                "Set($WebDomain, '127.0.0.1');",
                f"Set($WebPort, {port});",
                f"Set($WebBaseURL, 'http://127.0.0.1:{port}');",
                "Set($MailCommand, 'testfile');",
                "Set($LogToSTDERR, 'warning');",
                "Set($LogToSyslog, undef);",
                "Set($BcryptCost, 4);",
                "1;",
                "",
            ]
        )
    )


@pytest.fixture(scope="session")
def rt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RTServer]:
    if not RT_SERVER.exists() or shutil.which(RT_SETUP) is None:
        unavailable("Request Tracker 5", "install request-tracker5 rt5-standalone rt5-db-sqlite (make debs-test)")
    base = tmp_path_factory.mktemp("rt")
    config_dir = base / "config"
    config_dir.mkdir()
    port = free_port()
    _write_config(config_dir, base / "rt.db", port)
    password_file = base / "root-password"
    password_file.write_text(ROOT_PASSWORD)
    env = dict(os.environ, RT_SITE_CONFIG_DIR=str(config_dir))
    setup = subprocess.run(
        [RT_SETUP, "--action", "init", "--skip-create", "--root-password-file", str(password_file)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if setup.returncode != 0:
        unavailable("Request Tracker 5", f"rt-setup-database-5 failed: {setup.stdout[-2000:]}{setup.stderr[-2000:]}")
    server = RTServer(f"http://127.0.0.1:{port}", "root", ROOT_PASSWORD, None, config_dir, port)  # type: ignore[arg-type]
    try:
        server.start()
    except (RuntimeError, TimeoutError) as exc:
        server.stop()
        unavailable("Request Tracker 5", str(exc))
    try:
        yield server
    finally:
        server.stop()
