"""A throwaway PostgreSQL server for tests: `initdb` and `pg_ctl` in a temporary folder, on a free
loopback port, stopped and removed afterwards. PostgreSQL refuses to run as root, so as root the
server runs as the `postgres` user. Tests that need it skip, saying why, where the server binaries
are absent."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path


def server_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def missing_binaries() -> str | None:
    """Why no server can be started here, or None."""
    absent = [name for name in ("initdb", "pg_ctl") if server_binary(name) is None]
    if absent:
        return f"PostgreSQL server binaries not installed ({', '.join(absent)} not found)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL cannot be started as another user"
    return None


@dataclass(frozen=True)
class PostgresServer:
    port: int
    user: str = "postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def query(self, database: str, sql: str) -> list[tuple]:
        import psycopg2

        with closing(psycopg2.connect(self.url(database))) as con, con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_postgres(*databases: str) -> Iterator[PostgresServer]:
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    # pytest's own temporary folders are private to root: the server gets one under /tmp
    folder = Path(tempfile.mkdtemp(prefix="powerseg-pg-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    if as_root:
        for path in (folder, sockets):
            shutil.chown(path, "postgres", "postgres")
    user = "postgres" if as_root else os.environ.get("USER", "postgres")
    port = _free_port()

    def run(*cmd: str) -> None:
        done = subprocess.run([*run_as, *cmd], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")

    pg_ctl = server_binary("pg_ctl")
    try:
        run(server_binary("initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8",
            "--no-sync")  # fmt: skip
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w",
            "start")  # fmt: skip
        server = PostgresServer(port, user)
        import psycopg2

        con = psycopg2.connect(server.url("postgres"))
        con.autocommit = True
        with con.cursor() as cur:
            for database in databases:
                cur.execute(f'create database "{database}"')
        con.close()
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
