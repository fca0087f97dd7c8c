"""Where each file of a generated set lives: the one place that spells the set's file names.

<root>/manifest.json                              what the job made (`manifest.py`)
<root>/<class_id>/<class_id>_<index:07d>.<ext>    imagefolder images
<root>/shards/shard-00003-of-00008.tar            webdataset shards (`.<name>.partial` while written)
<root>/_meta/shard-00003-of-00008.jsonl           one JSON record per image, in work-list order
<root>/_meta/shard-00003-of-00008.done.json       written last: the shard is complete
<root>/_meta/dedup.json                           near-duplicates `--dedup` dropped (`lists.py`)
<root>/_meta/tmp/shard-.../                       temp files of a shard being written

layout = Layout(root, num_shards=8)
layout.jsonl(3), layout.done(3), layout.tar(3)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MANIFEST_NAME = "manifest.json"
META_DIR = "_meta"
SHARDS_DIR = "shards"
DEDUP_LIST_NAME = "dedup.json"
TMP_DIR = "tmp"
RECORDS_SUFFIX = ".jsonl"
DONE_SUFFIX = ".done.json"
TAR_SUFFIX = ".tar"

SHARD_TAR = re.compile(r"^shard-(\d{5})-of-(\d{5})\.tar$")

# What a reader that finds a set damaged tells the user: generation checks and repairs on every start.
REGENERATE_HINT = (
    "rerun the `genrobust generate` command that wrote the set: a rerun checks every shard and "
    "regenerates what is missing or damaged"
)


def shard_name(k: int, n: int) -> str:
    """`shard-00003-of-00008`: the stem of shard k's metadata, done marker, tar and lock."""
    return f"shard-{k:05d}-of-{n:05d}"


def shard_tar_name(k: int, n: int) -> str:
    return shard_name(k, n) + TAR_SUFFIX


def shard_tar_rel(tar_name: str) -> str:
    """A tar's name relative to the set's root, as records and entries spell it."""
    return f"{SHARDS_DIR}/{tar_name}"


def shards_dir(root: str | Path) -> Path:
    return Path(root) / SHARDS_DIR


def manifest_path(root: str | Path) -> Path:
    return Path(root) / MANIFEST_NAME


def meta_dir(root: str | Path) -> Path:
    return Path(root) / META_DIR


def dedup_list_path(root: str | Path) -> Path:
    return meta_dir(root) / DEDUP_LIST_NAME


def record_files(root: str | Path) -> list[Path]:
    """Every shard's metadata JSONL present, in shard order."""
    meta = meta_dir(root)
    return sorted(meta.glob(f"shard-*-of-*{RECORDS_SUFFIX}")) if meta.is_dir() else []


@dataclass(frozen=True)
class Layout:
    """The paths of a set of `num_shards` shards below `root`."""

    root: Path
    num_shards: int

    def jsonl(self, k: int) -> Path:
        return meta_dir(self.root) / (shard_name(k, self.num_shards) + RECORDS_SUFFIX)

    def done(self, k: int) -> Path:
        return meta_dir(self.root) / (shard_name(k, self.num_shards) + DONE_SUFFIX)

    def tmp(self, k: int) -> Path:
        return meta_dir(self.root) / TMP_DIR / shard_name(k, self.num_shards)

    def tar_rel(self, k: int) -> str:
        return shard_tar_rel(shard_tar_name(k, self.num_shards))

    def tar(self, k: int) -> Path:
        return self.root / self.tar_rel(k)

    def partial_tar(self, k: int) -> Path:
        """The tar while its shard is written: renamed to `tar(k)` when the shard is done."""
        return partial_of(self.tar(k))

    def shards_dir(self) -> Path:
        return shards_dir(self.root)

    def is_done(self, k: int) -> bool:
        return self.done(k).exists()


def partial_of(tar: Path) -> Path:
    return tar.with_name(f".{tar.name}.partial")
