"""Renditions of Fashion-MNIST images: the demo generator's wider world.

The paper's generator (Stable Diffusion) knows sketches, paintings and renditions that the classifier's
real photos never show, and CLIP's templates ("a sketch of a {}", "a blurry photo of a {}") call them
up. The demo rebuilds that gap in miniature: the generator is trained on the full training split in the
renditions of GENERATOR_RENDITIONS, each captioned with words that name it; the classifiers' real data
stays plain photos. The classifiers' test shifts are *not* these transforms: shift_benchmark.py draws
the same kinds with other code and other parameters, and kinds the generator never drew, as
ImageNet-Sketch was drawn by people, not by Stable Diffusion's training pipeline.

    photo      the image as it is
    sketch     outline: Sobel gradient magnitude, bright strokes on the black background
    negative   the garment's grey levels inverted, the background left black
    blurry     Gaussian blur (sigma 1.5) and mild Gaussian noise (sigma 10 grey levels)

Every rendition keeps the black background of the photos: the first design (dark strokes on white, fully
inverted contrast) put every real-only model at chance (10 %), which leaves no line to measure
effective robustness against. Every transform takes and returns (N, H, W, 3) uint8 and is deterministic
given its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

# Below this grey level a pixel is background (Fashion-MNIST backgrounds are 0, garments mostly > 40).
FOREGROUND_LEVEL = 20


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


def photo(images: np.ndarray, seed: int = 0) -> np.ndarray:
    return _rgb(_gray(images))


def sketch(images: np.ndarray, seed: int = 0) -> np.ndarray:
    gray = _gray(images)
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    magnitude = np.hypot(_filter2d(gray, sobel), _filter2d(gray, sobel.T))
    peak = magnitude.reshape(len(gray), -1).max(axis=1).reshape(-1, 1, 1)
    return _rgb(255.0 * magnitude / np.maximum(peak, 1e-6))


def negative(images: np.ndarray, seed: int = 0) -> np.ndarray:
    gray = _gray(images)
    return _rgb(np.where(gray > FOREGROUND_LEVEL, 255.0 - gray, 0.0))


def blurry(images: np.ndarray, seed: int = 0, sigma: float = 1.5, noise: float = 10.0) -> np.ndarray:
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    blurred = _filter2d(_filter2d(_gray(images), taps[None, :]), taps[:, None])
    rng = np.random.default_rng(seed)
    return _rgb(blurred + rng.normal(0.0, noise, size=blurred.shape))


@dataclass(frozen=True)
class Rendition:
    name: str
    transform: Callable[..., np.ndarray]
    # Caption templates that name the rendition; CLIP's ImageNet templates where one fits.
    templates: tuple[str, ...]


RENDITIONS: dict[str, Rendition] = {
    r.name: r
    for r in (
        Rendition(
            "photo",
            photo,
            # The first is the `labels` strategy's prompt, word for word.
            ("a photo of a {}", "a close-up photo of a {}.", "a good photo of the {}.", "itap of a {}."),
        ),
        Rendition("sketch", sketch, ("a sketch of a {}.", "a drawing of a {}.", "a doodle of the {}.")),
        Rendition("negative", negative, ("a negative photo of a {}.", "an inverted photo of the {}.")),
        Rendition("blurry", blurry, ("a blurry photo of a {}.", "an out of focus photo of the {}.")),
    )
}
GENERATOR_RENDITIONS = ("photo", "sketch", "negative", "blurry")


def generator_templates() -> tuple[str, ...]:
    """The templates strategy's prompts: every template of every rendition the generator knows."""
    return tuple(t for name in GENERATOR_RENDITIONS for t in RENDITIONS[name].templates)
