"""`just compact`: apply the retention periods, merge small lake files, drop old snapshots."""

from __future__ import annotations

from dataflows.lake.maintain import maintain
from dataflows.logs import configure_logging
from dataflows.settings import Settings


def main() -> int:
    configure_logging(Settings.from_env())
    print(maintain())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
