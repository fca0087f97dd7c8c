"""The compiled kernels (genrobust_fast._core) behind the same signatures as _reference.

The extension is imported once, on first use; the outcome (module or the reason it failed) is cached.
Its inner loops exist for several instruction sets (baseline x86-64, AVX2, AVX-512); the extension
picks the best one the CPU supports on its first call, or the one GENROBUST_ISA names.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, KernelUnavailableError
from ._arguments import check_crop_args, check_float_nchw, check_images, check_threads, check_topk_args

ISA_ENV_VAR = "GENROBUST_ISA"

REBUILD_HINT = (
    "rebuild the extension with `pip install --no-build-isolation -e .` (or `make install`) in the "
    "source checkout, or set GENROBUST_KERNELS=auto to fall back to the NumPy reference"
)

_state: dict = {"tried": False, "core": None, "error": None}


def _import_core():
    from .. import _core

    return _core


def load():
    """The extension module, or None when it cannot be imported (see unavailable_reason())."""
    if not _state["tried"]:
        _state["tried"] = True
        try:
            _state["core"] = _import_core()
        except (ImportError, OSError) as exc:
            _state["error"] = f"{type(exc).__name__}: {exc}"
    return _state["core"]


def unavailable_reason() -> str | None:
    load()
    return _state["error"]


def reset() -> None:
    """Forget the cached import outcome (tests use it after patching _import_core)."""
    _state.update(tried=False, core=None, error=None)


def core():
    """The extension, its instruction set resolved: ConfigError if GENROBUST_ISA is unknown or unsupported."""
    module = load()
    if module is None:
        raise KernelUnavailableError(
            f"the native kernels cannot be loaded ({_state['error']}); {REBUILD_HINT}"
        )
    try:
        module.isa()  # resolved once, then a lookup; a bad GENROBUST_ISA fails here on every call
    except ValueError as exc:
        raise ConfigError(f"{exc}; unset {ISA_ENV_VAR} to use the best one") from None
    return module


def isa() -> str:
    """The instruction set the compiled kernels' inner loops use: "baseline", "avx2" or "avx512"."""
    return core().isa()


def supported_isas() -> list[str]:
    """The instruction sets this CPU can run the compiled kernels on, baseline first."""
    return list(core().supported_isas())


def crop_resize_normalize(images, boxes, flips, out_size, mean, std, dtype="float32", out=None, threads=0):
    a = check_crop_args(images, boxes, flips, out_size, mean, std, dtype, out, threads)
    core().crop_resize_normalize(
        a.images, a.boxes, a.flips, a.out_h, a.out_w, a.mean, a.std, a.dtype, a.out, a.threads
    )
    return a.result


def to_uint8(images, threads=0) -> np.ndarray:
    x = check_float_nchw(images)
    threads = check_threads(threads)
    n, c, h, w = x.shape
    out = np.empty((n, h, w, c), dtype=np.uint8)
    core().to_uint8(x, out, threads)
    return out


def phash64(images, threads=0) -> np.ndarray:
    imgs = check_images(images, "phash64")
    threads = check_threads(threads)
    out = np.empty(len(imgs), dtype=np.uint64)
    core().phash64(imgs, out, threads)
    return out


def hamming_topk(queries, references, k, threads=0) -> tuple[np.ndarray, np.ndarray]:
    q, r, k, threads = check_topk_args(queries, references, k, threads)
    indices = np.empty((len(q), k), dtype=np.int64)
    distances = np.empty((len(q), k), dtype=np.int32)
    core().hamming_topk(q, r, k, indices, distances, threads)
    return indices, distances
