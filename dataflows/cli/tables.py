"""`python -m dataflows.cli.tables`: the lake's table list, as `docs/lake.md` shows it."""

from __future__ import annotations

from dataflows.lake.tables import markdown


def main() -> int:
    print(markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
