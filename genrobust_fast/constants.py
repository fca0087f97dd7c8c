"""Values several modules must agree on, written once."""

from __future__ import annotations

import os

# ImageNet channel statistics (torchvision's pretrained models were trained with them).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Evaluation resizes the short side to crop * 256 / 224, then centre-crops (the standard ImageNet recipe).
EVAL_RESIZE_RATIO = 256 / 224

# Seeds seed numpy and torch generators, which take unsigned 32- and 64-bit values; a negative seed is
# refused up front rather than deep inside a worker.
MAX_SEED = 2**32 - 1

# The most pixels an image may have, for every decoder (PIL and DALI): PIL's own decompression-bomb
# refusal (twice its Image.MAX_IMAGE_PIXELS default), about 13400 x 13400.
MAX_IMAGE_PIXELS = 2 * 89_478_485


# File suffixes readers take as images (lower case), in image trees and tar shards alike.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".ppm", ".tif", ".tiff"})


def is_image_name(name: str) -> bool:
    """An image file or tar member by its suffix; hidden names (".x.jpg", temp files) are not."""
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES and not os.path.basename(name).startswith(".")


def eval_resize(crop: int) -> int:
    """The short side to resize to before a centre crop of `crop` pixels."""
    return round(crop * EVAL_RESIZE_RATIO)
