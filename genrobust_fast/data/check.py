"""`genrobust data check`: count images per class, find unreadable or truncated files and duplicates.

Every image is fully decoded (a truncated JPEG fails only when its pixels are read). Files that fail are
written to `<index dir>/check.json`; `scan_image_folder` and so training leave them out. The scan cache
is refreshed on the way.

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

from ..fileio import atomic_write_json
from .scan import index_dir, scan_image_folder

logger = logging.getLogger(__name__)

CHECK_FORMAT = "genrobust-check/1"


def _check_one(path: str) -> tuple[str, str | None]:
    """(sha256 of the bytes, error or None). Pillow decodes with the GIL released, so threads scale."""
    from PIL import Image

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return "", f"unreadable: {exc}"
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return digest, "empty file"
    try:
        import io

        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.width < 1 or img.height < 1:
                return digest, "image has no pixels"
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types (OSError, SyntaxError, ValueError...) for bad files
        return digest, f"{type(exc).__name__}: {exc}"
    return digest, None


def check_image_folder(root: str | Path, workers: int | None = None) -> dict[str, Any]:
    """Scan (refreshing the cache), decode every image, and record the bad ones for training to skip."""
    root = Path(root)
    started = time.perf_counter()
    files = scan_image_folder(root, refresh=True, skip_bad=False)
    workers = workers or max(1, len(os.sched_getaffinity(0)))
    rels = [rel for rel, _ in files]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_check_one, (os.path.join(root, r) for r in rels), chunksize=64))
    bad, by_hash = [], {}
    for rel, (digest, error) in zip(rels, results):
        if error:
            bad.append({"file": rel, "error": error})
        elif digest:
            by_hash.setdefault(digest, []).append(rel)
    duplicates = [group for group in by_hash.values() if len(group) > 1]
    bad_names = {b["file"] for b in bad}
    counts = {cid: 0 for cid in files.class_ids}
    for rel, cid in files:
        if rel not in bad_names:
            counts[cid] += 1
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
        "seconds": round(time.perf_counter() - started, 3),
    }
    atomic_write_json(index_dir(root) / "check.json", report)
    logger.info("%s: %d images, %d bad, %d duplicate files", root, len(rels), len(bad), report["duplicate_files"])
    return report
