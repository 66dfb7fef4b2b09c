"""A throwaway PostgreSQL server for the tests: `initdb` into a temp dir, a free loopback port,
`pg_ctl start`, stopped and removed at the end. One server per pytest(-xdist) worker; every test
that asks for one gets its own fresh database on it.

As root (CI, a fresh Debian machine), initdb and postgres refuse to run: the cluster then belongs
to the `postgres` user (created by Debian's package) or, failing that, `nobody`, started through
`runuser`. Without PostgreSQL installed the tests that need it skip locally and FAIL when `CI` is
set (a CI that silently skipped them would prove nothing).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "cashup"  # the database superuser initdb creates (trust auth on loopback only)
PASSWORD = "pg-test-password"  # trust auth accepts any: lets tests check that it is redacted


def pg_bin_dir() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                  if Path(p).parent.name.isdigit() else 0)
    for d in reversed(dirs):
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    return None


def unavailable(reason: str) -> None:
    """Skip locally; fail under CI, where PostgreSQL must be installed (.ci/run installs it)."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason} (install postgresql, or run .ci/run)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"]
    raise RuntimeError("running as root with neither a postgres nor a nobody user to run PostgreSQL as")


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int = 0
    started: bool = False
    databases: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*_run_as(), *args], cwd=self.root, capture_output=True, text=True, timeout=120,
                              check=False)

    def start(self) -> None:
        if os.geteuid() == 0:
            who = pwd.getpwnam(_run_as()[2])
            os.chown(self.root, who.pw_uid, who.pw_gid)
        res = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust",
                        "-E", "UTF8", "--locale=C", "--no-sync")
        if res.returncode:
            raise RuntimeError(f"initdb failed: {res.stderr or res.stdout}")
        for _attempt in range(5):  # a port picked free can be taken before the server binds it
            self.port = _free_port()
            opts = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=200 "
                    f"-c full_page_writes=off -c synchronous_commit=off")
            res = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                            "-o", opts, "-w", "-t", "60", "start")
            if res.returncode == 0:
                self.started = True
                return
        log = (self.root / "log").read_text(errors="replace") if (self.root / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {res.stderr or res.stdout}\n{log[-2000:]}")

    def stop(self) -> None:
        if self.started:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", *, password: bool = False) -> str:
        auth = f"{USER}:{PASSWORD}" if password else USER
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL (psycopg 3)."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.url(name)


def start_server() -> PgServer:
    """Start a server or skip/fail (see `unavailable`)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[test]')")
    bindir = pg_bin_dir()
    if bindir is None:
        unavailable("initdb/pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin")
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="cashup-pg-"))  # under /tmp: reachable by the postgres user
    server = PgServer(bindir=bindir, root=root)
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    return server
