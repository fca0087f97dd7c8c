"""Near-duplicate removal within a generated set, and near-copy audits against a benchmark.

    dedup_generated("gen/", max_distance=4)          # per class; drops later near-copies of earlier images
    audit_generated("gen/", "/data/imagenet-r", max_distance=8)
    # {"generated": 2000, "benchmark": 30000, "near_copies": 3,
    #  "matches": [{"generated": ..., "benchmark": ..., "distance": 2}]}

Both use the 64-bit perceptual hash (kernels.phash64) and Hamming top-k search (kernels.hamming_topk).
Images are read and hashed in chunks, so memory stays bounded by the hashes (8 bytes per image).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import is_image_name
from ..errors import InputError
from ..genset import Entry, GeneratedSet, is_generated_set, shard_name, write_dedup_list
from ..outlock import lock_output

log = logging.getLogger(__name__)

CHUNK = 1024


def open_generated(out: str | Path) -> GeneratedSet:
    """The generated set `out`; an InputError for a folder that is not one (an option names it)."""
    if not is_generated_set(out):
        raise InputError(
            f"{str(out)!r} has no manifest.json; give the --out folder of a `genrobust generate` job"
        )
    return GeneratedSet.open(out)


def _hash_paths(paths: list[str], read) -> np.ndarray:
    from .. import kernels
    from ..data.decode import decode_rgb

    codes = []
    for start in range(0, len(paths), CHUNK):
        codes.append(kernels.phash64([decode_rgb(read(p), p) for p in paths[start : start + CHUNK]]))
    return np.concatenate(codes) if codes else np.zeros(0, np.uint64)


def dedup_generated(out: str | Path, max_distance: int = 4, neighbours: int = 8) -> dict[str, Any]:
    """Drop, within each class, images whose phash is within `max_distance` bits of an earlier kept one.

    ImageFolder sets lose the files; webdataset sets keep their tars and list the dropped members in
    `_meta/dedup.json` for readers to skip. Either way `_meta/dedup.json` records what was dropped.
    """
    with open_generated(out) as gset, contextlib.ExitStack() as locks:
        # Every shard's lock, as generation takes them: no worker may write (or repair) while files go.
        for k in range(gset.num_shards):
            locks.enter_context(lock_output(gset.root, shard_name(k, gset.num_shards)))
        return _dedup(gset, max_distance, neighbours)


def _dedup(gset: GeneratedSet, max_distance: int, neighbours: int) -> dict[str, Any]:
    from .. import kernels

    by_class: dict[str, list[str]] = defaultdict(list)
    for entry, cid in gset.recorded_entries():
        by_class[cid].append(str(entry))
    dropped: list[dict[str, Any]] = []
    total = 0
    for files in by_class.values():
        files.sort()  # index order inside the class: the earlier image is kept
        total += len(files)
        codes = _hash_paths(files, lambda p: gset.read_bytes(Entry.parse(p)))
        if len(files) < 2:
            continue
        idx, dist = kernels.hamming_topk(codes, codes, min(neighbours, len(files)))
        kept = np.ones(len(files), bool)
        for j in range(len(files)):
            for i, d in zip(idx[j], dist[j]):
                if i < j and d <= max_distance and kept[i]:
                    kept[j] = False
                    dropped.append({"file": files[j], "duplicate_of": files[int(i)], "distance": int(d)})
                    break
    if gset.output_format == "imagefolder":
        for row in dropped:
            gset.path_of(Entry.parse(row["file"]))  # refuses a record that leads outside the set
            with contextlib.suppress(FileNotFoundError):
                os.remove(gset.root / row["file"])  # the link itself, should a record name a symlink
    result = {
        "images": total,
        "dropped": len(dropped),
        "kept": total - len(dropped),
        "max_distance": max_distance,
    }
    write_dedup_list(gset.root, result, dropped)
    log.info("dedup: %s", result)
    return result


def _image_tree(root: Path) -> Iterable[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if is_image_name(name):
                yield os.path.relpath(os.path.join(dirpath, name), root)


def audit_generated(
    generated_dir: str | Path, against_dir: str | Path, max_distance: int = 8, max_matches: int = 1000
) -> dict[str, Any]:
    """Generated images that are near-copies (phash distance <= max_distance) of a benchmark's images.

    `generated_dir` is a `genrobust generate` output (imagefolder or webdataset) or any image tree;
    `against_dir` is any image tree (e.g. ImageNet-R). Returns counts and the closest matches.
    """
    from .. import kernels

    gen, bench = Path(generated_dir), Path(against_dir)
    for path, flag in ((gen, "--generated"), (bench, "--against")):
        if not path.is_dir():
            raise InputError(f"{flag} {str(path)!r} is not a folder")
    bench_files = list(_image_tree(bench))
    if not bench_files:
        raise InputError(f"--against {str(bench)!r} holds no images")
    bench_codes = _hash_paths(bench_files, lambda p: (bench / p).read_bytes())
    if is_generated_set(gen):
        gset = GeneratedSet.open(gen)
        dropped = gset.dropped()  # not read by training or evaluation either
        gen_files = [str(e) for e, _ in gset.recorded_entries() if str(e) not in dropped]
        read = lambda p: gset.read_bytes(Entry.parse(p))  # noqa: E731
    else:
        gset = None
        gen_files = list(_image_tree(gen))
        read = lambda p: (gen / p).read_bytes()  # noqa: E731
    matches = []
    try:
        for start in range(0, len(gen_files), CHUNK):
            chunk = gen_files[start : start + CHUNK]
            codes = _hash_paths(chunk, read)
            idx, dist = kernels.hamming_topk(codes, bench_codes, 1)
            for f, i, d in zip(chunk, idx[:, 0], dist[:, 0]):
                if d <= max_distance:
                    matches.append({"generated": f, "benchmark": bench_files[int(i)], "distance": int(d)})
    finally:
        if gset is not None:
            gset.close()
    matches.sort(key=lambda m: (m["distance"], m["generated"]))
    return {
        "generated": len(gen_files),
        "benchmark": len(bench_files),
        "max_distance": max_distance,
        "near_copies": len(matches),
        "matches": matches[:max_matches],
    }
