"""Shared fixtures: both kernel implementations, seeded images, and a clean GENROBUST_KERNELS."""

from __future__ import annotations

import numpy as np
import pytest

from genrobust_fast.kernels import _native, _reference

IMPLEMENTATIONS = {"native": _native, "reference": _reference}


def supported_isas() -> list[str]:
    """The instruction sets the compiled kernels can run on here (all three on an AVX-512 machine)."""
    module = _native.load()
    return list(module.supported_isas()) if module is not None else ["baseline"]  # native tests then fail


@pytest.fixture(params=supported_isas())
def isa(request):
    """Each instruction set this CPU supports in turn, forced for the test (as GENROBUST_ISA would)."""
    core = _native.core()
    core.set_isa(request.param)
    yield request.param
    core.reset_isa()  # back to GENROBUST_ISA or the best one


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def impl(request):
    """Each implementation module in turn (native fails, not skips, when the extension is missing)."""
    return IMPLEMENTATIONS[request.param]


@pytest.fixture(autouse=True)
def _fresh_selection(monkeypatch):
    monkeypatch.delenv("GENROBUST_KERNELS", raising=False)
    yield
    _native.reset()


def smooth_image(rng: np.random.Generator, h: int, w: int, c: int = 3, noise: float = 6.0) -> np.ndarray:
    """A photo-like uint8 image: bilinearly upsampled coarse noise plus fine grain."""
    gh, gw = max(2, h // 12 + 2), max(2, w // 12 + 2)
    coarse = rng.uniform(0, 255, (gh, gw, c))
    ys, xs = np.linspace(0, gh - 1, h), np.linspace(0, gw - 1, w)
    y0, x0 = np.minimum(ys.astype(int), gh - 2), np.minimum(xs.astype(int), gw - 2)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = (
        (1 - fy) * (1 - fx) * coarse[y0][:, x0]
        + (1 - fy) * fx * coarse[y0][:, x0 + 1]
        + fy * (1 - fx) * coarse[y0 + 1][:, x0]
        + fy * fx * coarse[y0 + 1][:, x0 + 1]
    )
    img += rng.normal(0, noise, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def random_box(rng: np.random.Generator, h: int, w: int) -> tuple[int, int, int, int]:
    bh, bw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    return int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1)), bh, bw
