"""Derived shifts: values on inputs whose answer is known, determinism, and the folder writer."""

import numpy as np
import pytest

from genrobust_fast.demo.shifts import (
    DERIVED_SHIFTS,
    blur_noise,
    edges,
    inverted,
    occlusion,
    write_derived_shifts,
)
from genrobust_fast.errors import InputError


def square(n=2, size=32):
    img = np.zeros((n, size, size, 3), dtype=np.uint8)
    img[:, 8:24, 8:24] = 200
    return img


def test_inverted_is_255_minus_gray():
    x = square()
    np.testing.assert_array_equal(inverted(x)[..., 0], 255 - x[..., 0])


def test_edges_are_dark_strokes_on_white_only_at_the_border_of_the_square():
    e = edges(square())[0, ..., 0]
    assert e[0, 0] == 255 and e[16, 16] == 255  # flat regions: white
    assert e[8, 16] < 100 and e[23, 16] < 100  # the square's border: dark
    assert edges(np.zeros((1, 8, 8, 3), dtype=np.uint8)).min() == 255  # a blank image has no edges


def test_blur_noise_is_seeded_and_smooths():
    x = square(1)
    a, b, c = blur_noise(x, seed=1), blur_noise(x, seed=1), blur_noise(x, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    quiet = blur_noise(x, seed=1, noise=0.0)[0, ..., 0].astype(int)
    assert 0 < quiet[16, 8] < 200 and quiet[16, 16] == 200  # the border is blurred, the inside is not


def test_occlusion_paints_one_grey_square_of_the_requested_size():
    x = np.zeros((5, 32, 32, 3), dtype=np.uint8)
    out = occlusion(x, seed=0, min_frac=0.25, max_frac=0.25)
    for img in out[..., 0]:
        assert (img == 128).sum() == 8 * 8 and set(np.unique(img)) == {0, 128}
    np.testing.assert_array_equal(out, occlusion(x, seed=0, min_frac=0.25, max_frac=0.25))


def test_shifts_reject_other_shapes():
    with pytest.raises(InputError, match="uint8"):
        edges(np.zeros((2, 32, 32), dtype=np.uint8))


def test_write_derived_shifts_keeps_labels_aligned(fmnist, tmp_path):
    written = write_derived_shifts(fmnist, tmp_path / "test", per_class=1, seed=0)
    assert set(written) == {"clean", *DERIVED_SHIFTS}
    clean = sorted(p.relative_to(written["clean"]) for p in written["clean"].rglob("*.png"))
    assert len(clean) == 10
    for name in DERIVED_SHIFTS:  # the same files under the same class folders in every shift
        assert sorted(p.relative_to(written[name]) for p in written[name].rglob("*.png")) == clean
    with pytest.raises(InputError, match="unknown derived shift"):
        write_derived_shifts(fmnist, tmp_path / "x", names=("fog",))
