"""Listing a 1.28M-image tree: a full scan against the scan cache (`scan_image_folder`).

The tree holds empty files (listing never opens them). "cold" lists every folder (our cache is absent,
the OS page cache may be warm: dropping it needs root); "cached" reads the validated scan cache; "plain"
is torchvision's ImageFolder file discovery, the usual alternative. Folder mtimes are set into the past
after the tree is written, as for a dataset not modified in the last seconds (the cache does not trust
folders changed within MTIME_SAFETY_S of a scan).

    result = bench_listing(n_files=1_280_000)   # result["cached_s"] < 5 is the goal
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import ParityError


def make_empty_tree(root: Path, n_files: int, n_classes: int) -> Path:
    per_class, extra = divmod(n_files, n_classes)
    for c in range(n_classes):
        folder = root / f"n{c:08d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class + (1 if c < extra else 0)):
            os.close(os.open(folder / f"n{c:08d}_{i}.JPEG", os.O_CREAT | os.O_WRONLY, 0o644))
    past = time.time() - 3600
    for folder in [root, *root.iterdir()]:
        os.utime(folder, (past, past))
    return root


def bench_listing(
    n_files: int = 1_280_000,
    n_classes: int = 1000,
    root: str | None = None,
    keep: bool = False,
    plain: bool = True,
) -> dict[str, Any]:
    """Seconds to list the tree cold, from the cache, and with torchvision's ImageFolder discovery."""
    from ..data.scan import index_dir, scan_image_folder

    tmp = Path(root) if root else Path(tempfile.mkdtemp(prefix="genrobust-bench-listing-"))
    try:
        started = time.perf_counter()
        make_empty_tree(tmp, n_files, n_classes)
        build_s = time.perf_counter() - started
        shutil.rmtree(index_dir(tmp), ignore_errors=True)

        t0 = time.perf_counter()
        cold = scan_image_folder(tmp)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cached = scan_image_folder(tmp)
        cached_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pairs = list(cached)  # what a consumer does next: every (relative path, class id)
        iterate_s = time.perf_counter() - t0
        if not cached.from_cache:
            raise ParityError("the second listing did not come from the scan cache; not timing a full scan")
        if len(cached) != len(cold) or cached[len(cold) // 2] != cold[len(cold) // 2]:
            raise ParityError("the cached listing differs from the full scan")
        if len(cold) != n_files or len(pairs) != n_files:
            raise ParityError(f"listed {len(cold)} files, wrote {n_files}")
        result = {
            "benchmark": "scale_listing",
            "files": n_files,
            "classes": n_classes,
            "tree_build_s": round(build_s, 2),
            "cold_s": round(cold_s, 5),
            "cached_s": round(cached_s, 5),
            "cached_plus_iterate_s": round(cached_s + iterate_s, 5),
            "cache_bytes": (index_dir(tmp) / "scan.json").stat().st_size,
            "cached_speedup_vs_cold": round(cold_s / max(cached_s, 1e-9), 2),
            "goal_cached_under_5s": cached_s + iterate_s < 5,
        }
        if plain:
            from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

            classes = {
                e.name: i
                for i, e in enumerate(sorted(os.scandir(tmp), key=lambda e: e.name))
                if e.is_dir() and not e.name.startswith(".")
            }
            t0 = time.perf_counter()
            samples = make_dataset(str(tmp), classes, extensions=IMG_EXTENSIONS)
            result["plain_torchvision_s"] = round(time.perf_counter() - t0, 5)
            result["cached_speedup_vs_plain"] = round(result["plain_torchvision_s"] / max(cached_s, 1e-9), 2)
            if len(samples) != n_files:
                raise ParityError(f"torchvision listed {len(samples)} files, wrote {n_files}")
        return result
    finally:
        if not keep and root is None:
            shutil.rmtree(tmp, ignore_errors=True)
