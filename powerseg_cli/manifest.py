"""`powerseg manifest`: write `_manifest.json` for a landing folder whose producer writes none,
listing every table file with its row count and the extract window derived from the data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from powerseg.contract import MANIFEST_FILE
from powerseg.landing import LandingError, folder_contents
from powerseg.manifest import write_manifest


def cmd_manifest(args: argparse.Namespace) -> int:
    raw = Path(args.dir).resolve()
    try:
        manifest, window = write_manifest(
            raw, force=args.force, extract_start=args.extract_start, extract_end=args.extract_end
        )
    except LandingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {raw / MANIFEST_FILE}: extract {manifest['extract_start']} .. "
        f"{manifest['extract_end']} (from {window.derived_from})"
    )
    for table, entry in manifest["tables"].items():
        print(f"  {table:<22} {entry['rows']:>12,} rows in {len(entry['files'])} file(s)")
    other = folder_contents(raw).other
    if other:
        print(f"not listed (not table Parquet files): {', '.join(other)}")
    return 0
