"""`genrobust data check`: count images per class, find unreadable or truncated files and duplicates.

Every image is fully decoded (a truncated JPEG fails only when its pixels are read). Files that fail are
written to `<index dir>/check.json`; `scan_image_folder` and so training leave them out. The scan cache
is refreshed on the way. A generated set (`genrobust generate --out`) is checked as its readers see it:
webdataset shards member by member, and without the near-duplicates `--dedup` listed in `_meta/dedup.json`.

    report = check_image_folder("real/", workers=8)
    report["bad"] -> [{"file": "n01440764/broken.JPEG", "error": "image file is truncated ..."}]
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..genset import GeneratedSet, byte_range_label, is_generated_set, read_dedup_list, write_bad_list
from .decode import open_rgb
from .scan import index_dir, scan_image_folder
from .sources import shard_entries

logger = logging.getLogger(__name__)

CHECK_FORMAT = "genrobust-check/1"


def _check_one(where: tuple[str, int, int]) -> tuple[str, str | None]:
    """(sha256 of the bytes, error or None) of a file, or of `size` bytes at `offset` inside it (a tar
    member) when offset >= 0. Pillow decodes with the GIL released, so threads scale."""
    path, offset, size = where
    try:
        with open(path, "rb") as f:
            if offset >= 0:
                f.seek(offset)
            data = f.read() if offset < 0 else f.read(size)
    except OSError as exc:
        return "", f"unreadable: {exc}"
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return digest, "empty file"
    try:
        img = open_rgb(data, path if offset < 0 else byte_range_label(path, offset))
    except DatasetError as exc:  # the decoders' own contract: what fails here fails in training and eval
        return digest, str(exc)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for hostile files; report, never crash
        return digest, f"{type(exc).__name__}: {exc}"
    if img.width < 1 or img.height < 1:
        return digest, "image has no pixels"
    return digest, None


def check_image_folder(root: str | Path, workers: int | None = None) -> dict[str, Any]:
    """Scan (refreshing the cache), decode every image, and record the bad ones for training to skip."""
    root = Path(root)
    started = time.perf_counter()
    items, class_ids = _items(root)
    dropped = read_dedup_list(root)
    items = [item for item in items if item[0] not in dropped]
    if not items:
        raise DatasetError(
            f"{str(root)!r} holds no images in its {len(class_ids)} class folder(s) "
            f"({', '.join(class_ids[:5])}); "
            "expected <root>/<class_id>/<image files> or the --out folder of `genrobust generate`"
        )
    workers = workers or max(1, len(os.sched_getaffinity(0)))
    rels = [rel for rel, _, _ in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_check_one, (where for _, _, where in items), chunksize=64))
    bad, by_hash = [], {}
    for rel, (digest, error) in zip(rels, results):
        if error:
            bad.append({"file": rel, "error": error})
        elif digest:
            by_hash.setdefault(digest, []).append(rel)
    duplicates = [group for group in by_hash.values() if len(group) > 1]
    bad_names = {b["file"] for b in bad}
    counts = {cid: 0 for cid in class_ids}
    for rel, cid, _ in items:
        if rel not in bad_names:
            counts[cid] = counts.get(cid, 0) + 1
    report = {
        "format": CHECK_FORMAT,
        "root": str(root.resolve()),
        "images": len(rels),
        "readable": len(rels) - len(bad),
        "classes": len(counts),
        "per_class": counts,
        "empty_classes": [cid for cid, n in counts.items() if n == 0],
        "bad": [b["file"] for b in bad],
        "bad_details": bad,
        "duplicate_groups": duplicates,
        "duplicate_files": sum(len(g) - 1 for g in duplicates),
        "dedup_dropped": len(dropped),
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_bad_list(index_dir(root), report)
    logger.info(
        "%s: %d images, %d bad, %d duplicate files", root, len(rels), len(bad), report["duplicate_files"]
    )
    return report


def _items(root: Path) -> tuple[list[tuple[str, str, tuple[str, int, int]]], tuple[str, ...]]:
    """(name, class id, (path, offset, size)) of every image, and the class ids in report order. Names are
    those of `check.json` and `_meta/dedup.json`: `<class>/<file>`, or `shards/<shard>#<member>`."""
    if is_generated_set(root):
        gset = GeneratedSet.open(root)
        if gset.output_format == "webdataset":
            # Checked against the records: a finished shard that is gone would otherwise shrink the counts.
            items = [
                (str(entry), entry.class_id, (str(root / entry.path), offset, size))
                for entry, offset, size in shard_entries(gset)
            ]
            return items, gset.manifest.label_space.ids
    files = scan_image_folder(root, refresh=True, skip_bad=False)
    return [(rel, cid, (os.path.join(root, rel), -1, -1)) for rel, cid in files], files.class_ids
