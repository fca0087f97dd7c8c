"""Argument validation shared by the native and reference kernels.

Both implementations call these first, so a bad argument raises the same InputError (stating what
was received and what is expected) whichever implementation is active. Each check returns the
arguments normalised to exactly what the kernels consume.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

OUT_DTYPES = ("float32", "float16", "bfloat16")
# numpy storage of each output dtype: bfloat16 travels as its uint16 bit pattern.
STORAGE = {"float32": np.dtype(np.float32), "float16": np.dtype(np.float16), "bfloat16": np.dtype(np.uint16)}


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_torch_tensor(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "torch" and hasattr(obj, "numpy")


def _contiguity_hint(name: str) -> str:
    return f"{name} is not C-contiguous; expected a C-contiguous array (pass np.ascontiguousarray({name}))"


def check_threads(threads: Any) -> int:
    if not _is_int(threads) or threads < 0:
        raise InputError(f"threads={threads!r}; expected an integer >= 0 (0 = all cores)")
    return int(threads)


def check_images(images: Any, fn: str) -> list[np.ndarray]:
    """A list of HWC (or HW) uint8 images with 1 or 3 channels, or one NHWC uint8 array."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise InputError(
                f"{fn}: images is a {images.ndim}-D array of shape {images.shape}; expected a "
                "4-D NHWC uint8 array or a list of HWC uint8 arrays"
            )
        images = list(images)
    elif _is_torch_tensor(images) or not isinstance(images, (list, tuple)):
        raise InputError(
            f"{fn}: images is a {type(images).__name__}; expected a list of HWC uint8 numpy arrays "
            "or one NHWC uint8 numpy array (convert tensors with .numpy())"
        )
    out = []
    for i, img in enumerate(images):
        where = f"{fn}: images[{i}]"
        if not isinstance(img, np.ndarray):
            raise InputError(f"{where} is a {type(img).__name__}; expected a numpy uint8 HWC array")
        if img.dtype != np.uint8:
            raise InputError(
                f"{where} has dtype {img.dtype}; expected uint8 (convert 0..1 floats with "
                "(x * 255).round().astype(np.uint8))"
            )
        if img.ndim == 2:
            img = img[:, :, None]
        if img.ndim != 3:
            raise InputError(f"{where} has shape {img.shape} ({img.ndim}-D); expected HWC (3-D) or HW (2-D)")
        if img.shape[2] not in (1, 3):
            raise InputError(f"{where} has {img.shape[2]} channels (shape {img.shape}); expected 1 or 3")
        if img.shape[0] < 1 or img.shape[1] < 1:
            raise InputError(f"{where} has shape {img.shape}; expected height and width >= 1")
        if not img.flags.c_contiguous:
            raise InputError(f"{where}: {_contiguity_hint('image')}")
        out.append(img)
    return out


@dataclass
class CropArgs:
    images: list[np.ndarray]
    boxes: np.ndarray  # int64 (N, 4): top, left, height, width
    flips: np.ndarray  # bool (N,)
    out_h: int
    out_w: int
    mean: np.ndarray  # float32 (C,)
    std: np.ndarray  # float32 (C,)
    dtype: str
    out: np.ndarray  # (N, C, H, W) numpy buffer the kernel writes (uint16 for bfloat16)
    result: Any  # what the caller gets back: `out`, or the caller's torch tensor
    threads: int


def _check_out_size(out_size: Any) -> tuple[int, int]:
    pair = (out_size, out_size) if _is_int(out_size) else out_size
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(_is_int(v) and v >= 1 for v in pair)):
        raise InputError(
            f"crop_resize_normalize: out_size={out_size!r}; expected (height, width) integers >= 1"
        )
    return int(pair[0]), int(pair[1])


def _check_stats(name: str, values: Any) -> np.ndarray:
    try:
        arr = None if isinstance(values, str) else np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 1 or arr.shape[0] not in (1, 3) or not np.all(np.isfinite(arr)):
        raise InputError(
            f"crop_resize_normalize: {name}={values!r}; expected 1 or 3 finite numbers (one per "
            "output channel)"
        )
    if name == "std" and np.any(arr <= 0):
        raise InputError(f"crop_resize_normalize: std={values!r}; every entry must be > 0")
    return arr.astype(np.float32)


def _check_dtype(dtype: Any) -> str:
    name = getattr(dtype, "name", None) or str(dtype)
    name = name.replace("torch.", "")
    if name not in OUT_DTYPES:
        raise InputError(f"crop_resize_normalize: dtype={dtype!r}; expected one of {', '.join(OUT_DTYPES)}")
    return name


def _check_out(out: Any, shape: tuple[int, ...], dtype: str) -> tuple[np.ndarray, Any]:
    if out is None:
        buf = np.empty(shape, dtype=STORAGE[dtype])
        return buf, buf
    if _is_torch_tensor(out):
        import torch

        want = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
        if out.device.type != "cpu" or out.dtype != want or tuple(out.shape) != shape:
            raise InputError(
                f"crop_resize_normalize: out is a {out.dtype} tensor of shape {tuple(out.shape)} on "
                f"{out.device}; expected a CPU {want} tensor of shape {shape}"
            )
        if not out.is_contiguous():
            raise InputError(
                "crop_resize_normalize: out is a non-contiguous tensor; expected a contiguous one "
                "(pass out.contiguous() and use the returned tensor)"
            )
        buf = (
            out.detach().view(torch.int16).numpy().view(np.uint16)
            if dtype == "bfloat16"
            else out.detach().numpy()
        )
        return buf, out
    if not isinstance(out, np.ndarray):
        raise InputError(
            f"crop_resize_normalize: out is a {type(out).__name__}; expected None, a numpy array or a "
            "CPU torch tensor"
        )
    if out.dtype != STORAGE[dtype] or out.shape != shape:
        raise InputError(
            f"crop_resize_normalize: out has dtype {out.dtype} and shape {out.shape}; expected dtype "
            f"{STORAGE[dtype]} ({dtype}) and shape {shape}"
        )
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise InputError("crop_resize_normalize: out must be a writable C-contiguous array")
    return out, out


def check_crop_args(images, boxes, flips, out_size, mean, std, dtype, out, threads) -> CropArgs:
    fn = "crop_resize_normalize"
    imgs = check_images(images, fn)
    n = len(imgs)
    box_arr = np.asarray(boxes)
    if box_arr.size == 0 and n == 0:
        box_arr = box_arr.reshape(0, 4)
    if box_arr.ndim != 2 or box_arr.shape != (n, 4):
        raise InputError(
            f"{fn}: boxes has shape {box_arr.shape}; expected ({n}, 4) rows of (top, left, height, "
            "width), one per image"
        )
    if not np.issubdtype(box_arr.dtype, np.integer):
        raise InputError(f"{fn}: boxes has dtype {box_arr.dtype}; expected an integer dtype")
    box_arr = np.ascontiguousarray(box_arr, dtype=np.int64)
    for i, (top, left, h, w) in enumerate(box_arr.tolist()):
        ih, iw = imgs[i].shape[:2]
        if h < 1 or w < 1 or top < 0 or left < 0 or top + h > ih or left + w > iw:
            raise InputError(
                f"{fn}: boxes[{i}] = (top={top}, left={left}, height={h}, width={w}) is not inside "
                f"images[{i}] of size {ih}x{iw} (HxW); expected height, width >= 1, top, left >= 0, "
                f"top + height <= {ih} and left + width <= {iw}"
            )
    flip_arr = np.asarray(flips)
    if flip_arr.shape != (n,) or flip_arr.dtype != np.bool_:
        raise InputError(
            f"{fn}: flips has dtype {flip_arr.dtype} and shape {flip_arr.shape}; expected a bool "
            f"array of shape ({n},)"
        )
    flip_arr = np.ascontiguousarray(flip_arr)
    out_h, out_w = _check_out_size(out_size)
    mean_arr, std_arr = _check_stats("mean", mean), _check_stats("std", std)
    if mean_arr.shape != std_arr.shape:
        raise InputError(
            f"{fn}: mean has {mean_arr.shape[0]} entries and std {std_arr.shape[0]}; expected the "
            "same number (the output channel count)"
        )
    channels = mean_arr.shape[0]
    if channels == 1:
        for i, img in enumerate(imgs):
            if img.shape[2] != 1:
                raise InputError(
                    f"{fn}: images[{i}] has {img.shape[2]} channels but mean/std have 1 entry; "
                    "give 3 mean/std entries for RGB images"
                )
    name = _check_dtype(dtype)
    buf, result = _check_out(out, (n, channels, out_h, out_w), name)
    return CropArgs(
        imgs, box_arr, flip_arr, out_h, out_w, mean_arr, std_arr, name, buf, result, check_threads(threads)
    )


def check_float_nchw(images: Any) -> np.ndarray:
    """to_uint8's input: a float32 or float16 NCHW numpy array or CPU torch tensor."""
    if _is_torch_tensor(images):
        if images.device.type != "cpu":
            raise InputError(f"to_uint8: images is on {images.device}; expected a CPU tensor (call .cpu())")
        if str(images.dtype) not in ("torch.float32", "torch.float16"):
            raise InputError(
                f"to_uint8: images has dtype {images.dtype}; expected float32 or float16 (call .float())"
            )
        images = images.detach().numpy()
    if not isinstance(images, np.ndarray):
        raise InputError(
            f"to_uint8: images is a {type(images).__name__}; expected a float32/float16 NCHW array"
        )
    if images.dtype not in (np.float32, np.float16):
        raise InputError(f"to_uint8: images has dtype {images.dtype}; expected float32 or float16 in [-1, 1]")
    if images.ndim != 4:
        raise InputError(f"to_uint8: images has shape {images.shape} ({images.ndim}-D); expected NCHW (4-D)")
    if not images.flags.c_contiguous:
        raise InputError(f"to_uint8: {_contiguity_hint('images')}")
    return images


def check_hashes(name: str, values: Any) -> np.ndarray:
    if not isinstance(values, np.ndarray):
        raise InputError(
            f"hamming_topk: {name} is a {type(values).__name__}; expected a numpy uint64 (N,) array"
        )
    if values.dtype != np.uint64:
        raise InputError(
            f"hamming_topk: {name} has dtype {values.dtype}; expected uint64 (phash64 output; "
            "reinterpret 64-bit ints with .view(np.uint64))"
        )
    if values.ndim != 1:
        raise InputError(f"hamming_topk: {name} has shape {values.shape}; expected 1-D (N,)")
    if not values.flags.c_contiguous:
        raise InputError(f"hamming_topk: {_contiguity_hint(name)}")
    return values


def check_topk_args(queries, references, k, threads) -> tuple[np.ndarray, np.ndarray, int, int]:
    q = check_hashes("queries", queries)
    r = check_hashes("references", references)
    if not _is_int(k) or not 1 <= k <= len(r):
        raise InputError(
            f"hamming_topk: k={k!r}; expected an integer with 1 <= k <= len(references) = {len(r)}"
        )
    return q, r, int(k), check_threads(threads)
