"""Image and hash kernels: compiled C++ (genrobust_fast._core) with NumPy references.

`GENROBUST_KERNELS` chooses the implementation and is read on every call:

- ``auto`` (default): native when the extension loads, else the NumPy reference (logged once);
- ``native``: the extension must load, else KernelUnavailableError says how to rebuild it;
- ``reference``: always the NumPy reference (slow; for checking and debugging).

Both implementations validate arguments identically (InputError naming what was received and what
is expected). ``threads=0`` uses every core (or OMP_NUM_THREADS); the reference ignores it.

The native inner loops are compiled for baseline x86-64, AVX2 and AVX-512 and chosen at run time:
the best this CPU supports, or ``GENROBUST_ISA=baseline|avx2|avx512`` (read once, at the first call;
an unknown or unsupported value is a ConfigError). ``implementation_report()["isa"]`` says which.

    from genrobust_fast import kernels
    batch = kernels.crop_resize_normalize(images, boxes, flips, (224, 224), mean, std)
    codes = kernels.phash64(images)
    idx, dist = kernels.hamming_topk(codes[:10], codes, k=5)
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..errors import ConfigError
from . import _native, _reference

log = logging.getLogger(__name__)

ENV_VAR = "GENROBUST_KERNELS"
CHOICES = ("auto", "native", "reference")

__all__ = [
    "ENV_VAR",
    "active_implementation",
    "bfloat16_to_float32",
    "crop_resize_normalize",
    "hamming_topk",
    "implementation_report",
    "phash64",
    "to_uint8",
]

_logged_fallback: set[str] = set()


def _select() -> tuple[Any, str]:
    """(implementation module, reason) for the current GENROBUST_KERNELS."""
    choice = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ConfigError(f"{ENV_VAR}={os.environ.get(ENV_VAR)!r}; expected one of {', '.join(CHOICES)}")
    if choice == "reference":
        return _reference, f"{ENV_VAR}=reference"
    if _native.load() is not None:
        return _native, f"compiled extension loaded ({ENV_VAR}={choice})"
    if choice == "native":
        _native.core()  # raises KernelUnavailableError naming the fix
    reason = f"compiled extension unavailable ({_native.unavailable_reason()}); using the NumPy reference"
    if reason not in _logged_fallback:
        _logged_fallback.add(reason)
        log.warning("native kernels: %s; %s", reason, _native.REBUILD_HINT.split(", or set")[0])
    return _reference, reason


def active_implementation() -> str:
    """ "native" or "reference": what the kernels run on now."""
    return "native" if _select()[0] is _native else "reference"


def implementation_report(strict: bool = True) -> dict[str, Any]:
    """{"implementation", "reason", "openmp", "threads", "isa", "supported_isas"} for `genrobust info` and
    benchmark records; "isa" is the instruction set of the native inner loops (None for the reference).
    A bad GENROBUST_KERNELS / GENROBUST_ISA raises its ConfigError, or with strict=False is reported as
    implementation "unusable" with the error as the reason (`genrobust info` goes on to report the rest)."""
    try:
        return _report()
    except ConfigError as exc:
        if strict:
            raise
        return {
            "implementation": "unusable",
            "reason": str(exc),
            "openmp": False,
            "threads": 0,
            "isa": None,
            "supported_isas": [],
        }


def _report() -> dict[str, Any]:
    impl, reason = _select()
    if impl is _native:
        core = _native.core()
        return {
            "implementation": "native",
            "reason": reason,
            "openmp": bool(core.has_openmp()),
            "threads": int(core.default_thread_count()),
            "isa": _native.isa(),
            "supported_isas": _native.supported_isas(),
        }
    return {
        "implementation": "reference",
        "reason": reason,
        "openmp": False,
        "threads": 1,
        "isa": None,
        "supported_isas": [],
    }


def crop_resize_normalize(images, boxes, flips, out_size, mean, std, dtype="float32", out=None, threads=0):
    """Crop, resize (antialiased bilinear), flip and normalise a batch into one NCHW array.

    images: list of HWC (or HW) uint8 arrays, sizes may differ, 1 or 3 channels (or one NHWC array).
    boxes: (N, 4) integers (top, left, height, width) inside each image. flips: (N,) bool, horizontal.
    out_size: (H, W) or an int. mean, std: 1 or 3 numbers, the output channel count C; a 1-channel
    image is replicated to 3 channels when C == 3. Value = (pixel / 255 - mean) / std.
    Resampling is PIL's / torch's antialiased bilinear (triangle filter widened by the downscale factor,
    restricted to the crop), computed in float32 without intermediate rounding.
    dtype: "float32", "float16" or "bfloat16". A new numpy (N, C, H, W) array is returned; bfloat16 is
    returned as its uint16 bit pattern (see bfloat16_to_float32, or torch.from_numpy(a).view(torch.bfloat16)).
    out: a preallocated numpy array (uint16 for bfloat16) or a contiguous CPU torch tensor of the matching
    dtype and shape; it is filled and returned (a torch tensor is returned as the tensor).
    """
    return _select()[0].crop_resize_normalize(images, boxes, flips, out_size, mean, std, dtype, out, threads)


def to_uint8(images, threads=0) -> np.ndarray:
    """NCHW float32/float16 (numpy or CPU torch) in [-1, 1] -> NHWC uint8 numpy.

    Value = round_half_even(clamp(x * 0.5 + 0.5, 0, 1) * 255) in float32, bit-identical to diffusers'
    `(image / 2 + 0.5).clamp(0, 1)` then `(x * 255).round().astype("uint8")` for float32 input; float16
    is widened to float32 first. NaN becomes 0.
    """
    return _select()[0].to_uint8(images, threads)


def phash64(images, threads=0) -> np.ndarray:
    """64-bit DCT perceptual hash of each uint8 image (list of HWC/HW arrays or an NHWC array) -> uint64 (N,).

    Luma 0.299 R + 0.587 G + 0.114 B (float64), antialiased bilinear resize to 32x32, DCT-II
    (scipy.fft.dct norm=None on both axes), the top-left 8x8 coefficients including DC; bit 63 - (8u + v)
    is set when coefficient (u, v) exceeds their median (by more than 1e-9 x the largest magnitude, which
    keeps flat images deterministic). `f"{h:016x}"` lists the coefficients row by row like imagehash.
    """
    return _select()[0].phash64(images, threads)


def hamming_topk(queries, references, k, threads=0) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest references of each query by Hamming distance of uint64 hashes.

    Returns (indices int64 (Q, k), distances int32 (Q, k)), ascending, ties broken by the lower index.
    Requires 1 <= k <= len(references).
    """
    return _select()[0].hamming_topk(queries, references, k, threads)


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """float32 values of bfloat16 bit patterns (uint16), e.g. a dtype="bfloat16" result."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
