"""`just postgres` and `just postgres-stop`: a local PostgreSQL for the lake's catalog.

python -m dataflows.cli.postgres_server start|stop|status
"""

from __future__ import annotations

import argparse
import sys

from dataflows.cli import console
from dataflows.servers.postgres import PostgresServer, running, start, stop
from dataflows.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A local PostgreSQL for the lake's catalog.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    server = PostgresServer.from_settings(Settings.from_env())
    if args.action == "start":
        start(server)
        print(
            "use it as the lake's catalog:\n"
            f"  export CITY_LAKE_CATALOG={server.url}\n"
            f"  export CITY_LAKE_CATALOG_PASSWORD_FILE={server.password_file}",
            file=sys.stderr,
        )
    elif args.action == "stop":
        print(
            "PostgreSQL stopped" if stop(server) else "PostgreSQL was not running", file=sys.stderr
        )
    else:
        up = running(server)
        print(f"PostgreSQL at {server.host}:{server.port}: {'up' if up else 'down'}")
        return 0 if up else 1
    return 0


run = console(main)


if __name__ == "__main__":
    run()
