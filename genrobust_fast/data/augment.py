"""Per-image geometry (crop boxes, flips) and decode helpers shared by the loaders.

Boxes are (top, left, height, width) in source pixels, the format of the `crop_resize_normalize`
kernel. Training boxes follow torchvision's RandomResizedCrop rule (area 8-100 %, aspect 3/4-4/3,
ten tries then a center crop); evaluation boxes reproduce "resize the shorter side to R, center crop C"
as one crop of the source followed by one resize.

    boxes = random_resized_crop_boxes(sizes, np.random.default_rng(0))
    boxes = center_crop_boxes(sizes, resize=256, crop=224)
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError

AUGMENTATIONS = ("none", "augmix", "randaugment", "trivialaugment")


def random_resized_crop_boxes(
    sizes: np.ndarray,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> np.ndarray:
    """(N, 4) int32 boxes for images of `sizes` (N, 2) = (height, width)."""
    boxes = np.empty((len(sizes), 4), dtype=np.int32)
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for i, (height, width) in enumerate(np.asarray(sizes, dtype=np.int64)):
        area = float(height * width)
        for _ in range(10):
            target = area * rng.uniform(scale[0], scale[1])
            aspect = math.exp(rng.uniform(*log_ratio))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                boxes[i] = (top, left, h, w)
                break
        else:  # fall back to a center crop clamped to the allowed aspect range
            in_ratio = width / height
            if in_ratio < ratio[0]:
                w, h = int(width), round(width / ratio[0])
            elif in_ratio > ratio[1]:
                h, w = int(height), round(height * ratio[1])
            else:
                w, h = int(width), int(height)
            boxes[i] = ((height - h) // 2, (width - w) // 2, h, w)
    return boxes


def center_crop_boxes(sizes: np.ndarray, resize: int, crop: int) -> np.ndarray:
    """Boxes equal to resize(shorter side -> `resize`) then center crop `crop` x `crop`."""
    if crop > resize:
        raise InputError(f"center crop {crop} is larger than the resize {resize}")
    boxes = np.empty((len(sizes), 4), dtype=np.int32)
    for i, (height, width) in enumerate(np.asarray(sizes, dtype=np.int64)):
        side = max(1, round(crop * min(height, width) / resize))
        boxes[i] = ((height - side) // 2, (width - side) // 2, side, side)
    return boxes


def make_augmentation(name: str):
    """torchvision's AugMix / RandAugment / TrivialAugmentWide on uint8 CHW tensors (None for 'none')."""
    key = name.lower().replace("_", "").replace("-", "")
    if key == "none":
        return None
    from torchvision.transforms import v2

    if key == "augmix":
        return v2.AugMix()
    if key == "randaugment":
        return v2.RandAugment()
    if key == "trivialaugment":
        return v2.TrivialAugmentWide()
    raise InputError(f"unknown augmentation {name!r}; choose one of {', '.join(AUGMENTATIONS)}")
