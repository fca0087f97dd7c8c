"""Recorded vs present: is every image a set's metadata records where a reader found it?

Readers list a set cheaply (the scan cache, the tar index); this compares that listing with what
generation recorded, so a deleted shard or a lost file is refused by name instead of training silently on
less (or failing later with "no images of 3 training class(es)").

Cheap enough for every start: per shard it reads the done marker's image count (or counts the metadata's
lines); the records themselves are parsed only when a count falls short, to name what is missing. Damage
inside files (sizes, sha256s) is `genrobust generate`'s check on rerun (generation/repair.py).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError
from .entries import Entry
from .names import REGENERATE_HINT, SHARDS_DIR, Layout, shard_tar_name
from .records import read_records, recorded_images


def _recorded_files(layout: Layout, k: int) -> list[str]:
    return [r["file"] for r in read_records(layout.jsonl(k)) if "file" in r]


def missing_from_folders(layout: Layout, present: set[str], dropped: frozenset[str]) -> list[str]:
    """Recorded `<class>/<file>` entries not in `present` (the names a reader found)."""
    n = layout.num_shards
    recorded = sum(recorded_images(layout.jsonl(k), layout.done(k)) for k in range(n))
    if len(present) >= recorded - len(dropped):
        return []
    return [f for k in range(n) for f in _recorded_files(layout, k) if f not in present]


def missing_from_tars(layout: Layout, tar_members: dict[str, set[str]]) -> list[str]:
    """Recorded members of finished shards that their tar (name -> member names found) lacks; a finished
    shard whose tar is gone is a DatasetError of its own. Unfinished shards are still being written."""
    missing_shards, missing = [], []
    for k in range(layout.num_shards):
        if not layout.is_done(k):
            continue
        tar = shard_tar_name(k, layout.num_shards)
        recorded = recorded_images(layout.jsonl(k), layout.done(k))
        members = tar_members.get(tar)
        if members is None:
            missing_shards.append(f"{SHARDS_DIR}/{tar} ({recorded} images)")
        elif len(members) < recorded:
            missing += [f for f in _recorded_files(layout, k) if Entry.parse(f).name not in members]
    if missing_shards:
        raise DatasetError(
            f"generated set {str(layout.root)!r} is missing {len(missing_shards)} finished shard(s) its "
            f"metadata records: {', '.join(missing_shards[:5])}; {REGENERATE_HINT}"
        )
    return missing


def refuse_missing(root: Path, missing: list[str]) -> None:
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetError(
            f"generated set {str(root)!r} lacks {len(missing)} image(s) its metadata records ({shown}); "
            f"{REGENERATE_HINT}"
        )
