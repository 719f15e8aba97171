"""Real PostgreSQL for tests: one server per session from the Debian `postgresql` package, its own data dir in a
temp directory, listening on 127.0.0.1 on a free port (no Unix socket), and a fresh database per test.

initdb refuses to run as root, so as root the server runs as the `postgres` user (`runuser -u postgres --`) with a
data dir it owns; as any other user it runs as that user.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.harness.common import free_port, stop_process, unavailable, wait_until

SERVER_USER = "postgres"


def postgres_bin_dir() -> Path | None:
    """The newest installed server's binaries: /usr/lib/postgresql/<version>/bin."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").is_file() and (p / "postgres").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


@dataclass
class PostgresServer:
    """A running server; ``url(db)`` is a SQLAlchemy URL with the superuser's password."""

    host: str
    port: int
    password: str
    workdir: Path
    process: subprocess.Popen[bytes]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SERVER_USER}:{self.password}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        engine = create_engine(
            "postgresql+psycopg://" + self.url().removeprefix("postgresql://"), isolation_level="AUTOCOMMIT"
        )
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *argv] if os.geteuid() == 0 else argv


def start_postgres(bin_dir: Path) -> PostgresServer:
    workdir = Path(tempfile.mkdtemp(prefix="aiopsd-pg-"))
    data, pwfile = workdir / "data", workdir / "pwfile"
    password = secrets.token_urlsafe(16)
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(workdir, SERVER_USER, SERVER_USER)
        shutil.chown(pwfile, SERVER_USER, SERVER_USER)
    pwfile.chmod(0o600)
    initdb = [
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        SERVER_USER,
        "--pwfile",
        str(pwfile),
        "--auth-local=scram-sha-256",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--no-sync",
    ]
    done = subprocess.run(_as_server_user(initdb), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.strip()}")
    pwfile.unlink()
    port = free_port()
    server = [
        str(bin_dir / "postgres"),
        "-D",
        str(data),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"port={port}",
        "-c",
        "unix_socket_directories=",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=100",
        "-c",
        "shared_buffers=32MB",
    ]
    log = (workdir / "postgres.log").open("wb")
    proc = subprocess.Popen(_as_server_user(server), stdout=log, stderr=subprocess.STDOUT)
    pg = PostgresServer("127.0.0.1", port, password, workdir, proc)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited with {proc.returncode}: {(workdir / 'postgres.log').read_text()}")
        engine = create_engine("postgresql+psycopg://" + pg.url().removeprefix("postgresql://"))
        try:
            with engine.connect() as conn:
                return conn.execute(text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()

    try:
        wait_until(ready, timeout=30, what="PostgreSQL", interval=0.1)
    except BaseException:
        stop_process(proc)
        raise
    return pg


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (about a second to initdb and start)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        unavailable("PostgreSQL", "the Debian package 'postgresql' is not installed (make test installs it)")
        return
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        unavailable("PostgreSQL", "running as root needs `runuser` to start the server as the postgres user")
    server = start_postgres(bin_dir)
    try:
        yield server
    finally:
        stop_process(server.process, timeout=20)
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server for this test."""
    return postgres_server.create_database(f"t_{secrets.token_hex(6)}")
