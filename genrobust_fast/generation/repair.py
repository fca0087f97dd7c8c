"""A rerun checks a shard's outputs, not only its markers, and repairs what is missing or damaged.

    damage = check_shard(out, "webdataset", shard=0, num_shards=4)           # [] when intact
    repair_shard(out, "webdataset", 0, 4, damage)  # drop the damaged records; the job regenerates them

What every start checks (cheap: a stat per image, a 512-byte header read per tar member): each image the
shard's metadata records exists with its recorded size, and each tar member's header names the recorded
image at the recorded offset. `deep` (`generate --verify`) also re-hashes every image against its
recorded sha256. A repaired shard loses its done marker and the damaged records, so the job remakes
exactly those images; with plan-unit batches they come out byte-identical under the same settings.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..genset import Entry, Layout, header_at, keep_records, meta_dir, read_dedup_list, read_records
from ..paths import contained

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Damage:
    record: int  # index of the first damaged record in the shard's metadata (for tars: all after it too)
    file: str
    problem: str


def _image_folder_damage(out: Path, records: list[dict[str, Any]], deep: bool) -> list[Damage]:
    found = []
    for i, r in enumerate(records):
        try:
            path = contained(out, r["file"], source=meta_dir(out), fix="")
        except DatasetError:  # never followed: the image is remade under its own name
            found.append(Damage(i, str(r["file"]), "a path outside the output folder"))
            continue
        try:
            size = path.stat().st_size
        except OSError:
            found.append(Damage(i, r["file"], "missing"))
            continue
        if size != r["bytes"]:
            found.append(Damage(i, r["file"], f"{size} bytes, recorded {r['bytes']}"))
        elif deep and hashlib.sha256(path.read_bytes()).hexdigest() != r["sha256"]:
            found.append(Damage(i, r["file"], "sha256 differs from the recorded one"))
    return found


def _tar_damage(tar: Path, records: list[dict[str, Any]], deep: bool) -> list[Damage]:
    """The first damaged member of a tar shard (a tar is only good up to its first damage)."""
    if not tar.exists():
        return [Damage(0, str(tar.name), "missing")] if records else []
    start = 0
    with open(tar, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        for i, r in enumerate(records):
            member = Entry.parse(r["file"]).name
            if size < r["tar_end"]:
                return [
                    Damage(
                        i,
                        r["file"],
                        f"{tar.name} ends at byte {size}, before this image's end {r['tar_end']}",
                    )
                ]
            try:
                info = header_at(f, start)
            except tarfile.TarError:
                return [Damage(i, r["file"], f"no readable tar header at byte {start}")]
            if info.name != member or info.size != r["bytes"]:
                return [
                    Damage(i, r["file"], f"the tar header at byte {start} is {info.name!r}, not this image")
                ]
            if deep and hashlib.sha256(f.read(info.size)).hexdigest() != r["sha256"]:
                return [Damage(i, r["file"], "sha256 differs from the recorded one")]
            start = r["tar_end"]
    return []


def check_shard(
    out: Path, output_format: str, shard: int, num_shards: int, deep: bool = False
) -> list[Damage]:
    """The recorded images of one shard that are missing or damaged ([] when the shard is intact)."""
    layout = Layout(out, num_shards)
    records = read_records(layout.jsonl(shard))
    if output_format == "imagefolder":
        dropped = read_dedup_list(out)  # `--dedup` deleted these on purpose: not damage
        damage = _image_folder_damage(out, records, deep)
        return [d for d in damage if d.file not in dropped]
    final, partial = layout.tar(shard), layout.partial_tar(shard)
    done = layout.is_done(shard)
    tar = final if done or (final.exists() and not partial.exists()) else partial
    return _tar_damage(tar, records, deep)


def repair_shard(out: Path, output_format: str, shard: int, num_shards: int, damage: list[Damage]) -> int:
    """Forget the damaged records (for a tar: from the first damaged member on) so the job remakes them;
    returns how many images will be regenerated."""
    layout = Layout(out, num_shards)
    records = read_records(layout.jsonl(shard), repair=True)
    if output_format == "imagefolder":
        bad = {d.record for d in damage}
    else:
        bad = set(range(min(d.record for d in damage), len(records)))
        if layout.tar(shard).exists():
            # the writer cuts the partial tar back to the last good member
            os.replace(layout.tar(shard), layout.partial_tar(shard))
    # First: an interrupted repair must not leave a "complete" shard behind.
    layout.done(shard).unlink(missing_ok=True)
    keep_records(layout.jsonl(shard), lambda i: i not in bad)
    for d in damage[:3]:
        log.warning("shard %d: %s is %s; it is regenerated", shard, d.file, d.problem)
    return len(bad)
