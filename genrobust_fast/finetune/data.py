"""Captioned real images for finetuning: an ImageFolder whose class folders name the caption.

Each image is captioned with a template filled with its class name (`a photo of a {}` by default);
class names come from labels.label_space_from_folders, so ImageNet folders get their clean names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..labels import LabelSpace, label_space_from_folders

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass
class CaptionedImages:
    root: Path
    label_space: LabelSpace
    files: list[Path]
    labels: np.ndarray  # (N,) int64 index into label_space

    @classmethod
    def scan(cls, root: str | Path) -> CaptionedImages:
        root = Path(root)
        space = label_space_from_folders(root)
        files, labels = [], []
        for index, class_id in enumerate(space.ids):
            found = sorted(p for p in (root / class_id).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            files += found
            labels += [index] * len(found)
        empty = [cid for i, cid in enumerate(space.ids) if i not in set(labels)]
        if empty:
            raise DatasetError(
                f"class folder(s) {empty[:5]} under {str(root)!r} hold no images ({', '.join(IMAGE_SUFFIXES)}); "
                "remove them or add images"
            )
        log.info("found %d images in %d classes under %s", len(files), len(space), root)
        return cls(root, space, files, np.asarray(labels, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.files)

    def load(self, indices, resolution: int):
        """(B, 3, R, R) float32 tensor in [-1, 1]: shorter side resized to R, then center-cropped."""
        import torch
        from PIL import Image

        batch = np.empty((len(indices), resolution, resolution, 3), dtype=np.uint8)
        for row, i in enumerate(indices):
            path = self.files[int(i)]
            try:
                with Image.open(path) as img:
                    batch[row] = _resize_center_crop(img.convert("RGB"), resolution)
            except OSError as exc:
                raise DatasetError(f"cannot decode {str(path)!r} ({exc}); remove or replace the file") from exc
        return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _resize_center_crop(img, size: int) -> np.ndarray:
    from PIL import Image

    w, h = img.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
        left, top = (img.width - size) // 2, (img.height - size) // 2
        img = img.crop((left, top, left + size, top + size))
    return np.asarray(img)
