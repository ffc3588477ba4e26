"""`just notify`: send alert events to the channels of `CITY_ALERT_CHANNELS`, until Ctrl-C.

    python -m dataflows.cli.notify [--once]

Reads the lake (`CITY_LAKE`) every two seconds; see `dataflows.notify` and docs/alerts.md.
"""

from __future__ import annotations

import argparse
import os
import sys

from dataflows import lake
from dataflows.cli import console
from dataflows.cli.startup import StartupError
from dataflows.notify.config import ChannelsError, load_channels
from dataflows.notify.notifier import Notifier
from dataflows.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send alert events to webhooks and e-mail.")
    parser.add_argument("--once", action="store_true", help="one pass, then stop")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if settings.alert_channels is None:
        raise StartupError("no channels: set CITY_ALERT_CHANNELS to a channels file")
    try:
        channels = load_channels(settings.alert_channels, os.environ)
    except ChannelsError as error:
        raise StartupError(str(error)) from None
    names = ", ".join(c.name for c in channels) or "none"
    address = lake.LakeAddress.from_settings(settings)
    print(f"[notify] lake {address}; channels: {names}", file=sys.stderr, flush=True)
    notifier = Notifier(
        address,
        channels,
        lookback_s=settings.notify_lookback_s,
        max_attempts=settings.notify_max_attempts,
        report=lambda line: print(f"[notify] {line}", file=sys.stderr, flush=True),
    )
    if args.once:
        counts = notifier.run_once()
        print(f"[notify] {counts}", file=sys.stderr)
    else:
        notifier.run()
    return 0


run = console(main)


if __name__ == "__main__":
    run()
