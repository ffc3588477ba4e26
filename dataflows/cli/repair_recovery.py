"""`just repair-recovery FOLDER`: drop the snapshots a killed run left in a recovery store.

The flow does this itself before it resumes when one folder holds the whole store
(`dataflows.flow.stale_snapshots`). A cluster's store split between hosts cannot be
repaired by any one of them: gather the partition files in one folder, run this, and hand
them back before the cluster starts again (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dataflows.flow.stale_snapshots import StoreNotWhole, drop_stale_snapshots


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="just repair-recovery", description=__doc__)
    parser.add_argument("folder", type=Path, help="a folder holding every partition file")
    args = parser.parse_args(argv)
    try:
        repair = drop_stale_snapshots(args.folder)
    except StoreNotWhole as why:
        print(f"not repaired: {why}", file=sys.stderr)
        return 1
    print(f"resume epoch {repair.resume_epoch}: dropped {repair.dropped} stale snapshots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
