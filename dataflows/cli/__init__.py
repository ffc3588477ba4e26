"""Every command of the project: one module per command, each with its `main`."""

from __future__ import annotations

import sys
from collections.abc import Callable


def console(main: Callable[[], int | None], name: str | None = None) -> Callable[[], None]:
    """The console command of a `main`: logging configured, then its exit code.

    A problem of configuration (a bad setting or catalogue, a broker that does not answer)
    is one line, `[name] error: ...`, and exit code 2; Ctrl-C is `[name] stopped.` and 130.
    """

    def run() -> None:
        from dataflows.catalogue.load import CatalogueError
        from dataflows.cli.startup import StartupError
        from dataflows.logs import configure_logging
        from dataflows.settings import SettingError, Settings

        module = main.__module__
        if module == "__main__":  # run as `python -m dataflows.cli.<command>`
            spec = getattr(sys.modules["__main__"], "__spec__", None)
            module = spec.name if spec is not None else module
        command = name or module.rsplit(".", 1)[-1]
        try:
            configure_logging(Settings.from_env())
            code = main()
        except (SettingError, CatalogueError, StartupError) as error:
            print(f"[{command}] error: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print(f"[{command}] stopped.", file=sys.stderr)
            raise SystemExit(130) from None
        raise SystemExit(code)

    return run
