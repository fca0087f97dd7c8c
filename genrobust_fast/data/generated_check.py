"""Is every image a generated set's metadata records where a reader looks for it?

Readers list a generated set cheaply (the scan cache, the tar index); this check compares that listing
with what generation recorded, so a deleted shard or a lost file is refused by name instead of training
silently on less (or failing later with "no images of 3 training class(es)").

    check_recorded_images("gen/", manifest, present={"n01440764/n01440764_0000000.png", ...})
    members = {"shard-00000-of-00001.tar": {"n01440764_0000000.jpg"}}
    check_recorded_images("gen/", manifest, tar_members=members)

Cheap enough for every start: per shard it reads the done marker's image count (or counts the metadata's
lines); the metadata records themselves are parsed only when a count falls short, to name what is missing.
Damage inside files (sizes, sha256s) is `genrobust generate`'s check on rerun (generation/repair.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DatasetError

REGENERATE_HINT = (
    "rerun the `genrobust generate` command that wrote the set: a rerun checks every shard and "
    "regenerates what is missing or damaged"
)


def _meta_paths(root: Path, k: int, n: int) -> tuple[Path, Path]:
    from ..generation.writers import meta_paths

    return meta_paths(root, k, n)


def _recorded_count(jsonl: Path, done: Path) -> int:
    try:
        count = json.loads(done.read_text()).get("images")
    except (OSError, ValueError, AttributeError):
        count = None
    if isinstance(count, int):
        return count
    try:
        return jsonl.read_bytes().count(b"\n")
    except OSError:
        return 0


def _recorded_files(jsonl: Path) -> list[str]:
    from ..generation.writers import read_records

    return [r["file"] for r in read_records(jsonl) if "file" in r]


def check_recorded_images(
    root: str | Path,
    manifest: dict[str, Any],
    present: set[str] | None = None,
    tar_members: dict[str, set[str]] | None = None,
    dropped: frozenset[str] = frozenset(),
) -> None:
    """Raise DatasetError naming the shards or images that `_meta/` records but the reader did not find.

    ImageFolder sets: `present` holds the "<class>/<file>" names the reader found. Webdataset sets:
    `tar_members` maps each tar found under shards/ to its member names. Unfinished webdataset shards (no
    done marker: the tar is still being written) are skipped; the reader warns that the set is partial.
    `dropped`: the near-duplicates `generate --dedup` removed (`sources.deduplicated_files`), gone on purpose.
    """
    root = Path(root)
    n = int(manifest.get("num_shards") or 0)
    if manifest.get("output_format") == "webdataset":
        missing = _missing_from_tars(root, n, tar_members or {})
    else:
        missing = _missing_from_folders(root, n, present or set(), dropped)
    missing = [f for f in missing if f not in dropped]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetError(
            f"generated set {str(root)!r} lacks {len(missing)} image(s) its metadata records ({shown}); "
            f"{REGENERATE_HINT}"
        )


def _missing_from_folders(root: Path, n: int, present: set[str], dropped: frozenset[str]) -> list[str]:
    recorded = sum(_recorded_count(*_meta_paths(root, k, n)) for k in range(n))
    if len(present) >= recorded - len(dropped):
        return []
    return [f for k in range(n) for f in _recorded_files(_meta_paths(root, k, n)[0]) if f not in present]


def _missing_from_tars(root: Path, n: int, tar_members: dict[str, set[str]]) -> list[str]:
    missing_shards, missing = [], []
    for k in range(n):
        jsonl, done = _meta_paths(root, k, n)
        if not done.exists():
            continue
        tar = jsonl.name.removesuffix(".jsonl") + ".tar"
        recorded = _recorded_count(jsonl, done)
        members = tar_members.get(tar)
        if members is None:
            missing_shards.append(f"shards/{tar} ({recorded} images)")
        elif len(members) < recorded:
            missing += [f for f in _recorded_files(jsonl) if f.split("#", 1)[-1] not in members]
    if missing_shards:
        raise DatasetError(
            f"generated set {str(root)!r} is missing {len(missing_shards)} finished shard(s) its metadata "
            f"records: {', '.join(missing_shards[:5])}; {REGENERATE_HINT}"
        )
    return missing
