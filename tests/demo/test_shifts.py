"""The generator's renditions: values on inputs whose answer is known, determinism, the templates."""

import numpy as np
import pytest

from genrobust_fast.demo.shifts import (
    GENERATOR_RENDITIONS,
    RENDITIONS,
    blurry,
    generator_templates,
    negative,
    sketch,
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


def test_shifts_reject_other_shapes():
    with pytest.raises(InputError, match="uint8"):
        sketch(np.zeros((2, 32, 32), dtype=np.uint8))


def test_the_templates_name_only_the_renditions_the_generator_draws():
    assert "photo" in GENERATOR_RENDITIONS and set(RENDITIONS) == set(GENERATOR_RENDITIONS)
    templates = generator_templates()
    assert all(t.count("{}") == 1 for t in templates)
    # Each rendition's captions name it, so prompts can call it up.
    words = {"sketch": ("sketch", "drawing", "doodle"), "negative": ("negative", "inverted")}
    words |= {"blurry": ("blurry", "out of focus")}
    for name, named_by in words.items():
        templates = RENDITIONS[name].templates
        assert templates and all(any(w in t for w in named_by) for t in templates), name
