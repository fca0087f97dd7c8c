"""NumPy references of the native kernels: same signatures, same checks, results within the
tolerances stated in tests/kernels. They favour clarity over speed and ignore `threads`."""

from __future__ import annotations

import numpy as np

from ._arguments import check_crop_args, check_float_nchw, check_images, check_threads, check_topk_args

HASH_SIDE, HASH_LOW = 32, 8


def triangle_filter(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(start (out,), weights (out, taps) float64) of antialiased bilinear resampling, PIL/torch style.

    Output i reads inputs start[i] + k with weights[i, k]; the triangle's support is one input pixel,
    widened by the downscale factor when shrinking; windows are clipped to the input and normalised,
    then padded to a common length and shifted to stay inside the input (as the C++ table is).
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    center = (np.arange(out_size, dtype=np.float64) + 0.5) * scale
    lo = np.maximum((center - filter_scale + 0.5).astype(np.int64), 0)
    hi = np.minimum((center + filter_scale + 0.5).astype(np.int64), in_size)
    taps = int((hi - lo).max())
    start = np.minimum(lo, in_size - taps)
    src = start[:, None] + np.arange(taps)
    weights = np.maximum(0.0, 1.0 - np.abs((src - center[:, None] + 0.5) * (1.0 / filter_scale)))
    weights = np.where((src >= lo[:, None]) & (src < hi[:, None]), weights, 0.0)
    total = weights.sum(axis=1, keepdims=True)
    return start, np.divide(weights, total, out=weights, where=total != 0)


def _resample(image: np.ndarray, out_h: int, out_w: int, dtype) -> np.ndarray:
    """Separable resize of an (H, W, C) float image: horizontal pass, then vertical."""
    sx, wx = triangle_filter(image.shape[1], out_w)
    sy, wy = triangle_filter(image.shape[0], out_h)
    wx, wy = wx.astype(dtype), wy.astype(dtype)
    rows = np.zeros((image.shape[0], out_w, image.shape[2]), dtype=dtype)
    for k in range(wx.shape[1]):
        rows += wx[:, k, None] * image[:, sx + k, :]
    out = np.zeros((out_h, out_w, image.shape[2]), dtype=dtype)
    for k in range(wy.shape[1]):
        out += wy[:, k, None, None] * rows[sy + k]
    return out


def float32_to_bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) of float32 values, round-to-nearest-even; NaN stays NaN."""
    u = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = ((u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16).astype(np.uint16)
    nan = (u & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    return np.where(nan, ((u >> 16) | np.uint32(0x40)).astype(np.uint16), rounded)


def crop_resize_normalize(images, boxes, flips, out_size, mean, std, dtype="float32", out=None, threads=0):
    a = check_crop_args(images, boxes, flips, out_size, mean, std, dtype, out, threads)
    channels = a.mean.shape[0]
    for i, (img, (top, left, h, w), flip) in enumerate(zip(a.images, a.boxes, a.flips)):
        crop = img[top : top + h, left : left + w].astype(np.float32)
        if crop.shape[2] != channels:
            crop = np.repeat(crop, channels, axis=2)
        res = _resample(crop, a.out_h, a.out_w, np.float32)
        if flip:
            res = res[:, ::-1]
        res = ((res / np.float32(255) - a.mean) / a.std).transpose(2, 0, 1)
        if a.dtype == "bfloat16":
            a.out[i] = float32_to_bfloat16_bits(res)
        else:
            a.out[i] = res  # float16: numpy rounds to nearest even
    return a.result


def to_uint8(images, threads=0) -> np.ndarray:
    x = check_float_nchw(images).astype(np.float32, copy=False)
    check_threads(threads)
    t = x * np.float32(0.5) + np.float32(0.5)
    t = np.minimum(np.where(t > 0, t, np.float32(0)), np.float32(1))  # NaN -> 0
    q = np.round(t * np.float32(255)).astype(np.uint8)
    return np.ascontiguousarray(q.transpose(0, 2, 3, 1))


def _dct_basis() -> np.ndarray:
    """Rows u < 8 of the unnormalised DCT-II on 32 points (scipy norm=None): 2 cos(pi u (2n + 1) / 64)."""
    u = np.arange(HASH_LOW, dtype=np.float64)[:, None]
    n = np.arange(HASH_SIDE, dtype=np.float64)[None, :]
    return 2.0 * np.cos(np.pi * u * (2 * n + 1) / (2.0 * HASH_SIDE))


def _phash_one(img: np.ndarray, basis: np.ndarray) -> int:
    f = img.astype(np.float64)
    luma = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2] if f.shape[2] == 3 else f[..., 0]
    small = _resample(luma[:, :, None], HASH_SIDE, HASH_SIDE, np.float64)[:, :, 0]
    coef = (basis @ small @ basis.T).ravel()
    threshold = np.median(coef) + 1e-9 * np.abs(coef).max()
    bits = coef > threshold
    return sum(1 << (63 - int(i)) for i in np.flatnonzero(bits))


def phash64(images, threads=0) -> np.ndarray:
    imgs = check_images(images, "phash64")
    check_threads(threads)
    basis = _dct_basis()
    return np.array([_phash_one(img, basis) for img in imgs], dtype=np.uint64)


_BYTE_POPCOUNT = np.array([i.bit_count() for i in range(256)], dtype=np.uint8)


def popcount64(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 as uint8 (np.bitwise_count on numpy >= 2, else a byte lookup)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    return _BYTE_POPCOUNT[x.view(np.uint8)].reshape(*x.shape, 8).sum(axis=-1, dtype=np.uint8)


def hamming_topk(queries, references, k, threads=0) -> tuple[np.ndarray, np.ndarray]:
    q, r, k, _ = check_topk_args(queries, references, k, threads)
    nr = len(r)
    indices = np.empty((len(q), k), dtype=np.int64)
    distances = np.empty((len(q), k), dtype=np.int32)
    index = np.arange(nr, dtype=np.int64)
    chunk = max(1, (1 << 22) // nr)  # about 4M distances per block
    for s in range(0, len(q), chunk):
        dist = popcount64(q[s : s + chunk, None] ^ r[None, :])
        # One key orders by (distance, index): the same order as a stable argsort on distance.
        key = dist.astype(np.int64) * nr + index
        if k < nr:
            key = np.take_along_axis(key, np.argpartition(key, k - 1, axis=1)[:, :k], axis=1)
        key.sort(axis=1)
        key = key[:, :k]
        indices[s : s + chunk] = key % nr
        distances[s : s + chunk] = key // nr
    return indices, distances
