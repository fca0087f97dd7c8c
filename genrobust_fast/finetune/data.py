"""Captioned real images for finetuning: an ImageFolder whose class folders name the caption.

Each image is captioned with a template filled with its class name (`a photo of a {}` by default);
class names come from labels.label_space_from_folders, so ImageNet folders get their clean names.
An image can carry its own caption instead: a `metadata.jsonl` at the folder's root with lines
`{"file_name": "<class>/<file>", "text": "a sketch of a coat."}` (the layout of Hugging Face's
imagefolder datasets, which diffusers' training scripts read).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
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
    # Per-image captions from metadata.jsonl; None where the image takes a template.
    captions: list[str | None] = field(default_factory=list)

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
        captions = _read_captions(root, table.files)
        log.info(
            "found %d images in %d classes under %s (%d with their own caption)",
            len(table),
            len(space),
            root,
            sum(c is not None for c in captions),
        )
        return cls(root, space, [root / f for f in table.files], labels, captions)

    def caption(self, index: int, template: str) -> str:
        """Image `index`'s own caption, else `template` filled with its class name."""
        own = self.captions[index] if self.captions else None
        return own if own is not None else template.format(self.label_space.names[self.labels[index]])

    def __len__(self) -> int:
        return len(self.files)

    def load(self, indices, resolution: int):
        """(B, 3, R, R) float32 tensor in [-1, 1]: shorter side resized to R, then center-cropped."""
        import torch

        from ..data.decode import open_rgb

        batch = np.empty((len(indices), resolution, resolution, 3), dtype=np.uint8)
        for row, i in enumerate(indices):
            path = self.files[int(i)]
            batch[row] = _resize_center_crop(open_rgb(path, repr(str(path))), resolution)
        return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


CAPTIONS_FILE = "metadata.jsonl"


def _read_captions(root: Path, files: list[str]) -> list[str | None]:
    """Captions of `files` (paths relative to root) from root/metadata.jsonl; all None without one."""
    path = root / CAPTIONS_FILE
    if not path.is_file():
        return [None] * len(files)
    position = {str(f): i for i, f in enumerate(files)}
    captions: list[str | None] = [None] * len(files)
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                name, text = entry["file_name"], entry["text"]
            except (ValueError, KeyError, TypeError):
                raise DatasetError(
                    f"{path}:{number} is not a caption line; write one JSON object per line with "
                    '"file_name" (the image\'s path under the folder) and "text" (its caption)'
                ) from None
            if name not in position:
                raise DatasetError(
                    f"{path}:{number} captions {name!r}, which is not an image of {str(root)!r}; "
                    "fix the path (relative to the folder, e.g. coat/00001.png) or remove the line"
                )
            captions[position[name]] = str(text)
    return captions


def _resize_center_crop(img, size: int) -> np.ndarray:
    from PIL import Image

    w, h = img.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
        left, top = (img.width - size) // 2, (img.height - size) // 2
        img = img.crop((left, top, left + size, top + size))
    return np.asarray(img)
