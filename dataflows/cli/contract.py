"""`just contract`: print the JSON Schema of the messages the catalogue accepts.

python -m dataflows.cli.contract [--out FILE]      # CITY_CATALOGUE, or data/catalogue.toml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dataflows.catalogue.contract import json_schema
from dataflows.catalogue.load import load_catalogue
from dataflows.cli import console
from dataflows.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The message contract as a JSON Schema.")
    parser.add_argument("--out", type=Path, help="write it here instead of printing it")
    args = parser.parse_args(argv)
    text = json.dumps(json_schema(load_catalogue(Settings.from_env().catalogue)), indent=2)
    if args.out is None:
        print(text)
    else:
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"[contract] wrote {args.out}", file=sys.stderr)
    return 0


run = console(main)


if __name__ == "__main__":
    run()
