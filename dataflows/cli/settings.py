"""`python -m dataflows.cli.settings [configuration|kafka]`: the settings reference tables."""

from __future__ import annotations

import sys

from dataflows.settings import markdown


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    for group in args or ["configuration", "kafka", "lake"]:
        print(markdown(group))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
