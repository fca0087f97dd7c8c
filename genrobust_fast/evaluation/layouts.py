"""Layout readers: turn a benchmark folder into (image, target class) pairs, aligned by class id.

Every reader returns a `BenchmarkData`. Targets index `data.classes`; `data.members[c]` lists the
model-space class ids that count as class c (one id for most sets, several for ObjectNet). Folders
starting with "_" or "." are ignored. A folder that is not a class of the benchmark is an error, never
silently dropped or shifted; missing classes and short counts are recorded in `problems` (verify turns
them into an error unless forced).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..constants import is_image_name
from ..data.scan import usable
from ..data.sources import shard_index
from ..errors import DatasetError
from ..genset import (
    Entry,
    GeneratedSet,
    is_generated_set,
    shard_tar_rel,
)
from ..labels import LabelSpace, imagenet_label_space, named_label_space
from .objectnet import find_objectnet_root, objectnet_labels, read_objectnet_mapping
from .registry import BenchmarkSpec

logger = logging.getLogger(__name__)

IMAGENET_C_CORRUPTIONS = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
IMAGENET_C_EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")


@dataclass
class BenchmarkData:
    name: str
    root: Path
    classes: LabelSpace
    members: tuple[tuple[str, ...], ...]
    paths: list[str] = field(default_factory=list)  # absolute file paths, or "<tar>#<member>"
    targets: list[int] = field(default_factory=list)
    groups: list[str] | None = None  # per image: ImageNet-R rendition, ImageNet-C "corruption/severity"
    files: list[tuple[str, int]] = field(default_factory=list)  # (relative path, size) for the hash
    expected_images: int | None = None
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def targets_array(self) -> np.ndarray:
        return np.asarray(self.targets, dtype=np.int64)

    def file_list_sha256(self) -> str:
        digest = hashlib.sha256()
        for rel, size in sorted(self.files):
            digest.update(f"{rel}\t{size}\n".encode())
        return digest.hexdigest()


def _visible_dirs(folder: Path) -> list[os.DirEntry]:
    return sorted(
        (e for e in os.scandir(folder) if not e.name.startswith(("_", ".")) and usable(e, "dir")),
        key=lambda e: e.name,
    )


def _images_under(folder: Path) -> list[tuple[str, int]]:
    """(absolute path, size) of every image below `folder`, sorted by path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(("_", ".")))
        for name in sorted(filenames):
            if is_image_name(name):
                path = os.path.join(dirpath, name)
                try:
                    info = os.stat(path)
                except OSError as exc:  # a symlink loop or a dangling link: skipped, and said so
                    logger.warning("skipping %r: %s; fix or remove the link", path, exc.strerror or exc)
                    continue
                if not stat.S_ISREG(info.st_mode):  # a FIFO would block the first read forever
                    logger.warning("skipping %r: not a regular file (a pipe, device or socket)", path)
                    continue
                found.append((path, info.st_size))
    return found


def _require_dir(root: Path, spec: BenchmarkSpec) -> None:
    if not root.is_dir():
        raise DatasetError(
            f"benchmark {spec.name!r}: {str(root)!r} is not a folder; pass --benchmark "
            f"{spec.name}=DIR with the unpacked download"
        )


def _declared(spec: BenchmarkSpec) -> LabelSpace:
    return named_label_space(spec.classes or "imagenet")


def _add_class_folder(data: BenchmarkData, folder: Path, target: int, group_of=None) -> int:
    images = _images_under(folder)
    for path, size in images:
        data.paths.append(path)
        data.targets.append(target)
        data.files.append((os.path.relpath(path, data.root), size))
        if data.groups is not None:
            data.groups.append(group_of(path))
    return len(images)


def _rendition(path: str) -> str:
    """ImageNet-R's rendition type is the file-name prefix: "art_0.jpg", "cartoon_12.jpg"."""
    return os.path.basename(path).rsplit("_", 1)[0]


def _one_to_one(space: LabelSpace) -> tuple[tuple[str, ...], ...]:
    return tuple((cid,) for cid in space.ids)


def read_class_folders(
    spec: BenchmarkSpec, root: Path, declared: LabelSpace, folder_to_class: dict[str, str] | None = None
) -> BenchmarkData:
    """`<root>/<class folder>/**/image`; folder names (or their mapped ids) must be declared classes."""
    _require_dir(root, spec)
    data = BenchmarkData(
        spec.name, root, declared, _one_to_one(declared), expected_images=spec.expected_images
    )
    group_of = None
    if spec.name == "imagenet-r":
        data.groups = []
        group_of = _rendition
    folders = _visible_dirs(root)
    if not folders:
        raise DatasetError(
            f"benchmark {spec.name!r}: {str(root)!r} holds no class folders; "
            "expected <root>/<class id>/<images>"
        )
    seen = set()
    for entry in folders:
        class_id = (folder_to_class or {}).get(entry.name, entry.name)
        if class_id not in declared:
            raise DatasetError(
                f"benchmark {spec.name!r}: folder {entry.name!r} in {str(root)!r} is not one of its "
                f"{len(declared)} classes (e.g. {', '.join(declared.ids[:3])}); is this the right folder, "
                "or does it need a --class-map?"
            )
        seen.add(class_id)
        count = _add_class_folder(data, Path(entry.path), declared.index(class_id), group_of)
        if count == 0:
            data.problems.append(f"class folder {entry.name!r} holds no images")
    missing = [cid for cid in declared.ids if cid not in seen]
    if missing:
        data.problems.append(f"{len(missing)} of {len(declared)} class folders missing (e.g. {missing[:3]})")
    return data


def read_wnid_folders(spec: BenchmarkSpec, root: Path) -> BenchmarkData:
    return read_class_folders(spec, root, _declared(spec))


def read_index_folders(spec: BenchmarkSpec, root: Path) -> BenchmarkData:
    """ImageNet-V2: folder "k" holds class index k (folder "5" = ids[5]); never string-sorted."""
    _require_dir(root, spec)
    space = imagenet_label_space()
    mapping = {}
    for entry in _visible_dirs(root):
        if not re.fullmatch(r"\d+", entry.name) or int(entry.name) >= len(space):
            raise DatasetError(
                f"benchmark {spec.name!r}: folder {entry.name!r} is not a class index 0..{len(space) - 1}; "
                "ImageNet-V2 folders are numbered by class index (use imagenet-sketch or folder: for "
                "<wnid>/ folders)"
            )
        mapping[entry.name] = space.ids[int(entry.name)]
    return read_class_folders(spec, root, space, mapping)


def _find_file(root: Path, names: tuple[str, ...]) -> Path | None:
    for base in (root, root.parent):
        for name in names:
            for candidate in (
                base / name,
                base / "ILSVRC2012_devkit_t12" / "data" / name,
                base / "data" / name,
            ):
                if candidate.is_file():
                    return candidate
    return None


def _devkit_ground_truth(root: Path, images: list[str]) -> dict[str, str]:
    """{file stem: wnid} from Kaggle's LOC_val_solution.csv, or the devkit's txt + meta.mat."""
    csv_path = _find_file(root, ("LOC_val_solution.csv",))
    if csv_path is not None:
        labels = {}
        for line in csv_path.read_text().splitlines()[1:]:
            image_id, _, boxes = line.partition(",")
            if boxes.strip():
                labels[image_id.strip()] = boxes.split()[0]
        return labels
    gt_path = _find_file(root, ("ILSVRC2012_validation_ground_truth.txt",))
    meta_path = gt_path.parent / "meta.mat" if gt_path is not None else None
    if gt_path is None or not meta_path.is_file():
        raise DatasetError(
            f"imagenet-val: {str(root)!r} is a flat folder but no ground truth was found; put the devkit "
            "(ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt + meta.mat) or "
            "LOC_val_solution.csv in it or beside it, or use <wnid>/ class folders"
        )
    import scipy.io

    synsets = scipy.io.loadmat(str(meta_path), squeeze_me=True)["synsets"]
    id_to_wnid = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in synsets if int(s["num_children"]) == 0}
    ids = [int(v) for v in gt_path.read_text().split()]
    # The devkit lists labels in image-number order: line i is ILSVRC2012_val_{i+1:08d}.
    stems = sorted(Path(p).stem for p in images)
    if len(ids) < len(stems):
        raise DatasetError(f"imagenet-val: {gt_path} lists {len(ids)} labels for {len(stems)} images")
    return {f"ILSVRC2012_val_{i + 1:08d}": id_to_wnid[v] for i, v in enumerate(ids)}


def read_imagenet_val(spec: BenchmarkSpec, root: Path) -> BenchmarkData:
    _require_dir(root, spec)
    if _visible_dirs(root):
        return read_wnid_folders(spec, root)
    space = _declared(spec)
    data = BenchmarkData(spec.name, root, space, _one_to_one(space), expected_images=spec.expected_images)
    images = _images_under(root)
    labels = _devkit_ground_truth(root, [p for p, _ in images])
    for path, size in images:
        stem = Path(path).stem
        if stem not in labels:
            raise DatasetError(f"imagenet-val: no ground-truth label for {os.path.basename(path)!r}")
        data.paths.append(path)
        data.targets.append(space.index(labels[stem]))
        data.files.append((os.path.relpath(path, root), size))
    return data


def read_objectnet(spec: BenchmarkSpec, root: Path) -> BenchmarkData:
    _require_dir(root, spec)
    base = find_objectnet_root(root)
    mapping = read_objectnet_mapping(base)
    labels = objectnet_labels(base)
    folders = sorted(mapping)
    classes = LabelSpace(tuple(folders), tuple(labels.get(f, f) for f in folders))
    data = BenchmarkData(
        spec.name, root, classes, tuple(mapping[f] for f in folders), expected_images=spec.expected_images
    )
    present = {e.name: e for e in _visible_dirs(base / "images")}
    unknown = sorted(set(present) - set(labels))
    if unknown:
        raise DatasetError(
            f"objectnet: image folders {unknown[:5]} are not in folder_to_objectnet_label.json"
        )
    for folder in folders:
        if folder not in present:
            data.problems.append(f"mapped class folder images/{folder} is missing")
            continue
        _add_class_folder(data, Path(present[folder].path), classes.index(folder))
    # Unmapped folders are not scored but count towards the download's completeness and hash.
    for name in sorted(set(present) - set(folders)):
        for path, size in _images_under(Path(present[name].path)):
            data.files.append((os.path.relpath(path, root), size))
    return data


def read_imagenet_c(spec: BenchmarkSpec, root: Path) -> BenchmarkData:
    _require_dir(root, spec)
    space = _declared(spec)
    data = BenchmarkData(
        spec.name, root, space, _one_to_one(space), groups=[], expected_images=spec.expected_images
    )
    corruptions = {e.name: e for e in _visible_dirs(root)}
    unknown = sorted(set(corruptions) - set(IMAGENET_C_CORRUPTIONS) - set(IMAGENET_C_EXTRA))
    if unknown:
        raise DatasetError(
            f"imagenet-c: folders {unknown[:5]} are not ImageNet-C corruptions "
            f"({', '.join(IMAGENET_C_CORRUPTIONS[:3])}, ...); pass the folder holding them"
        )
    for name in IMAGENET_C_CORRUPTIONS:
        if name not in corruptions:
            data.problems.append(f"corruption {name!r} is missing")
    for name in sorted(corruptions):
        for severity in _visible_dirs(Path(corruptions[name].path)):
            if severity.name not in ("1", "2", "3", "4", "5"):
                raise DatasetError(f"imagenet-c: {name}/{severity.name} is not a severity 1..5")
            group = f"{name}/{severity.name}"
            sub = BenchmarkSpec(f"imagenet-c {group}", "wnid_folders", spec.classes)
            part = read_class_folders(sub, Path(severity.path), space)
            data.paths += part.paths
            data.targets += part.targets
            data.groups += [group] * len(part)
            data.files += [(os.path.join(name, severity.name, rel), size) for rel, size in part.files]
            data.problems += [f"{group}: {p}" for p in part.problems]
    return data


def read_generated(spec: BenchmarkSpec, root: Path) -> BenchmarkData:
    """A generated set (manifest.json, `genrobust-generated/1`), imagefolder or webdataset shards."""
    _require_dir(root, spec)
    if not is_generated_set(root):
        raise DatasetError(
            f"benchmark {spec.name!r}: {str(root)!r} has no manifest.json; it is not a "
            "genrobust generated set (use folder:NAME=DIR for a plain ImageFolder)"
        )
    gset = GeneratedSet.open(root)
    space = gset.manifest.label_space
    if gset.output_format == "imagefolder":
        data = read_class_folders(spec, root, space)
    else:
        data = BenchmarkData(spec.name, root, space, _one_to_one(space))
        # the members per tar as training lists them, cached per shard by (size, mtime): no tar re-read
        for tar, members in shard_index(root).items():
            for name, _, size in members:
                entry = Entry(shard_tar_rel(tar), name)
                data.paths.append(str(entry.under(root)))
                data.targets.append(space.index(entry.class_id))
                data.files.append((str(entry), size))
    dropped = gset.dropped()
    if dropped:
        _drop_files(data, dropped)
    # A deduplicated set is complete without its near-duplicates (`--dedup` listed them, or removed them).
    total = gset.manifest.total_images
    data.expected_images = None if total is None else total - len(dropped)
    done = len(gset.done_shards())
    if gset.num_shards and done < gset.num_shards:
        data.problems.append(
            f"{done} of {gset.num_shards} shards finished (_meta/*.done.json); the job is incomplete"
        )
    return data


def _drop_files(data: BenchmarkData, dropped: frozenset[str]) -> None:
    """Leave out the images whose relative name (`<class>/<file>`, `shards/<shard>#<member>`) is listed."""
    keep = [i for i, (rel, _) in enumerate(data.files) if rel not in dropped]
    data.paths = [data.paths[i] for i in keep]
    data.targets = [data.targets[i] for i in keep]
    data.files = [data.files[i] for i in keep]
    if data.groups is not None:
        data.groups = [data.groups[i] for i in keep]
    logger.info("%s: %d near-duplicate(s) listed in _meta/dedup.json left out", data.name, len(dropped))


def read_folder(spec: BenchmarkSpec, root: Path, class_map: dict[str, str] | None = None) -> BenchmarkData:
    """Any ImageFolder; folder names are class ids, or `class_map` maps folder -> class id."""
    _require_dir(root, spec)
    folders = [e.name for e in _visible_dirs(root)]
    ids = sorted({(class_map or {}).get(f, f) for f in folders})
    imagenet = imagenet_label_space()
    names = [imagenet.name_of(c) if c in imagenet else c.replace("_", " ") for c in ids]
    return read_class_folders(spec, root, LabelSpace(tuple(ids), tuple(names)), class_map)


def read_benchmark(
    spec: BenchmarkSpec, root: str | Path, class_map: dict[str, str] | None = None
) -> BenchmarkData:
    """Read any registered benchmark's folder into a BenchmarkData."""
    root = Path(root).expanduser().resolve()
    readers = {
        "wnid_folders": read_wnid_folders,
        "index_folders": read_index_folders,
        "imagenet_val": read_imagenet_val,
        "objectnet": read_objectnet,
        "imagenet_c": read_imagenet_c,
        "generated": read_generated,
    }
    if spec.layout == "folder":
        data = read_folder(spec, root, class_map)
    elif spec.layout in readers:
        data = readers[spec.layout](spec, root)
    else:
        raise DatasetError(f"benchmark {spec.name!r} has unknown layout {spec.layout!r}")
    total = len(data.files)
    if data.expected_images is not None and total != data.expected_images:
        data.problems.append(f"{total} images found, a complete download has {data.expected_images}")
    if not data.paths:
        raise DatasetError(f"benchmark {spec.name!r}: no images found under {str(root)!r}")
    logger.info("%s: %d images in %d classes from %s", spec.name, len(data), len(data.classes), root)
    return data
