"""to_uint8: bit-identical to diffusers' float32 postprocess, native == reference for every value, on
every instruction set this CPU supports (the `isa` fixture)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.image_processor import VaeImageProcessor

from genrobust_fast.kernels import _native, _reference


def _special_values(rng, shape):
    x = rng.uniform(-1.2, 1.2, shape).astype(np.float32)
    flat = x.reshape(-1)
    # Exact ends, signed zeros, out-of-range values and points whose * 255 lands on a .5 tie.
    ties = ((np.arange(255, dtype=np.float32) + np.float32(0.5)) / np.float32(255)) * 2 - 1
    edges = np.array([-1, 1, 0, -0.0, -3, 3, np.inf, -np.inf, 1e-30, -1e-30], dtype=np.float32)
    extra = np.concatenate(
        [edges, ties, np.nextafter(ties, np.float32(2)), np.nextafter(ties, np.float32(-2))]
    )
    flat[: len(extra)] = extra[: len(flat)]
    return x


def test_bit_identical_to_diffusers_postprocess(isa):
    x = _special_values(np.random.default_rng(0), (2, 3, 40, 37))
    pil = VaeImageProcessor.numpy_to_pil(
        VaeImageProcessor.pt_to_numpy(VaeImageProcessor.denormalize(torch.from_numpy(x)))
    )
    want = np.stack([np.asarray(p) for p in pil])
    np.testing.assert_array_equal(_native.to_uint8(x), want)
    np.testing.assert_array_equal(_reference.to_uint8(x), want)


@pytest.mark.parametrize(
    "shape",
    [
        (1, 3, 1, 1),
        (2, 3, 5, 300),
        (3, 1, 7, 9),
        (1, 4, 3, 513),
        (2, 2, 0, 4),
        (0, 3, 8, 8),
        (1, 3, 2, 16),
        (1, 3, 3, 47),
    ],
)
def test_native_matches_reference(shape, isa):
    rng = np.random.default_rng(sum(shape))
    x = (
        _special_values(rng, shape)
        if np.prod(shape) > 600
        else rng.uniform(-1.2, 1.2, shape).astype(np.float32)
    )
    x.reshape(-1)[::53] = np.nan  # NaN -> 0 in both
    got = _native.to_uint8(x, threads=2)
    assert got.shape == (shape[0], shape[2], shape[3], shape[1]) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, _reference.to_uint8(x))


def test_float16_is_widened_exactly(impl):
    x = np.random.default_rng(1).uniform(-1.1, 1.1, (2, 3, 9, 300)).astype(np.float16)
    np.testing.assert_array_equal(impl.to_uint8(x), impl.to_uint8(x.astype(np.float32)))


def test_accepts_cpu_torch_tensors(impl):
    x = torch.rand(2, 3, 4, 5) * 2 - 1
    np.testing.assert_array_equal(impl.to_uint8(x), impl.to_uint8(x.numpy()))
    np.testing.assert_array_equal(impl.to_uint8(x.half()), impl.to_uint8(x.half().numpy()))


@pytest.mark.parametrize("width", [5, 16, 47, 300])
def test_native_float16_matches_reference(width, isa):
    x = _special_values(np.random.default_rng(width), (2, 3, 4, width)).astype(np.float16)
    x.reshape(-1)[::41] = np.nan
    np.testing.assert_array_equal(_native.to_uint8(x), _reference.to_uint8(x))
