"""Derived shifts of the Fashion-MNIST test split, for the demo only.

These are *derived shifts* (transforms of the clean test images), not real distribution-shift
benchmarks such as ImageNet-Sketch or ImageNet-R; they stand in for them so the demo can show the
method's shape (accuracy on shifted data vs clean data) in minutes on a CPU.

    edges      sketch-like: Sobel gradient magnitude, inverted (dark strokes on white)
    inverted   inverted contrast (white background, dark garment)
    blur-noise Gaussian blur (sigma 1.2) then Gaussian noise (sigma 25 grey levels)
    occlusion  a grey square covering 35-50% of the side, at a seeded random place

Every transform takes and returns (N, H, W, 3) uint8 and is deterministic given its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError


def _gray(images: np.ndarray) -> np.ndarray:
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise InputError(f"expected (N, H, W, 3) uint8 images, got {images.shape} {images.dtype}")
    return images.astype(np.float32).mean(axis=-1)


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def _filter2d(gray: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate each (H, W) image with a small kernel, edges replicated."""
    kh, kw = kernel.shape
    padded = np.pad(gray, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)), mode="edge")
    h, w = gray.shape[1:]
    out = np.zeros_like(gray)
    for dy in range(kh):
        for dx in range(kw):
            out += kernel[dy, dx] * padded[:, dy : dy + h, dx : dx + w]
    return out


def edges(images: np.ndarray, seed: int = 0) -> np.ndarray:
    gray = _gray(images)
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    magnitude = np.hypot(_filter2d(gray, sobel), _filter2d(gray, sobel.T))
    peak = magnitude.reshape(len(gray), -1).max(axis=1).reshape(-1, 1, 1)
    return _rgb(255.0 - 255.0 * magnitude / np.maximum(peak, 1e-6))


def inverted(images: np.ndarray, seed: int = 0) -> np.ndarray:
    return _rgb(255.0 - _gray(images))


def blur_noise(images: np.ndarray, seed: int = 0, sigma: float = 1.2, noise: float = 25.0) -> np.ndarray:
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    blurred = _filter2d(_filter2d(_gray(images), taps[None, :]), taps[:, None])
    rng = np.random.default_rng(seed)
    return _rgb(blurred + rng.normal(0.0, noise, size=blurred.shape))


def occlusion(images: np.ndarray, seed: int = 0, min_frac: float = 0.35, max_frac: float = 0.5) -> np.ndarray:
    gray = _gray(images).copy()
    n, h, w = gray.shape
    rng = np.random.default_rng(seed)
    for i in range(n):
        side = round(float(rng.uniform(min_frac, max_frac) * min(h, w)))
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        gray[i, top : top + side, left : left + side] = 128.0
    return _rgb(gray)


DERIVED_SHIFTS: dict[str, Callable[..., np.ndarray]] = {
    "edges": edges,
    "inverted": inverted,
    "blur-noise": blur_noise,
    "occlusion": occlusion,
}


def write_derived_shifts(
    fashion_root: str | Path,
    out_root: str | Path,
    per_class: int | None = 100,
    seed: int = 0,
    names: tuple[str, ...] = tuple(DERIVED_SHIFTS),
) -> dict[str, Path]:
    """Clean test subset + each derived shift as ImageFolders `<out_root>/<name>/<class id>/*.png`."""
    from .fashion_mnist import read_idx_split, select_per_class, to_rgb32, write_image_folder

    unknown = sorted(set(names) - set(DERIVED_SHIFTS))
    if unknown:
        raise InputError(f"unknown derived shift(s) {unknown}; choose from {', '.join(DERIVED_SHIFTS)}")
    images, labels = read_idx_split(fashion_root, "test")
    keep = select_per_class(labels, per_class, seed)
    clean, labels = to_rgb32(images[keep]), labels[keep]
    out_root = Path(out_root)
    source = {"dataset": "fashion-mnist", "split": "test", "per_class": per_class, "seed": seed}
    written = {"clean": write_image_folder(clean, labels, out_root / "clean", {**source, "shift": "none"})}
    for offset, name in enumerate(names, 1):
        shifted = DERIVED_SHIFTS[name](clean, seed=seed + offset)
        meta = {**source, "shift": name, "kind": "derived shift (a transform of the clean test images)"}
        written[name] = write_image_folder(shifted, labels, out_root / name, meta)
    return written
