"""Fashion-MNIST (Debian package `dataset-fashion-mnist`) read from its IDX files and written once as an
ImageFolder of 32×32 RGB PNG files keyed by class name.

    images, labels = read_idx_split("/usr/share/datasets/fashion-mnist", "train")
    convert_split("/usr/share/datasets/fashion-mnist", "train", "demo-output/data/real-train", per_class=None)

The 28×28 grayscale digits-style images are padded by 2 pixels to 32×32 (a multiple of the demo VAE's
downsampling factor) and stored as RGB because the SD-layout VAE takes 3 channels.
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
from pathlib import Path

import numpy as np

from ..errors import DatasetError, InputError
from ..fileio import atomic_path, atomic_write_json

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
INSTALL_HINT = (
    "install the Debian package with `sudo apt-get install dataset-fashion-mnist` (the Makefile's demo "
    "target does this when it may), or pass --fashion-mnist DIR holding the four *-ubyte.gz files"
)

# Class index i of the IDX labels -> (folder id, prompt name). Ids are filesystem-safe and map back to
# the prompt name by `_` -> ` `, which is how labels.label_space_from_folders names folders.
CLASSES: tuple[tuple[str, str], ...] = (
    ("t-shirt", "t-shirt"),
    ("trouser", "trouser"),
    ("pullover", "pullover"),
    ("dress", "dress"),
    ("coat", "coat"),
    ("sandal", "sandal"),
    ("shirt", "shirt"),
    ("sneaker", "sneaker"),
    ("bag", "bag"),
    ("ankle_boot", "ankle boot"),
)
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IDX_UBYTE = 0x08
IMAGE_SIZE = 32
MARKER = "_complete.json"


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (optionally gzip-compressed) of unsigned bytes as a NumPy array of its shape."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"IDX file {str(path)!r} does not exist; {INSTALL_HINT}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read {str(path)!r} ({exc}); the file is damaged, reinstall it") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(
            f"{str(path)!r} is not an IDX file (bad magic number); expected MNIST-style *-ubyte files"
        )
    dtype_code, ndim = data[2], data[3]
    if dtype_code != _IDX_UBYTE:
        raise DatasetError(
            f"{str(path)!r} holds IDX type 0x{dtype_code:02x}; only unsigned bytes (0x08) are supported"
        )
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape)) if shape else 0
    if len(data) - header != expected:
        raise DatasetError(
            f"{str(path)!r} declares shape {shape} ({expected} bytes) but holds {len(data) - header}; "
            "the file is truncated, reinstall it"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_split(root: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 28, 28) uint8, labels (N,) uint8) of the `train` or `test` split."""
    if split not in SPLIT_FILES:
        raise InputError(f"unknown split {split!r}; choose train or test")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"Fashion-MNIST folder {str(root)!r} does not exist; {INSTALL_HINT}")
    image_file, label_file = SPLIT_FILES[split]
    images, labels = read_idx(root / image_file), read_idx(root / label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(
            f"{root}: {image_file} has shape {images.shape} and {label_file} {labels.shape}; "
            "expected (N, H, W) images with N labels"
        )
    if labels.size and labels.max() >= len(CLASSES):
        raise DatasetError(
            f"{root / label_file}: label {int(labels.max())} outside the {len(CLASSES)} classes"
        )
    return images, labels


def to_rgb32(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) grayscale -> (N, 32, 32, 3) RGB by zero padding (the background is black)."""
    _, h, w = images.shape
    pad_h, pad_w = IMAGE_SIZE - h, IMAGE_SIZE - w
    if pad_h < 0 or pad_w < 0:
        raise InputError(f"images of {h}x{w} are larger than {IMAGE_SIZE}x{IMAGE_SIZE}")
    padded = np.pad(images, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)))
    return np.repeat(padded[..., None], 3, axis=-1)


def select_per_class(labels: np.ndarray, per_class: int | None, seed: int = 0) -> np.ndarray:
    """Indices of the first `per_class` images of each class in a seeded shuffle (all when None)."""
    order = np.random.default_rng(seed).permutation(len(labels)) if per_class else np.arange(len(labels))
    if not per_class:
        return order
    keep = []
    for c in range(len(CLASSES)):
        members = order[labels[order] == c][:per_class]
        if len(members) < per_class:
            raise DatasetError(
                f"class {CLASSES[c][0]!r} has only {len(members)} images, {per_class} requested"
            )
        keep.append(members)
    return np.sort(np.concatenate(keep))


def write_image_folder(images: np.ndarray, labels: np.ndarray, out: str | Path, source: dict) -> Path:
    """Write (N, H, W, 3) uint8 images as <out>/<class id>/<index:05d>.png; a marker file is written last,
    so a rerun skips a finished folder and finishes an interrupted one."""
    from PIL import Image

    out = Path(out)
    marker = out / MARKER
    if marker.is_file():
        return out
    for cid, _ in CLASSES:
        (out / cid).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        target = out / CLASSES[int(label)][0] / f"{i:05d}.png"
        if target.exists():
            continue
        with atomic_path(target) as tmp:
            Image.fromarray(image).save(tmp, format="PNG")
    counts = {cid: int((labels == c).sum()) for c, (cid, _) in enumerate(CLASSES)}
    atomic_write_json(marker, {"images": len(labels), "per_class": counts, "source": source})
    log.info("wrote %d images to %s", len(labels), out)
    return out


def convert_split(
    root: str | Path, split: str, out: str | Path, per_class: int | None = None, seed: int = 0
) -> Path:
    """Convert one split (optionally a seeded class-balanced subset) to a PNG ImageFolder under `out`."""
    images, labels = read_idx_split(root, split)
    keep = select_per_class(labels, per_class, seed)
    source = {
        "dataset": "fashion-mnist",
        "root": os.fspath(root),
        "split": split,
        "per_class": per_class,
        "seed": seed,
    }
    return write_image_folder(to_rgb32(images[keep]), labels[keep], out, source)


def write_class_file(path: str | Path) -> Path:
    """`class_id<TAB>name` lines (labels.read_label_space_file format) for `generate --classes FILE`."""
    from ..fileio import atomic_write_text

    atomic_write_text(path, "".join(f"{cid}\t{name}\n" for cid, name in CLASSES))
    return Path(path)
