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
import json
import logging
import os
import tarfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, InputError
from ..fileio import atomic_write_json
from ..outlock import lock_output
from ..paths import contained
from .writers import meta_paths, read_records, shard_name

log = logging.getLogger(__name__)

CHUNK = 1024
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".ppm", ".tif", ".tiff")


def _load_manifest(out: Path) -> dict[str, Any]:
    path = out / "manifest.json"
    if not path.is_file():
        raise InputError(
            f"{str(out)!r} has no manifest.json; give the --out folder of a `genrobust generate` job"
        )
    return json.loads(path.read_text())


def generated_files(out: str | Path) -> Iterator[tuple[str, str]]:
    """(record "file", class_id) of every recorded image of a generated set, shard by shard."""
    out = Path(out)
    manifest = _load_manifest(out)
    n = manifest["num_shards"]
    for k in range(n):
        for record in read_records(meta_paths(out, k, n)[0]):
            yield record["file"], record["class_id"]


def recorded_path(out: Path, rel: str) -> Path:
    """Where a metadata record's "file" (or its tar, for "<tar>#<member>") lives, kept inside `out`: the
    records are read back from disk, and dedup deletes what they name."""
    from ..data.generated_check import REGENERATE_HINT

    return contained(out, rel.split("#", 1)[0], source=out / "_meta", fix=REGENERATE_HINT)


def _read_bytes(out: Path, rel: str, tars: dict[str, tarfile.TarFile]) -> bytes:
    """The recorded image `rel` ("<class>/<file>" or "<tar>#<member>"); a missing or damaged file or shard is
    a DatasetError that names it and the fix."""
    from ..data.generated_check import REGENERATE_HINT

    path = recorded_path(out, rel)
    if "#" not in rel:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise DatasetError(
                f"{out / rel}, recorded in {out / '_meta'}, cannot be read ({exc.strerror}); "
                f"{REGENERATE_HINT}"
            ) from None
    tar_rel, member = rel.split("#", 1)
    try:
        if tar_rel not in tars:
            if not path.exists():  # an unfinished shard is still being written under its partial name
                partial = path.with_name(f".{path.name}.partial")
                path = partial if partial.exists() else path
            tars[tar_rel] = tarfile.open(path)  # noqa: SIM115 (kept open across members, closed in finally)
        f = tars[tar_rel].extractfile(member)
        if f is None:
            raise KeyError(member)
        return f.read()
    except FileNotFoundError:
        raise DatasetError(
            f"shard {path} is missing but {out / '_meta'} records images in it; {REGENERATE_HINT}"
        ) from None
    except KeyError:
        raise DatasetError(f"shard {path} lacks its recorded member {member}; {REGENERATE_HINT}") from None
    except (tarfile.TarError, OSError) as exc:
        raise DatasetError(f"shard {path} cannot be read ({exc}); {REGENERATE_HINT}") from None


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
    out = Path(out)
    manifest = _load_manifest(out)
    with contextlib.ExitStack() as locks:
        # Every shard's lock, as generation takes them: no worker may write (or repair) while files go.
        for k in range(manifest["num_shards"]):
            locks.enter_context(lock_output(out, shard_name(k, manifest["num_shards"])))
        return _dedup(out, manifest, max_distance, neighbours)


def _dedup(out: Path, manifest: dict[str, Any], max_distance: int, neighbours: int) -> dict[str, Any]:
    from .. import kernels

    by_class: dict[str, list[str]] = defaultdict(list)
    for rel, cid in generated_files(out):
        by_class[cid].append(rel)
    tars: dict[str, tarfile.TarFile] = {}
    dropped: list[dict[str, Any]] = []
    total = 0
    try:
        for files in by_class.values():
            files.sort()  # index order inside the class: the earlier image is kept
            total += len(files)
            codes = _hash_paths(files, lambda p: _read_bytes(out, p, tars))
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
    finally:
        for tar in tars.values():
            tar.close()
    if manifest["output_format"] == "imagefolder":
        for row in dropped:
            recorded_path(out, row["file"])  # refuses a record that leads outside `out`
            with contextlib.suppress(FileNotFoundError):
                os.remove(out / row["file"])  # the link itself, should a record name a symlink
    result = {
        "images": total,
        "dropped": len(dropped),
        "kept": total - len(dropped),
        "max_distance": max_distance,
    }
    atomic_write_json(out / "_meta" / "dedup.json", {**result, "dropped_files": dropped})
    log.info("dedup: %s", result)
    return result


def _image_tree(root: Path) -> Iterable[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith("."):
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
    if (gen / "manifest.json").exists():
        from ..data.sources import deduplicated_files

        dropped = deduplicated_files(gen)  # not read by training or evaluation either
        gen_files = [f for f, _ in generated_files(gen) if f not in dropped]
    else:
        gen_files = list(_image_tree(gen))
    tars: dict[str, tarfile.TarFile] = {}
    matches = []
    try:
        for start in range(0, len(gen_files), CHUNK):
            chunk = gen_files[start : start + CHUNK]
            codes = _hash_paths(chunk, lambda p: _read_bytes(gen, p, tars))
            idx, dist = kernels.hamming_topk(codes, bench_codes, 1)
            for f, i, d in zip(chunk, idx[:, 0], dist[:, 0]):
                if d <= max_distance:
                    matches.append({"generated": f, "benchmark": bench_files[int(i)], "distance": int(d)})
    finally:
        for tar in tars.values():
            tar.close()
    matches.sort(key=lambda m: (m["distance"], m["generated"]))
    return {
        "generated": len(gen_files),
        "benchmark": len(bench_files),
        "max_distance": max_distance,
        "near_copies": len(matches),
        "matches": matches[:max_matches],
    }
