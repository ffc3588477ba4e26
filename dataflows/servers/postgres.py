"""A local PostgreSQL server for the lake's catalog, from Debian's `postgresql` package.

`just postgres` / `python -m dataflows.cli.postgres_server start` creates a cluster under
`data/postgres/` on first use (`initdb`: a superuser `city` with a generated password kept in
`data/postgres/password`, password authentication over TCP), starts it listening on
127.0.0.1 only (`CITY_POSTGRES_PORT`), creates the database `city` and waits until it
answers. `stop` stops it. PostgreSQL refuses to run as root: run as root, the cluster
belongs to the `postgres` user the package creates. The test suite starts its own server
with the same code.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dataflows.settings import Settings

USER = "city"
DATABASE = "city"


@dataclass(frozen=True)
class PostgresServer:
    """Where a local PostgreSQL cluster lives and listens."""

    home: Path
    port: int = 5432
    host: str = "127.0.0.1"

    @property
    def data(self) -> Path:
        return self.home / "cluster"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def password_file(self) -> Path:
        """The superuser's password (only the owner may read it)."""
        return self.home / "password"

    @property
    def url(self) -> str:
        """The catalog's address for `CITY_LAKE_CATALOG` (the password is kept apart)."""
        return self.database_url(DATABASE)

    def database_url(self, database: str) -> str:
        return f"postgresql://{USER}@{self.host}:{self.port}/{database}"

    @classmethod
    def from_settings(cls, settings: Settings) -> PostgresServer:
        return cls(settings.postgres_home, settings.postgres_port)


def binaries() -> Path:
    """The folder of `initdb` and `pg_ctl`: Debian's newest installed PostgreSQL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise SystemExit("PostgreSQL is needed for this lake: apt-get install postgresql")
    return Path(initdb).parent


def _major(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


def _as_owner(command: list[str]) -> list[str]:
    """`command`, run as `postgres` when we are root (PostgreSQL refuses root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _give_to_owner(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _run(command: list[str], what: str) -> str:
    result = subprocess.run(_as_owner(command), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{what} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout


def password(server: PostgresServer) -> str:
    """The superuser's password, written by `start` on first use."""
    return server.password_file.read_text().strip()


def _init(server: PostgresServer, bin_dir: Path) -> None:
    server.home.mkdir(parents=True, exist_ok=True)
    server.home.chmod(0o700)
    _give_to_owner(server.home)
    secret = secrets.token_urlsafe(24)
    pwfile = server.home / ".initdb-password"
    pwfile.write_text(secret + "\n")
    pwfile.chmod(0o600)
    _give_to_owner(pwfile)
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(server.data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",  # the socket lies in the owner's private home
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            "initdb",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    server.password_file.write_text(secret + "\n")
    server.password_file.chmod(0o600)


def running(server: PostgresServer) -> bool:
    """Whether the cluster under `server.home` accepts connections."""
    if not (server.data / "postmaster.pid").exists():
        return False
    result = subprocess.run(
        [str(binaries() / "pg_isready"), "-q", "-h", server.host, "-p", str(server.port)],
        capture_output=True,
    )
    return result.returncode == 0


def start(server: PostgresServer, timeout_s: float = 60.0) -> None:
    """Start the cluster (created on first use), then create the database if missing."""
    bin_dir = binaries()
    if running(server):
        print(f"PostgreSQL is already running at {server.host}:{server.port}", file=sys.stderr)
        return
    if not (server.data / "PG_VERSION").exists():
        _init(server, bin_dir)
    options = f"-h {server.host} -p {server.port} -k {server.home} -c max_connections=200"
    _run(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(server.data),
            "-l",
            str(server.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout_s)),
            "start",
        ],
        f"starting PostgreSQL (see {server.log_file})",
    )
    create_database(server, DATABASE)  # pg_ctl -w waited until it accepts connections
    print(
        f"PostgreSQL is up at {server.host}:{server.port} (log: {server.log_file})", file=sys.stderr
    )


def create_database(server: PostgresServer, database: str) -> None:
    """Create `database` on the running server unless it exists (one lake per database)."""
    if not database.replace("_", "").isalnum():
        raise ValueError(f"a database name of letters, digits and _ only, got {database!r}")
    bin_dir = binaries()
    local = ["-h", str(server.home), "-p", str(server.port), "-U", USER]
    exists = _run(
        [
            str(bin_dir / "psql"),
            *local,
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{database}'",
        ],
        "asking for the database",
    )
    if exists.strip() != "1":
        _run([str(bin_dir / "createdb"), *local, database], "createdb")


def stop(server: PostgresServer) -> bool:
    """Stop the cluster under `server.home`; whether it was running."""
    if not (server.data / "postmaster.pid").exists():
        return False
    _run(
        [str(binaries() / "pg_ctl"), "-D", str(server.data), "-m", "fast", "-w", "stop"],
        "stopping PostgreSQL",
    )
    return True
