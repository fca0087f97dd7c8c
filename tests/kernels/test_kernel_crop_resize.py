"""crop_resize_normalize: native == NumPy reference, and close to torchvision's antialiased resized_crop.

Tests taking the `isa` fixture run once per instruction set this CPU supports (baseline, AVX2,
AVX-512), each path held to the same tolerances.

Tolerances: native vs reference (both float32, same filter) 1e-4 in normalised units (about 0.006 of
a pixel level for ImageNet std). float16/bfloat16 outputs are exactly the native float32 result rounded
to nearest even. vs torchvision v2 resized_crop(antialias=True): float input 0.02 pixel levels max;
uint8 input (which rounds to uint8 between its two passes) 1.5 levels max and 0.5 mean.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrobust_fast import kernels
from genrobust_fast.kernels import _native, _reference

from .conftest import random_box, smooth_image

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
ATOL = 1e-4


def random_batch(rng, n, max_side=90, gray_share=0.3):
    images, boxes = [], []
    for _ in range(n):
        h, w = int(rng.integers(1, max_side)), int(rng.integers(1, max_side))
        img = smooth_image(rng, h, w, 1 if rng.random() < gray_share else 3)
        images.append(img[:, :, 0] if img.shape[2] == 1 and rng.random() < 0.5 else img)  # HW arrays too
        boxes.append(random_box(rng, h, w))
    return images, np.array(boxes, dtype=np.int32).reshape(n, 4), rng.random(n) < 0.5


@pytest.mark.parametrize("seed", range(12))
def test_native_matches_reference_on_random_batches(seed, isa):
    rng = np.random.default_rng(seed)
    images, boxes, flips = random_batch(rng, int(rng.integers(1, 6)))
    out_size = (int(rng.integers(1, 70)), int(rng.integers(1, 70)))
    got = _native.crop_resize_normalize(
        images, boxes, flips, out_size, MEAN, STD, threads=int(rng.integers(0, 3))
    )
    want = _reference.crop_resize_normalize(images, boxes, flips, out_size, MEAN, STD)
    assert got.shape == want.shape == (len(images), 3, *out_size) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(1, 48),
    st.integers(1, 48),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_native_matches_reference_for_any_scale(isa, h, w, out_h, out_w, flip, seed):
    rng = np.random.default_rng(seed)
    img = smooth_image(rng, h, w)
    box = [random_box(rng, h, w)]
    args = ([img], box, np.array([flip]), (out_h, out_w), MEAN, STD)
    np.testing.assert_allclose(
        _native.crop_resize_normalize(*args), _reference.crop_resize_normalize(*args), rtol=0, atol=ATOL
    )


def test_small_batches_split_rows_across_threads_identically(isa):
    rng = np.random.default_rng(3)
    images, boxes, flips = random_batch(rng, 1, max_side=200, gray_share=0)
    one = _native.crop_resize_normalize(images, boxes, flips, (300, 201), MEAN, STD, threads=1)
    many = _native.crop_resize_normalize(images, boxes, flips, (300, 201), MEAN, STD, threads=8)
    np.testing.assert_array_equal(one, many)


def test_flip_mirrors_the_unflipped_output(impl):
    rng = np.random.default_rng(4)
    images, boxes, _ = random_batch(rng, 3, gray_share=0)
    plain = impl.crop_resize_normalize(images, boxes, np.zeros(3, bool), (31, 45), MEAN, STD)
    flipped = impl.crop_resize_normalize(images, boxes, np.ones(3, bool), (31, 45), MEAN, STD)
    np.testing.assert_allclose(flipped, plain[..., ::-1], rtol=0, atol=1e-5)


def test_gray_images_are_replicated_or_kept_single_channel(impl, isa):
    rng = np.random.default_rng(5)
    gray = smooth_image(rng, 40, 50, 1)
    box, flip = np.array([[3, 4, 30, 41]]), np.array([True])
    as_rgb = impl.crop_resize_normalize([gray], box, flip, (20, 24), MEAN, STD)
    from_rgb = impl.crop_resize_normalize([np.repeat(gray, 3, axis=2)], box, flip, (20, 24), MEAN, STD)
    np.testing.assert_array_equal(as_rgb, from_rgb)
    single = impl.crop_resize_normalize([gray], box, flip, (20, 24), (0.5,), (0.25,))
    assert single.shape == (1, 1, 20, 24)
    np.testing.assert_allclose((single[:, 0] * 0.25 + 0.5), (as_rgb[:, 0] * STD[0] + MEAN[0]), atol=1e-5)


def test_identity_crop_reproduces_the_normalised_pixels(impl, isa):
    img = smooth_image(np.random.default_rng(6), 17, 23)
    out = impl.crop_resize_normalize([img], [[0, 0, 17, 23]], [False], (17, 23), (0, 0, 0), (1, 1, 1))
    np.testing.assert_allclose(out[0], img.transpose(2, 0, 1) / 255, rtol=0, atol=1e-6)


@pytest.mark.parametrize("std", [STD, (1e-6, 1e-6, 1e-6), (1e5, 2e5, 3e5)])  # normal, overflow, subnormal
def test_half_precision_outputs_are_the_float32_result_rounded_to_nearest_even(std, isa):
    rng = np.random.default_rng(7)
    images, boxes, flips = random_batch(rng, 4, gray_share=0)
    f32 = _native.crop_resize_normalize(images, boxes, flips, (33, 29), MEAN, std)
    f16 = _native.crop_resize_normalize(images, boxes, flips, (33, 29), MEAN, std, dtype="float16")
    bf16 = _native.crop_resize_normalize(images, boxes, flips, (33, 29), MEAN, std, dtype="bfloat16")
    assert f16.dtype == np.float16 and bf16.dtype == np.uint16
    with np.errstate(over="ignore"):  # the 1e-6 std case overflows float16 to inf on purpose
        np.testing.assert_array_equal(f16, f32.astype(np.float16))
        want16 = _reference.crop_resize_normalize(images, boxes, flips, (33, 29), MEAN, std, dtype="float16")
    np.testing.assert_array_equal(bf16, _reference.float32_to_bfloat16_bits(f32))
    np.testing.assert_allclose(f16.astype(np.float32), want16.astype(np.float32), rtol=2**-10, atol=ATOL)
    want_bf = _reference.crop_resize_normalize(images, boxes, flips, (33, 29), MEAN, std, dtype="bfloat16")
    np.testing.assert_allclose(
        kernels.bfloat16_to_float32(bf16), kernels.bfloat16_to_float32(want_bf), rtol=2**-7, atol=ATOL
    )


def test_bfloat16_rounding_matches_torch():
    values = np.random.default_rng(8).normal(0, 3, 10_000).astype(np.float32)
    values[:4] = (np.inf, -np.inf, 0.0, -0.0)
    want = torch.from_numpy(values).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(_reference.float32_to_bfloat16_bits(values), want)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_fills_caller_buffers(impl, dtype):
    rng = np.random.default_rng(9)
    images, boxes, flips = random_batch(rng, 2, gray_share=0)
    fresh = impl.crop_resize_normalize(images, boxes, flips, (12, 10), MEAN, STD, dtype=dtype)
    buf = np.empty_like(fresh)
    assert impl.crop_resize_normalize(images, boxes, flips, (12, 10), MEAN, STD, dtype=dtype, out=buf) is buf
    np.testing.assert_array_equal(buf, fresh)
    tensor = torch.empty((2, 3, 12, 10), dtype=getattr(torch, dtype))
    got = impl.crop_resize_normalize(images, boxes, flips, [12, 10], MEAN, STD, dtype=dtype, out=tensor)
    assert got is tensor
    bits = tensor.view(torch.int16).numpy().view(np.uint16) if dtype == "bfloat16" else tensor.numpy()
    np.testing.assert_array_equal(bits, fresh)


def test_empty_batch_and_nhwc_array_input(impl):
    empty = impl.crop_resize_normalize([], np.zeros((0, 4), int), np.zeros(0, bool), 8, MEAN, STD)
    assert empty.shape == (0, 3, 8, 8)
    batch = np.stack([smooth_image(np.random.default_rng(i), 20, 30) for i in range(3)])
    boxes = np.array([[0, 0, 20, 30], [5, 5, 10, 10], [1, 2, 19, 28]])
    as_array = impl.crop_resize_normalize(batch, boxes, np.zeros(3, bool), 8, MEAN, STD)
    as_list = impl.crop_resize_normalize(list(batch), boxes, np.zeros(3, bool), 8, MEAN, STD)
    np.testing.assert_array_equal(as_array, as_list)


def _torchvision_pipeline(images, boxes, flips, size, as_float):
    from torchvision.transforms.v2 import functional as F

    out = []
    for img, (top, left, h, w), flip in zip(images, boxes.tolist(), flips):
        x = torch.from_numpy(img).permute(2, 0, 1)
        x = x.float() / 255 if as_float else x
        y = F.resized_crop(x, top, left, h, w, list(size), antialias=True)
        y = F.horizontal_flip(y) if flip else y
        out.append(y.float() / 255 if not as_float else y)
    return F.normalize(torch.stack(out), list(MEAN), list(STD)).numpy()


@pytest.mark.parametrize("as_float, max_levels, mean_levels", [(True, 0.02, 0.002), (False, 1.5, 0.5)])
def test_close_to_torchvision_resized_crop_antialias(as_float, max_levels, mean_levels, isa):
    rng = np.random.default_rng(10)
    images = [smooth_image(rng, int(rng.integers(40, 130)), int(rng.integers(40, 130))) for _ in range(6)]
    boxes = np.array([random_box(rng, *img.shape[:2]) for img in images])
    boxes[0] = (0, 0, *images[0].shape[:2])  # a whole-image shrink or enlarge
    flips = rng.random(6) < 0.5
    got = kernels.crop_resize_normalize(images, boxes, flips, (56, 48), MEAN, STD)
    want = _torchvision_pipeline(images, boxes, flips, (56, 48), as_float)
    levels = np.abs(got - want) * (np.array(STD)[None, :, None, None] * 255)
    assert levels.max() <= max_levels and levels.mean() <= mean_levels, (levels.max(), levels.mean())


def test_large_batches_written_around_the_cache_are_identical(isa):
    # >= 32 MiB of float32 output takes the non-temporal store path; float16 never does.
    rng = np.random.default_rng(11)
    images = [smooth_image(rng, 12, 12) for _ in range(180)]
    boxes, flips = np.tile([0, 0, 12, 12], (180, 1)), rng.random(180) < 0.5
    f32 = _native.crop_resize_normalize(images, boxes, flips, (128, 128), MEAN, STD)
    assert f32.nbytes >= 32 << 20
    f16 = _native.crop_resize_normalize(images, boxes, flips, (128, 128), MEAN, STD, dtype="float16")
    np.testing.assert_array_equal(f16, f32.astype(np.float16))
    want = _reference.crop_resize_normalize(images[-3:], boxes[-3:], flips[-3:], (128, 128), MEAN, STD)
    np.testing.assert_allclose(f32[-3:], want, rtol=0, atol=ATOL)
