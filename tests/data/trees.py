"""Tiny image trees written by the tests: color-coded classes, a truncated JPEG, generated sets.

Each class has its own base color, so a test can tell from the pixels which class an image belongs to
and catch any label shift.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("n01440764", "n02102040", "n02979186")  # tench, English springer, cassette player
COLORS = {
    cid: np.array(c, dtype=np.int64) for cid, c in zip(CLASSES, ((200, 40, 40), (40, 200, 40), (40, 40, 200)))
}


def class_image(cid: str, i: int, size: tuple[int, int] = (40, 48), seed: int = 0) -> Image.Image:
    """Base color of the class plus mild noise and a gradient (so crops and flips change pixels)."""
    rng = np.random.default_rng([seed, CLASSES.index(cid) if cid in CLASSES else 99, i])
    h, w = size
    base = COLORS.get(cid, np.array((128, 128, 128)))
    grad = np.linspace(-30, 30, w)[None, :, None]
    a = base[None, None, :] + grad + rng.integers(-10, 10, (h, w, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def encode(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, quality=90) if fmt == "JPEG" else img.save(buf, format=fmt)
    return buf.getvalue()


def age_tree(root: Path, seconds: float = 60.0) -> None:
    """Set every folder's mtime into the past, as for a tree that has not changed in a while."""
    past = time.time() - seconds
    for dirpath, _, _ in os.walk(root):
        os.utime(dirpath, (past, past))


def real_tree(root: Path, per_class: int = 4, classes=CLASSES, corrupt: bool = False, size=(40, 48)) -> Path:
    for cid in classes:
        d = root / cid
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (d / f"{cid}_{i}.JPEG").write_bytes(encode(class_image(cid, i, size)))
    if corrupt:
        data = encode(class_image(classes[0], 999, size))
        (root / classes[0] / "truncated.JPEG").write_bytes(data[: len(data) // 2])
    (root / "_private").mkdir(exist_ok=True)
    (root / "_private" / "ignored.jpg").write_bytes(encode(class_image(classes[0], 0)))
    (root / "README.txt").write_text("not a class\n")
    return root


def generated_set(
    root: Path,
    per_class: int = 4,
    classes=CLASSES,
    manifest_classes=None,
    fmt: str = "imagefolder",
    ext: str = "png",
    size=(40, 48),
    model: str = "tiny",
    strategy: str = "class_labels",
) -> Path:
    """A set in the generation layout; the manifest lists classes in reverse order on purpose."""
    manifest_classes = list(manifest_classes or classes)[::-1]
    root.mkdir(parents=True, exist_ok=True)
    (root / "_meta").mkdir(exist_ok=True)
    lines, members = [], []
    for cid in classes:
        for i in range(per_class):
            name = f"{cid}_{i:07d}.{ext}"
            data = encode(class_image(cid, i + 100, size, seed=1), "PNG" if ext == "png" else "JPEG")
            members.append((name, data, cid, i))
    if fmt == "imagefolder":
        for name, data, cid, _ in members:
            (root / cid).mkdir(exist_ok=True)
            (root / cid / name).write_bytes(data)
            lines.append({"file": f"{cid}/{name}", "class_id": cid})
    else:
        (root / "shards").mkdir(exist_ok=True)
        with tarfile.open(root / "shards" / "shard-00000-of-00001.tar", "w") as tar:
            for name, data, cid, i in members:
                for member, payload in (
                    (name, data),
                    (name.rsplit(".", 1)[0] + ".json", json.dumps({"class_id": cid, "index": i}).encode()),
                ):
                    info = tarfile.TarInfo(member)
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
                lines.append({"file": f"shards/shard-00000-of-00001.tar#{name}", "class_id": cid})
    for line in lines:
        line.update({"model_id": model, "strategy": strategy, "weights_hash": "abc123"})
    (root / "_meta" / "shard-00000-of-00001.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (root / "_meta" / "shard-00000-of-00001.done.json").write_text("{}")
    manifest = {
        "format": "genrobust-generated/1",
        "job_id": "0" * 64,
        "config": {"model": model, "strategy": strategy, "steps": 2},
        "label_space": {"ids": manifest_classes, "names": manifest_classes},
        "num_shards": 1,
        "total_images": len(members),
        "output_format": fmt,
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def color_class(image_hwc: np.ndarray) -> str:
    """Which class's base color an image (HWC, 0-255) is closest to."""
    mean = image_hwc.reshape(-1, 3).mean(0)
    return min(CLASSES, key=lambda c: float(np.abs(COLORS[c] - mean).sum()))
