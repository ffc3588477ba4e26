"""`just s3` and `just s3-stop`: a local S3-compatible object store for the lake's files.

python -m dataflows.cli.s3_server start|stop|status
"""

from __future__ import annotations

import argparse
import sys

from dataflows.cli import console
from dataflows.servers.s3 import BUCKET, KEY_ID, S3Server, answers, running_pid, start, stop
from dataflows.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A local S3 server (S3Proxy) for the lake.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    server = S3Server.from_settings(Settings.from_env())
    if args.action == "start":
        start(server)
        print(
            "use it for the lake's files:\n"
            f"  export CITY_LAKE_DATA=s3://{BUCKET}/lake/\n"
            f"  export CITY_S3_ENDPOINT={server.endpoint} CITY_S3_USE_SSL=false\n"
            f"  export CITY_S3_KEY_ID={KEY_ID} CITY_S3_SECRET_FILE={server.secret_file}",
            file=sys.stderr,
        )
    elif args.action == "stop":
        print("S3Proxy stopped" if stop(server) else "S3Proxy was not running", file=sys.stderr)
    else:
        up = running_pid(server) is not None and answers(server)
        print(f"S3Proxy at {server.endpoint}: {'up' if up else 'down'}")
        return 0 if up else 1
    return 0


run = console(main)


if __name__ == "__main__":
    run()
