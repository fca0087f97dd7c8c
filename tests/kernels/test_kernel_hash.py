"""phash64 and hamming_topk: native == reference, the DCT is scipy's, near-duplicates are near."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.fft
from PIL import Image

import genrobust_fast._core as core
from genrobust_fast import kernels
from genrobust_fast.kernels import _native, _reference

from .conftest import smooth_image


def test_phash_native_matches_reference_on_many_shapes():
    rng = np.random.default_rng(0)
    shapes = [(1, 1, 3), (2, 3, 1), (31, 33, 3), (32, 32, 1), (64, 48, 3), (200, 150, 3), (7, 300, 1)]
    images = [smooth_image(rng, h, w, c) for h, w, c in shapes]
    images += [np.full((40, 50, 3), 7, np.uint8), np.zeros((10, 10, 1), np.uint8)]  # flat: deterministic
    images += [rng.integers(0, 256, (45, 45, 3), dtype=np.uint8) for _ in range(20)]
    got = _native.phash64(images, threads=2)
    assert got.dtype == np.uint64
    np.testing.assert_array_equal(got, _reference.phash64(images))
    assert got[len(shapes)] == 1 << 63 and got[len(shapes) + 1] == 0  # flat: only a non-zero DC is set


def test_phash_accepts_an_nhwc_array(impl):
    batch = np.stack([smooth_image(np.random.default_rng(i), 30, 40) for i in range(3)])
    np.testing.assert_array_equal(impl.phash64(batch), impl.phash64(list(batch)))
    assert impl.phash64([]).shape == (0,)


def test_reference_dct_is_scipy_dct_ii():
    small = np.random.default_rng(1).uniform(0, 255, (32, 32))
    basis = _reference._dct_basis()
    want = scipy.fft.dct(scipy.fft.dct(small, axis=0), axis=1)[:8, :8]
    np.testing.assert_allclose(basis @ small @ basis.T, want, rtol=1e-12, atol=1e-8)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _hamming(a, b):
    return int(np.bitwise_count(np.uint64(a) ^ np.uint64(b)))


def test_near_duplicates_are_close_and_unrelated_images_far():
    rng = np.random.default_rng(2)
    originals = [smooth_image(rng, 120, 160) for _ in range(12)]
    variants = []
    for img in originals:
        noisy = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
        smaller = np.asarray(Image.fromarray(img).resize((80, 60), Image.BILINEAR))
        variants.append([_jpeg(img, 60), noisy, smaller])
    base = kernels.phash64(originals)
    near = [_hamming(base[i], h) for i, v in enumerate(variants) for h in kernels.phash64(v)]
    far = [_hamming(base[i], base[j]) for i in range(12) for j in range(i + 1, 12)]
    assert max(near) <= 8, near
    assert min(far) >= 14 and np.median(far) >= 24, far
    idx, _ = kernels.hamming_topk(kernels.phash64([v[0] for v in variants]), base, k=1)
    np.testing.assert_array_equal(idx[:, 0], np.arange(12))  # each re-encoded image finds its original


def _variants():
    names = {1: "portable", 2: "popcnt", 3: "avx512"}
    out = [1]
    if core.has_hardware_popcount():
        out.append(2)
    if core.has_avx512_popcount():
        out.append(3)
    return [pytest.param(v, id=names[v]) for v in out]


@pytest.mark.parametrize("variant", _variants())
# k <= 32 keeps a running top-k per query; larger k counting-sorts all distances.
@pytest.mark.parametrize(
    "nq, nr, k, bits",
    [
        (37, 1000, 5, 64),
        (9, 203, 203, 64),
        (13, 300, 17, 3),
        (1, 1, 1, 64),
        (0, 10, 3, 64),
        (21, 77, 1, 2),
        (11, 500, 33, 4),
        (6, 400, 120, 64),
        (5, 64, 32, 64),
    ],
)
def test_hamming_topk_native_matches_reference(variant, nq, nr, k, bits):
    rng = np.random.default_rng(nq * 1000 + nr)
    # Few distinct bits make many ties, which must come out in index order.
    q = rng.integers(0, 2**bits, nq, dtype=np.uint64)
    r = rng.integers(0, 2**bits, nr, dtype=np.uint64)
    idx = np.empty((nq, k), np.int64)
    dist = np.empty((nq, k), np.int32)
    core.hamming_topk(q, r, k, idx, dist, threads=2, variant=variant)
    want_idx, want_dist = _reference.hamming_topk(q, r, k)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(dist, want_dist)


def test_hamming_topk_is_the_stable_sort_of_all_distances(impl):
    rng = np.random.default_rng(5)
    q, r = rng.integers(0, 2**64, 6, dtype=np.uint64), rng.integers(0, 2**64, 500, dtype=np.uint64)
    r[100:110] = r[7]  # duplicates tie with index 7
    q[0] = r[7]
    idx, dist = impl.hamming_topk(q, r, 12)
    assert idx.dtype == np.int64 and dist.dtype == np.int32
    full = np.bitwise_count(q[:, None] ^ r[None, :]).astype(np.int32)
    order = np.argsort(full, axis=1, kind="stable")[:, :12]
    np.testing.assert_array_equal(idx, order)
    np.testing.assert_array_equal(dist, np.take_along_axis(full, order, axis=1))
    assert idx[0, :11].tolist() == [7, *range(100, 110)] and dist[0, 0] == 0
