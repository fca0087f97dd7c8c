"""Fixture trees that copy each benchmark's real layout and its quirks, written by the tests."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from genrobust_fast.labels import LabelSpace, imagenet_label_space

TABBY, ESPRESSO, TRIPOD = "n02123045", "n07920052", "n04485082"


def real_photos() -> dict[str, Image.Image]:
    """scikit-image sample photos with known ImageNet classes (downscaled: faster, same content)."""
    from skimage import data

    def rgb(a):
        a = np.stack([a] * 3, -1) if a.ndim == 2 else a[..., :3]
        img = Image.fromarray(a)
        img.thumbnail((448, 448))
        return img

    # chelsea: a tabby cat; coffee: an espresso cup; camera: a cameraman behind a tripod.
    return {TABBY: rgb(data.chelsea()), ESPRESSO: rgb(data.coffee()), TRIPOD: rgb(data.camera())}


def noise_image(seed: int, size: int = 40) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8))


def save(img: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") else img.save(path)
    return path


def wnid_tree(
    root: Path, images: dict[str, list[Image.Image]], ext: str = "JPEG", prefix: str = "img"
) -> Path:
    for wnid, imgs in images.items():
        for i, img in enumerate(imgs):
            save(img, root / wnid / f"{prefix}_{i}.{ext}")
    (root / "README.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "README.txt").write_text("top-level files are not images of any class\n")
    return root


def v2_tree(root: Path, images: dict[str, list[Image.Image]]) -> Path:
    """ImageNet-V2: folder k is class index k (string order would put "10" before "2")."""
    space = imagenet_label_space()
    for wnid, imgs in images.items():
        for i, img in enumerate(imgs):
            save(img, root / str(space.index(wnid)) / f"{i:040x}.jpeg")
    return root


def with_red_border(img: Image.Image, width: int = 2) -> Image.Image:
    a = np.array(img.convert("RGB"))
    a[:width], a[-width:], a[:, :width], a[:, -width:] = (255, 0, 0), (255, 0, 0), (255, 0, 0), (255, 0, 0)
    return Image.fromarray(a)


# A subset of the real objectnet_to_imagenet_1k.json entries (same label and name strings).
OBJECTNET_LABELS = {
    "drinking_cup": ("Drinking Cup", "cup"),
    "mug": ("Mug", "coffee mug"),
    "alarm_clock": ("Alarm clock", "analog clock; digital clock"),
    "still_camera": ("Still Camera", "Polaroid camera, Polaroid Land camera; reflex camera"),
}
# Full synset-lemma names as imagenet_to_label_2012_v2 spells them, for the classes used above.
LEMMAS = {
    "n07930864": "cup",
    "n03063599": "coffee mug",
    "n02708093": "analog clock",
    "n03196217": "digital clock",
    "n03976467": "Polaroid camera, Polaroid Land camera",
    "n04069434": "reflex camera",
    "n02012849": "crane",
    "n03126707": "crane",
}


def objectnet_tree(
    root: Path, images: dict[str, list[Image.Image]], unmapped: dict[str, int] | None = None
) -> Path:
    """objectnet-1.0/{images/<folder>/*.png, mappings/*.json}: red 2 px borders, unmapped folders,
    ImageNet names reached through pytorch index -> 2012 line -> name, duplicate 'crane' lines."""
    base = root / "objectnet-1.0"
    space = imagenet_label_space()
    folder_to_label = {f: label for f, (label, _) in OBJECTNET_LABELS.items()}
    for folder in unmapped or {}:
        folder_to_label[folder] = folder.replace("_", " ").capitalize()
    # The 2012 list is in another order than PyTorch's: a fixed permutation exercises the indirection.
    order = np.random.default_rng(7).permutation(len(space))
    lines = [""] * len(space)
    pytorch_to_line = {}
    for pytorch_index, line in enumerate(order):
        wnid = space.ids[pytorch_index]
        lines[line] = LEMMAS.get(wnid, f"{space.names[pytorch_index]} ({wnid})")
        pytorch_to_line[str(pytorch_index)] = int(line)
    mappings = base / "mappings"
    mappings.mkdir(parents=True)
    (mappings / "folder_to_objectnet_label.json").write_text(json.dumps(folder_to_label, indent=2))
    (mappings / "objectnet_to_imagenet_1k.json").write_text(
        json.dumps({label: names for label, names in OBJECTNET_LABELS.values()}, indent=2)
    )
    (mappings / "pytorch_to_imagenet_2012_id.json").write_text(json.dumps(pytorch_to_line, indent=2))
    (mappings / "imagenet_to_label_2012_v2").write_text("\n".join(lines) + "\n")
    for folder, imgs in images.items():
        for i, img in enumerate(imgs):
            save(with_red_border(img), base / "images" / folder / f"{i:032x}.png")
    for folder, count in (unmapped or {}).items():
        for i in range(count):
            save(with_red_border(noise_image(i)), base / "images" / folder / f"{i:032x}.png")
    return root


def generated_tree(
    root: Path,
    space: LabelSpace,
    images: dict[str, list[Image.Image]],
    *,
    fmt: str = "imagefolder",
    done_shards: int = 1,
    num_shards: int = 1,
) -> Path:
    """The generation engineer's layout: manifest.json, <class>/<class>_<index:07d>.png or shards, _meta/."""
    total = sum(len(v) for v in images.values())
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(
        json.dumps(
            {
                "format": "genrobust-generated/1",
                "job_id": "0" * 64,
                "config": {"model": "tiny"},
                "label_space": space.to_json(),
                "num_shards": num_shards,
                "total_images": total,
                "output_format": fmt,
            }
        )
    )
    meta = root / "_meta"
    meta.mkdir()
    if fmt == "imagefolder":
        for cid, imgs in images.items():
            for i, img in enumerate(imgs):
                save(img, root / cid / f"{cid}_{i:07d}.png")
    else:
        shard = root / "shards" / f"shard-00000-of-{num_shards:05d}.tar"
        shard.parent.mkdir()
        with tarfile.open(shard, "w") as tar:
            for cid, imgs in images.items():
                for i, img in enumerate(imgs):
                    tmp = root / f".{cid}_{i:07d}.png"
                    img.save(tmp)
                    tar.add(tmp, arcname=f"{cid}_{i:07d}.png")
                    tmp.unlink()
    for k in range(done_shards):
        (meta / f"shard-{k:05d}-of-{num_shards:05d}.done.json").write_text("{}")
    return root
