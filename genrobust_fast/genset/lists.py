"""The two lists of images readers leave out, both naming images as entries (`entries.py`):

- the dedup list, `_meta/dedup.json`: near-duplicates `genrobust generate --dedup` dropped. ImageFolder
  sets also lose the files; webdataset sets keep their tars (rewriting them would break resumption), so
  this list is all that stands between a reader and the duplicates.
- the bad list, `check.json` in a tree's index folder (`data.scan.index_dir`, outside the tree): files
  `genrobust data check` found unreadable, for real trees and generated sets alike.

    dropped = read_dedup_list(root)            # frozenset of entries
    write_dedup_list(root, summary, rows)      # rows: [{"file": entry, "duplicate_of": ..., "distance": d}]
    bad = read_bad_list(index_folder)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..fileio import atomic_write_json
from .names import dedup_list_path

BAD_LIST_NAME = "check.json"


def read_dedup_list(root: str | Path) -> frozenset[str]:
    """Images `--dedup` dropped from the set `root`, as entries; empty when it never ran."""
    path = dedup_list_path(root)
    if not path.is_file():
        return frozenset()
    try:
        rows = json.loads(path.read_text()).get("dropped_files")
        return frozenset(str(row["file"]) for row in rows)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DatasetError(
            f"{path} is not a dedup list ({type(exc).__name__}: {exc}); rerun "
            "`genrobust generate` with the job's options and --dedup to rewrite it"
        ) from exc


def write_dedup_list(root: str | Path, summary: dict[str, Any], dropped: list[dict[str, Any]]) -> None:
    atomic_write_json(dedup_list_path(root), {**summary, "dropped_files": dropped})


def read_bad_list(index_folder: Path) -> set[str]:
    """Entries `genrobust data check` marked unreadable or truncated (empty if never checked)."""
    try:
        return set(json.loads((index_folder / BAD_LIST_NAME).read_text()).get("bad", []))
    except (OSError, ValueError):
        return set()


def write_bad_list(index_folder: Path, report: dict[str, Any]) -> None:
    """`data check`'s report, whose "bad" entries readers skip."""
    atomic_write_json(index_folder / BAD_LIST_NAME, report)
