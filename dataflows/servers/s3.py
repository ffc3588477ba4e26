"""A local S3-compatible object store for the lake's files: S3Proxy from Maven Central.

`just s3` / `python -m dataflows.cli.s3_server start` fetches S3Proxy's jars with `mvn`
(cached in `~/.m2`, copied once under `data/s3/`), and starts it on 127.0.0.1
(`CITY_S3_PORT`) with its filesystem backend (`data/s3/store/`, one folder per bucket) and
AWS signature checks: the access key is `city`, the secret is generated on first use and
kept in `data/s3/secret`. The bucket `city-lake` exists from the start. `stop` stops it.
S3Proxy: https://github.com/gaul/s3proxy (Apache-2.0). The test suite starts its own.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dataflows.servers import maven, processes
from dataflows.settings import Settings

S3PROXY_VERSION = "2.6.0"
KEY_ID = "city"
BUCKET = "city-lake"


@dataclass(frozen=True)
class S3Server:
    """Where a local S3Proxy lives and listens."""

    home: Path
    port: int = 9400
    host: str = "127.0.0.1"

    @property
    def endpoint(self) -> str:
        """For `CITY_S3_ENDPOINT`."""
        return f"{self.host}:{self.port}"

    @property
    def lib(self) -> Path:
        return self.home / f"lib-{S3PROXY_VERSION}"

    @property
    def store(self) -> Path:
        return self.home / "store"

    @property
    def secret_file(self) -> Path:
        """The secret access key (only the owner may read it)."""
        return self.home / "secret"

    @property
    def log_file(self) -> Path:
        return self.home / "s3proxy.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "s3proxy.pid"

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Server:
        return cls(settings.s3_home, settings.s3_port)


def secret(server: S3Server) -> str:
    """The secret access key, written by `start` on first use."""
    return server.secret_file.read_text().strip()


def _configure(server: S3Server) -> Path:
    server.home.mkdir(parents=True, exist_ok=True)
    (server.store / BUCKET).mkdir(parents=True, exist_ok=True)  # a bucket is a folder here
    if not server.secret_file.exists():
        server.secret_file.write_text(secrets.token_urlsafe(24) + "\n")
        server.secret_file.chmod(0o600)
    properties = server.home / "s3proxy.properties"
    properties.write_text(
        "\n".join(
            [
                f"s3proxy.endpoint=http://{server.host}:{server.port}",
                "s3proxy.authorization=aws-v2-or-v4",
                f"s3proxy.identity={KEY_ID}",
                f"s3proxy.credential={secret(server)}",
                "jclouds.provider=filesystem",
                f"jclouds.filesystem.basedir={server.store}",
                "",
            ]
        )
    )
    properties.chmod(0o600)
    (server.home / "logback.xml").write_text(_LOGBACK.format(log=server.log_file))
    return properties


_LOGBACK = """<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>{log}</file>
    <encoder><pattern>%d %level %logger{{36}}: %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="FILE"/></root>
</configuration>
"""


def running_pid(server: S3Server) -> int | None:
    """Pid of the server started from `server.home`, if it is alive."""
    return processes.running_pid(server.pid_file)


def answers(server: S3Server) -> bool:
    """Whether an S3 server answers HTTP at `server.endpoint` (any status will do)."""
    try:
        socket.create_connection((server.host, server.port), timeout=1.0).close()
        urllib.request.urlopen(f"http://{server.endpoint}/", timeout=2.0).close()
    except urllib.error.HTTPError:
        return True  # 403 without a signature: it is up
    except OSError:
        return False
    return True


def start(server: S3Server, timeout_s: float = 60.0) -> None:
    """Start S3Proxy (fetching it on first use) and wait until it answers."""
    if running_pid(server) is not None and answers(server):
        print(f"S3Proxy is already running at {server.endpoint}", file=sys.stderr)
        return
    lib = maven.fetch_jars(
        server.lib, f"S3Proxy {S3PROXY_VERSION}", [("org.gaul", "s3proxy", S3PROXY_VERSION)]
    )
    properties = _configure(server)
    out = open(server.home / "stdout.log", "ab")  # noqa: SIM115 - owned by the server
    process = subprocess.Popen(
        maven.java(
            "-Xmx512m",
            f"-Dlogback.configurationFile={server.home / 'logback.xml'}",
            "-cp",
            f"{lib}/*",
            "org.gaul.s3proxy.Main",
            "--properties",
            str(properties),
        ),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()
    server.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"S3Proxy exited ({process.returncode}); see {server.log_file}")
        if answers(server):
            print(f"S3Proxy {S3PROXY_VERSION} is up at {server.endpoint}", file=sys.stderr)
            return
        time.sleep(0.3)
    stop(server)
    raise SystemExit(f"S3Proxy did not answer within {timeout_s:g} s; see {server.log_file}")


def stop(server: S3Server, timeout_s: float = 30.0) -> bool:
    """Stop the server started from `server.home`; whether one was running."""
    return processes.stop_pid(server.pid_file, timeout_s)
