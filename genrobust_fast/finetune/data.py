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


@dataclass
class CaptionedImages:
    root: Path
    label_space: LabelSpace
    files: list[Path]
    labels: np.ndarray  # (N,) int64 index into label_space

    @classmethod
    def scan(cls, root: str | Path) -> CaptionedImages:
        from ..data.sources import real_table

        root = Path(root)
        space = label_space_from_folders(root)
        # The shared listing: cached across starts, and without the files `genrobust data check` marked bad.
        table = real_table(root, space)
        labels = np.asarray(table.labels, dtype=np.int64)
        empty = [cid for cid, n in zip(space.ids, np.bincount(labels, minlength=len(space))) if n == 0]
        if empty:
            raise DatasetError(
                f"class folder(s) {empty[:5]} under {str(root)!r} hold no images; remove them or add images"
            )
        log.info("found %d images in %d classes under %s", len(table), len(space), root)
        return cls(root, space, [root / f for f in table.files], labels)

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
                raise DatasetError(
                    f"cannot decode {str(path)!r} ({exc}); remove or replace the file"
                ) from exc
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
