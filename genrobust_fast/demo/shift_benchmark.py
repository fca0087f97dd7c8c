"""The classifiers' test shifts, drawn by other code than the generator's world.

ImageNet-Sketch and ImageNet-R were not made by Stable Diffusion's training pipeline: the generator
knows the *kind* of rendition (a sketch), drawn by others. The demo keeps that gap. The generator was
trained on `shifts.py`'s renditions; the test shifts here are the same kinds made another way, plus kinds
it never drew. This module and `shifts.py` share no code: the generator's training (generator.py,
scripts/train_demo_generator.py, shifts.py) never imports it, and it imports nothing of theirs.

    kind the generator knows   generator (shifts.py)                 test shift (here)
    sketch                     Sobel magnitude, grey strokes,         morphological gradient, thresholded
                               black inside                           into flat pen strokes (level 230)
                                                                      over a light wash (70)
    negative                   255 - g on the garment                 inverted square root of g, floor 40
    blurry                     Gaussian, sigma 1.5, + noise           motion blur, 9-pixel line in one of
                                                                      four seeded directions, no noise

    held out (never drawn)
    silhouette                 -                                      the garment's shape, filled flat
    occluded                   -                                      a black 12×12 square over the garment

`tests/demo/test_shift_benchmark.py` measures on Fashion-MNIST that each test shift differs from the
generator's rendition of the same image (RMS grey levels), and that each held-out shift is no closer
to any known rendition (the generator's or these) than to the clean image: `pixelated`, the earlier
held-out shift, sat closer to the generator's blurry images than to the clean ones.
Every transform takes and returns (N, H, W, 3) uint8 and is deterministic given its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError

# Garment pixels: Fashion-MNIST backgrounds are 0; 40 also drops the faint fringe of JPEG-like noise.
GARMENT_LEVEL = 40


def _grey(images: np.ndarray) -> np.ndarray:
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise InputError(f"expected (N, H, W, 3) uint8 images, got {images.shape} {images.dtype}")
    return images[..., 0].astype(np.float32) * 0.299 + images[..., 1] * 0.587 + images[..., 2] * 0.114


def _to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.stack([np.clip(np.rint(grey), 0, 255).astype(np.uint8)] * 3, axis=-1)


def _windows(grey: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, size, size) neighbourhoods, borders padded with zeros (the background)."""
    r = size // 2
    padded = np.pad(grey, ((0, 0), (r, r), (r, r)))
    return np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(1, 2))


def sketch(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Pen strokes over a light wash: where the 3×3 morphological gradient (max - min) passes a quarter
    of the image's largest, one flat level (230); the rest of the garment one light level (70)."""
    grey = _grey(images)
    win = _windows(grey, 3)
    gradient = win.max(axis=(-2, -1)) - win.min(axis=(-2, -1))
    peak = gradient.max(axis=(1, 2), keepdims=True)
    wash = np.where(grey > GARMENT_LEVEL, 70.0, 0.0)
    return _to_rgb(np.where(gradient > 0.25 * np.maximum(peak, 1e-6), 230.0, wash))


def negative(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """The garment inverted on a square-root curve above a floor of 40; the background stays black."""
    grey = _grey(images)
    inverted = 40.0 + 215.0 * (1.0 - np.sqrt(grey / 255.0))
    return _to_rgb(np.where(grey > GARMENT_LEVEL, inverted, 0.0))


def blurry(images: np.ndarray, seed: int = 0, length: int = 9) -> np.ndarray:
    """Motion blur: the mean along a `length`-pixel line, horizontal, vertical or either diagonal
    (seeded per image); no noise."""
    grey = _grey(images)
    horizontal = np.zeros((length, length))
    horizontal[length // 2] = 1.0
    lines = (horizontal, horizontal.T, np.eye(length), np.fliplr(np.eye(length)))
    kernels = np.stack([k / k.sum() for k in lines])
    direction = np.random.default_rng([seed, 11]).integers(len(kernels), size=len(grey))
    win = _windows(grey, length)
    return _to_rgb(np.einsum("nhwij,nij->nhw", win, kernels[direction]))


def silhouette(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """The garment's shape filled with one level (200): outline and texture gone, form kept."""
    return _to_rgb(np.where(_grey(images) > GARMENT_LEVEL, 200.0, 0.0))


def occluded(images: np.ndarray, seed: int = 0, side: int = 12) -> np.ndarray:
    """A black `side`-pixel square centred on a seeded garment pixel of each image."""
    out = images.copy()
    grey = _grey(images)
    rng = np.random.default_rng([seed, 13])
    h, w = grey.shape[1:]
    for i in range(len(out)):
        ys, xs = np.nonzero(grey[i] > GARMENT_LEVEL)
        k = int(rng.integers(len(ys))) if len(ys) else 0
        cy, cx = (int(ys[k]), int(xs[k])) if len(ys) else (h // 2, w // 2)
        top, left = min(max(cy - side // 2, 0), h - side), min(max(cx - side // 2, 0), w - side)
        out[i, top : top + side, left : left + side] = 0
    return out


# name -> transform; the kinds the generator knows first, then the held-out kinds.
KNOWN_KINDS: dict[str, Callable[..., np.ndarray]] = {"sketch": sketch, "negative": negative, "blurry": blurry}
HELD_OUT_KINDS: dict[str, Callable[..., np.ndarray]] = {"silhouette": silhouette, "occluded": occluded}
TEST_SHIFTS: dict[str, Callable[..., np.ndarray]] = {**KNOWN_KINDS, **HELD_OUT_KINDS}
KNOWN, HELD_OUT = tuple(KNOWN_KINDS), tuple(HELD_OUT_KINDS)


def write_test_shifts(
    fashion_root: str | Path,
    out_root: str | Path,
    per_class: int | None = 100,
    seed: int = 0,
    names: tuple[str, ...] = tuple(TEST_SHIFTS),
) -> dict[str, Path]:
    """Clean test subset + each shift as ImageFolders `<out_root>/<name>/<class id>/*.png`."""
    from .fashion_mnist import read_idx_split, select_per_class, to_rgb32, write_image_folder

    unknown = sorted(set(names) - set(TEST_SHIFTS))
    if unknown:
        raise InputError(f"unknown test shift(s) {unknown}; choose from {', '.join(TEST_SHIFTS)}")
    images, labels = read_idx_split(fashion_root, "test")
    keep = select_per_class(labels, per_class, seed)
    clean, labels = to_rgb32(images[keep]), labels[keep]
    out_root = Path(out_root)
    source = {"dataset": "fashion-mnist", "split": "test", "per_class": per_class, "seed": seed}
    written = {"clean": write_image_folder(clean, labels, out_root / "clean", {**source, "shift": "none"})}
    for offset, name in enumerate(names, 1):
        meta = {
            **source,
            "shift": name,
            "kind": "derived shift, drawn by demo/shift_benchmark.py (not the generator's transforms)",
            "kind_known_to_generator": name in KNOWN_KINDS,
        }
        shifted = TEST_SHIFTS[name](clean, seed=seed + offset)
        written[name] = write_image_folder(shifted, labels, out_root / name, meta)
    return written
