"""Every command of the project: one module per command, each with its `main`."""

from __future__ import annotations

from collections.abc import Callable


def console(main: Callable[[], int | None]) -> Callable[[], None]:
    """The console command of a `main`: logging configured, then its exit code."""

    def run() -> None:
        from dataflows.logs import configure_logging
        from dataflows.settings import Settings

        configure_logging(Settings.from_env())
        raise SystemExit(main())

    return run
