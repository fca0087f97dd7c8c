"""Renditions: values on inputs whose answer is known, determinism, the sets, and the folder writer."""

import json

import numpy as np
import pytest

from genrobust_fast.demo.shifts import (
    GENERATOR_RENDITIONS,
    HELD_OUT,
    RENDITIONS,
    TEST_SHIFTS,
    blurry,
    generator_templates,
    negative,
    pixelated,
    sketch,
    write_test_shifts,
)
from genrobust_fast.errors import InputError


def square(n=2, size=32, level=200):
    img = np.zeros((n, size, size, 3), dtype=np.uint8)
    img[:, 8:24, 8:24] = level
    return img


def test_negative_inverts_the_garment_and_keeps_the_background_black():
    out = negative(square())[0, ..., 0]
    assert out[16, 16] == 255 - 200 and out[0, 0] == 0
    faint = square(level=10)  # below the foreground level: background, stays black
    assert negative(faint).max() == 0


def test_sketch_is_bright_strokes_on_black_only_at_the_border_of_the_square():
    e = sketch(square())[0, ..., 0]
    assert e[0, 0] == 0 and e[16, 16] == 0  # flat regions: black
    assert e[8, 16] > 150 and e[23, 16] > 150  # the square's border: bright
    assert sketch(np.zeros((1, 8, 8, 3), dtype=np.uint8)).max() == 0  # a blank image has no strokes


def test_blurry_is_seeded_and_smooths():
    x = square(1)
    a, b, c = blurry(x, seed=1), blurry(x, seed=1), blurry(x, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    quiet = blurry(x, seed=1, noise=0.0)[0, ..., 0].astype(int)
    assert 0 < quiet[16, 8] < 200 and quiet[16, 16] == 200  # the border is blurred, the inside is not


def test_pixelated_averages_blocks():
    x = np.zeros((1, 8, 8, 3), dtype=np.uint8)
    x[0, 0, 0] = 160  # one bright pixel in the first 4x4 block
    out = pixelated(x)[0, ..., 0]
    assert (out[:4, :4] == 10).all() and out[4:].max() == 0 and out[:, 4:].max() == 0
    with pytest.raises(InputError, match="divisible by 4"):
        pixelated(np.zeros((1, 6, 6, 3), dtype=np.uint8))


def test_shifts_reject_other_shapes():
    with pytest.raises(InputError, match="uint8"):
        sketch(np.zeros((2, 32, 32), dtype=np.uint8))


def test_the_held_out_rendition_is_a_test_shift_the_generator_never_sees():
    assert set(HELD_OUT) <= set(TEST_SHIFTS) and not set(HELD_OUT) & set(GENERATOR_RENDITIONS)
    assert "photo" in GENERATOR_RENDITIONS and "photo" not in TEST_SHIFTS
    templates = generator_templates()
    assert all(t.count("{}") == 1 for t in templates)
    assert not any("pixelated" in t for t in templates)
    # Each rendition's captions name it, so prompts can call it up.
    for name in ("sketch", "negative", "blurry", "pixelated"):
        words = {"sketch": ("sketch", "drawing", "doodle"), "negative": ("negative", "inverted")}
        words |= {"blurry": ("blurry", "out of focus"), "pixelated": ("pixelated",)}
        assert all(any(w in t for w in words[name]) for t in RENDITIONS[name].templates), name


def test_write_test_shifts_keeps_labels_aligned(fmnist, tmp_path):
    written = write_test_shifts(fmnist, tmp_path / "test", per_class=1, seed=0)
    assert set(written) == {"clean", *TEST_SHIFTS}
    clean = sorted(p.relative_to(written["clean"]) for p in written["clean"].rglob("*.png"))
    assert len(clean) == 10
    for name in TEST_SHIFTS:  # the same files under the same class folders in every shift
        assert sorted(p.relative_to(written[name]) for p in written[name].rglob("*.png")) == clean
        marker = json.loads((written[name] / "_complete.json").read_text())
        assert marker["source"]["in_generator_world"] == (name in GENERATOR_RENDITIONS)
    with pytest.raises(InputError, match="unknown test shift"):
        write_test_shifts(fmnist, tmp_path / "x", names=("fog",))
