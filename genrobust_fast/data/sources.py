"""Image sources for training: a real ImageFolder tree and a generated set (ImageFolder or WebDataset).

Each source becomes an `ImageTable`: where every encoded image lives (a file, or a byte range inside a
tar shard) and its label index in the *training* label space. Labels are looked up by class id, never by
folder order:

    space = label_space_from_folders("real/")
    real = real_table("real/", space)
    gen, alignment = generated_table("gen/", space, allow_missing_classes=False)

A generated set is the --out folder of `genrobust generate` (manifest.json, ImageFolder or webdataset
shards) or, without a manifest, a plain ImageFolder made elsewhere, recorded as having no provenance.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, InputError
from ..fileio import atomic_write_json
from ..genset import (
    SHARD_TAR,
    Entry,
    GeneratedSet,
    Manifest,
    byte_range_label,
    first_record,
    image_members,
    is_generated_set,
    read_manifest,
    shard_tar_rel,
    shards_dir,
)
from ..labels import LabelSpace
from .scan import index_dir, read_bad_files, scan_image_folder

logger = logging.getLogger(__name__)


@dataclass
class ImageTable:
    """Encoded images of one source. `offsets[i] < 0` means the whole file `root/files[i]`."""

    name: str
    root: Path
    files: list[str]
    offsets: np.ndarray
    sizes: np.ndarray
    labels: np.ndarray
    skipped_bad: int = 0  # files `genrobust data check` marked unreadable, left out

    def __len__(self) -> int:
        return len(self.files)

    def read_bytes(self, i: int) -> bytes:
        path = os.path.join(self.root, self.files[i])
        with open(path, "rb") as f:
            if self.offsets[i] < 0:
                return f.read()
            f.seek(int(self.offsets[i]))
            return f.read(int(self.sizes[i]))

    def describe(self, i: int) -> str:
        return self.files[i] if self.offsets[i] < 0 else byte_range_label(self.files[i], int(self.offsets[i]))

    def class_counts(self, num_classes: int) -> np.ndarray:
        return np.bincount(self.labels, minlength=num_classes)


def _table(
    name: str, root: Path, files: list[str], labels: list[int], offsets=None, sizes=None
) -> ImageTable:
    n = len(files)
    return ImageTable(
        name=name,
        root=root,
        files=files,
        offsets=np.asarray(offsets, dtype=np.int64) if offsets is not None else np.full(n, -1, np.int64),
        sizes=np.asarray(sizes, dtype=np.int64) if sizes is not None else np.full(n, -1, np.int64),
        labels=np.asarray(labels, dtype=np.int64),
    )


def real_table(root: str | Path, label_space: LabelSpace, use_cache: bool = True) -> ImageTable:
    """The real ImageFolder tree; class folders must belong to `label_space`."""
    files = scan_image_folder(root, label_space, use_cache=use_cache)
    if len(files) == 0:
        raise DatasetError(
            f"real set {str(root)!r} holds no images; expected <root>/<class_id>/<image files>"
        )
    paths, labels = [], []
    for rel, cid in files:
        paths.append(rel)
        labels.append(label_space.index(cid))
    table = _table("real", Path(root), paths, labels)
    table.skipped_bad = files.skipped_bad
    return table


def generator_recipe(root: str | Path, manifest: Manifest) -> dict[str, Any]:
    """Generator model, strategy and job id of a generated set, for the trained model's card."""
    config = manifest.config
    recipe = {
        "job_id": manifest.job_id,
        "output_format": manifest.get("output_format"),
        "total_images": manifest.total_images,
    }
    for key in ("model", "model_id", "strategy", "strategies", "steps", "guidance", "scheduler", "precision"):
        if key in config:
            recipe[key] = config[key]
    # Per-image metadata names the weights actually used; the first record of the first shard is enough.
    first = first_record(root)
    for key in ("model_id", "model_revision", "weights_hash", "strategy", "backend"):
        if key in first:
            recipe.setdefault(key, first[key])
    return recipe


def align_label_spaces(
    train_space: LabelSpace, generated_counts: dict[str, int], allow_missing_classes: bool
) -> dict[str, list[str]]:
    """Compare a generated set's classes (those holding images) with the training label space.

    Missing or extra classes are an error unless `allow_missing_classes`; then images of extra classes
    are dropped and the result (recorded in the run) lists both.
    """
    present = {cid for cid, n in generated_counts.items() if n > 0}
    missing = [cid for cid in train_space.ids if cid not in present]
    extra = sorted(present - set(train_space.ids))
    if (missing or extra) and not allow_missing_classes:
        parts = []
        if missing:
            parts.append(f"it has no images of {len(missing)} training class(es) {missing[:5]}")
        if extra:
            parts.append(f"it holds {len(extra)} class(es) not in the training label space {extra[:5]}")
        raise DatasetError(
            "generated set does not match the real set's classes: "
            + "; ".join(parts)
            + ". Generate the missing classes, or pass --allow-missing-classes to train anyway "
            "(recorded in the run)"
        )
    if missing or extra:
        logger.warning(
            "generated set: %d training class(es) without images, %d extra class(es) dropped",
            len(missing),
            len(extra),
        )
    return {"missing": missing, "extra": extra}


def shard_index(root: Path) -> dict[str, list[tuple[str, int, int]]]:
    """Members of every shard, cached per shard by (size, mtime)."""
    folder = shards_dir(root)
    if not folder.is_dir():
        raise DatasetError(f"webdataset set {str(root)!r} has no shards/ folder; was generation started?")
    cache_path = index_dir(root) / "tars.json"
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    index, changed = {}, False
    for path in sorted(folder.iterdir()):
        if not SHARD_TAR.match(path.name):
            continue
        st = path.stat()
        key = f"{st.st_size}:{st.st_mtime_ns}"
        entry = cache.get(path.name)
        if entry is None or entry.get("key") != key:
            entry, changed = {"key": key, "members": image_members(path)}, True
        index[path.name] = [tuple(m) for m in entry["members"]]
        cache[path.name] = entry
    if changed:
        try:
            atomic_write_json(cache_path, {k: v for k, v in cache.items() if k in index})
        except OSError as exc:
            logger.warning("could not write shard index %s (%s)", cache_path, exc)
    return index


def shard_entries(gset: GeneratedSet) -> list[tuple[Entry, int, int]]:
    """(entry, data offset, size) of every image member of a webdataset set's tars, once every finished
    shard is checked to hold the members its metadata records (a deleted shard is refused by name)."""
    index = shard_index(gset.root)
    gset.check_present(
        tar_members={tar: {m[0] for m in ms} for tar, ms in index.items()}, dropped=gset.dropped()
    )
    return [
        (Entry(shard_tar_rel(tar), name), offset, size)
        for tar, members in index.items()
        for name, offset, size in members
    ]


def _generated_entries(gset: GeneratedSet, use_cache: bool) -> tuple[list[tuple[Entry, str, int, int]], int]:
    """((entry, class id, offset, size) of every image present, count left out as `data check` marked
    them unreadable); the present images are checked against the recorded ones."""
    root, gen_space = gset.root, gset.manifest.label_space
    bad = read_bad_files(root)
    if gset.output_format == "imagefolder":
        files = scan_image_folder(root, gen_space, use_cache=use_cache)
        # Files `data check` marked unreadable are left out on purpose, not missing.
        gset.check_present(present={rel for rel, _ in files} | bad, dropped=gset.dropped())
        return [(Entry(rel), cid, -1, -1) for rel, cid in files], files.skipped_bad
    entries, skipped = [], 0
    for entry, offset, size in shard_entries(gset):
        if bad and str(entry) in bad:  # marked unreadable by `genrobust data check`
            skipped += 1
            continue
        entries.append((entry, entry.class_id, offset, size))
    if skipped:
        logger.warning(
            "%s: skipping %d shard member(s) that `genrobust data check` marked unreadable", root, skipped
        )
    unknown = sorted({cid for _, cid, _, _ in entries} - set(gen_space.ids))
    if unknown:
        raise DatasetError(
            f"{root}: shards hold classes missing from manifest.json's label space: {unknown[:5]}"
        )
    return entries, skipped


def generated_table(
    root: str | Path, train_space: LabelSpace, allow_missing_classes: bool = False, use_cache: bool = True
) -> tuple[ImageTable, dict[str, Any]]:
    """A generated set aligned to `train_space`; returns (table, info with alignment and recipe).

    A folder without manifest.json is read as a plain ImageFolder (`plain_generated_table`).
    """
    root = Path(root)
    if not is_generated_set(root):
        return plain_generated_table(root, train_space, allow_missing_classes, use_cache)
    gset = GeneratedSet.open(root)
    entries, skipped = _generated_entries(gset, use_cache)
    dropped = gset.dropped()
    if dropped:
        before = len(entries)
        entries = [e for e in entries if str(e[0]) not in dropped]
        logger.info(
            "%s: skipping %d near-duplicate(s) listed in _meta/dedup.json", root, before - len(entries)
        )
    counts: dict[str, int] = {}
    for _, cid, _, _ in entries:
        counts[cid] = counts.get(cid, 0) + 1
    alignment = align_label_spaces(train_space, counts, allow_missing_classes)
    kept = [e for e in entries if e[1] in train_space]
    if not kept:
        raise DatasetError(f"generated set {str(root)!r} holds no images of the training classes")
    done = len(gset.done_shards())
    if gset.num_shards and done < gset.num_shards:
        logger.warning(
            "generated set %s is partial: %d of %d shards finished; training on the %d images present",
            root,
            done,
            gset.num_shards,
            len(kept),
        )
    table = _table(
        "generated",
        root,
        [e[0].path for e in kept],
        [train_space.index(e[1]) for e in kept],
        [e[2] for e in kept],
        [e[3] for e in kept],
    )
    table.skipped_bad = skipped
    recipe = {**generator_recipe(root, gset.manifest), "deduplicated_dropped": len(dropped)}
    info = {"alignment": alignment, "recipe": recipe, "format": gset.output_format}
    return table, info


NO_PROVENANCE = "none: a plain ImageFolder without manifest.json (generator, prompts and seeds unknown)"


def plain_generated_table(
    root: str | Path, train_space: LabelSpace, allow_missing_classes: bool = False, use_cache: bool = True
) -> tuple[ImageTable, dict[str, Any]]:
    """A generated set made elsewhere (the paper's released sets, other tools): `<root>/<class_id>/<image>`.

    Labels come from the class-folder ids, as for --real (unreadable files marked by `genrobust data
    check` are skipped); missing or extra classes follow the generated-set rule (`align_label_spaces`).
    The recipe says it has no provenance; the caller warns about that once.
    """
    root = Path(root)
    files = scan_image_folder(root, use_cache=use_cache)  # not a folder / no class folders: one clear error
    counts = files.counts()
    if not set(counts) & set(train_space.ids):
        raise DatasetError(
            f"generated folder {str(root)!r} has no manifest.json and none of its {len(counts)} folder(s) "
            f"{sorted(counts)[:5]} is a training class (e.g. {', '.join(train_space.ids[:3])}); pass the "
            "folder that holds the <class_id>/ folders, or the --out folder of `genrobust generate`"
        )
    alignment = align_label_spaces(train_space, counts, allow_missing_classes)
    kept = [(rel, cid) for rel, cid in files if cid in train_space]
    if not kept:
        raise DatasetError(f"generated folder {str(root)!r} holds no images of the training classes")
    table = _table("generated", root, [rel for rel, _ in kept], [train_space.index(cid) for _, cid in kept])
    table.skipped_bad = files.skipped_bad
    recipe = {"provenance": NO_PROVENANCE, "output_format": "plain-imagefolder", "total_images": len(files)}
    return table, {"alignment": alignment, "recipe": recipe, "format": "plain-imagefolder"}


def resolve_train_label_space(
    real: str | Path | None, generated: str | Path | None, classes: str | None
) -> LabelSpace:
    """Explicit `classes` spec, else the real tree's folders, else the generated set's manifest."""
    from ..labels import label_space_from_folders, resolve_label_space

    if classes:
        return resolve_label_space(classes)
    if real is not None:
        return label_space_from_folders(real)
    if generated is not None:
        if not is_generated_set(generated):
            return label_space_from_folders(generated)
        return read_manifest(generated).label_space
    raise InputError("no dataset given; pass --real DIR and/or --generated DIR")
