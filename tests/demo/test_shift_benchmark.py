"""The test shifts: known answers, independence from the generator's world, measured distances."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest

import genrobust_fast.demo as demo_pkg
from genrobust_fast.demo import shift_benchmark, shifts
from genrobust_fast.demo.fashion_mnist import DEFAULT_ROOT
from genrobust_fast.demo.shift_benchmark import (
    HELD_OUT,
    KNOWN,
    TEST_SHIFTS,
    blurry,
    negative,
    occluded,
    silhouette,
    sketch,
    write_test_shifts,
)
from genrobust_fast.errors import InputError

ROOT = Path(demo_pkg.__file__).parents[2]


def square(n=2, size=32, level=200):
    img = np.zeros((n, size, size, 3), dtype=np.uint8)
    img[:, 8:24, 8:24] = level
    return img


def test_sketch_is_flat_pen_strokes_at_the_border_over_a_light_wash():
    e = sketch(square())[0, ..., 0]
    assert e[0, 0] == 0 and e[16, 16] == 70  # background black, the garment's inside a light wash
    assert e[8, 16] == 230 and e[23, 16] == 230 and set(np.unique(e)) == {0, 70, 230}
    assert sketch(np.zeros((1, 8, 8, 3), dtype=np.uint8)).max() == 0


def test_negative_inverts_on_a_curve_and_keeps_the_background_black():
    out = negative(square())[0, ..., 0]
    assert out[16, 16] == round(40 + 215 * (1 - np.sqrt(200 / 255))) and out[0, 0] == 0
    assert negative(square(level=30)).max() == 0  # below the garment level: background


def test_blurry_is_a_seeded_line_blur_without_noise():
    x = square(8)
    a, b = blurry(x, seed=1), blurry(x, seed=1)
    np.testing.assert_array_equal(a, b)
    assert (a[:, 16, 16] == 200).all()  # the inside of the square is unchanged: no noise
    assert (a[:, 2, 16] == 0).all()  # more than 4 pixels from the square: black
    # Each image is smeared along one line: a horizontal blur leaves rows above the square black.
    directions = {(img[7, 16, 0] > 0, img[16, 7, 0] > 0) for img in blurry(square(32), seed=3)}
    assert {(False, True), (True, False)} <= directions


def test_silhouette_and_occluded():
    s = silhouette(square())[0, ..., 0]
    assert s[16, 16] == 200 and s[0, 0] == 0 and set(np.unique(s)) == {0, 200}
    x = square(4, level=150)
    o = occluded(x, seed=2)[..., 0]
    for img in o:
        hole = (img == 0) & (x[0, ..., 0] == 150)
        assert 0 < hole.sum() <= 144  # a square of at most 12x12 pixels, cut out of the garment
    np.testing.assert_array_equal(occluded(x, seed=2), occluded(x, seed=2))


def test_shifts_reject_other_shapes():
    for transform in TEST_SHIFTS.values():
        with pytest.raises(InputError, match="uint8"):
            transform(np.zeros((2, 32, 32), dtype=np.uint8))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names |= {node.module or "", *(a.name for a in node.names)}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


def test_the_generators_world_and_the_test_shifts_share_no_code():
    generator_side = [
        ROOT / "genrobust_fast/demo/generator.py",
        ROOT / "genrobust_fast/demo/shifts.py",
        ROOT / "genrobust_fast/demo/generator_check.py",
        ROOT / "genrobust_fast/demo/holdout.py",
        ROOT / "scripts/train_demo_generator.py",
    ]
    for path in generator_side:
        assert not any("shift_benchmark" in name for name in _imports(path)), path
    mine = _imports(Path(shift_benchmark.__file__))
    assert not any(name in mine for name in ("shifts", "generator", "generator_check", "holdout")), mine
    assert set(KNOWN) < set(shifts.GENERATOR_RENDITIONS) and not set(HELD_OUT) & set(shifts.RENDITIONS)


@pytest.fixture(scope="module")
def clean_test_images():
    if not (DEFAULT_ROOT / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST is not installed (`make test` installs it)")
    from genrobust_fast.demo.fashion_mnist import read_idx_split, select_per_class, to_rgb32

    images, labels = read_idx_split(DEFAULT_ROOT, "test")
    return to_rgb32(images[select_per_class(labels, 30, seed=0)])


def rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image RMS difference in grey levels."""
    grey = lambda x: x.astype(np.float32).mean(axis=-1)  # noqa: E731
    return np.sqrt(((grey(a) - grey(b)) ** 2).mean(axis=(1, 2)))


def test_each_test_shift_differs_from_the_generators_rendition_of_the_same_kind(clean_test_images):
    x = clean_test_images
    for kind in KNOWN:
        mine = TEST_SHIFTS[kind](x, seed=5)
        theirs, redrawn = (shifts.RENDITIONS[kind].transform(x, seed=s) for s in (1, 2))
        apart = rms(mine, theirs).mean()
        # The generator's own redraws differ only by its noise (blurry); the test shift is farther.
        assert apart >= 20 and apart >= 1.5 * rms(theirs, redrawn).mean(), (kind, apart)


def closest_is_clean(transform, x) -> bool:
    """Whether `transform`'s images are, on average and for most images, no closer to any known
    rendition of the same image (the generator's or the test shifts') than to the clean image."""
    shifted = transform(x, seed=7)
    to_clean = rms(shifted, x)
    for kind in KNOWN:
        for known in (shifts.RENDITIONS[kind].transform(x, seed=1), TEST_SHIFTS[kind](x, seed=1)):
            to_known = rms(shifted, known)
            if to_known.mean() < to_clean.mean() or (to_known < to_clean).mean() > 0.5:
                return False
    return True


def test_held_out_shifts_are_no_neighbour_of_a_known_rendition(clean_test_images):
    for kind in HELD_OUT:
        assert closest_is_clean(TEST_SHIFTS[kind], clean_test_images), kind


def test_the_measurement_catches_a_neighbour(clean_test_images):
    def pixelated(images, seed=0, block=4):  # the former held-out shift: a neighbour of blurry
        n, h, w, c = images.shape
        means = images.reshape(n, h // block, block, w // block, block, c).mean(axis=(2, 4))
        return np.repeat(np.repeat(means, block, 1), block, 2).round().astype(np.uint8)

    assert not closest_is_clean(pixelated, clean_test_images)


def test_write_test_shifts_keeps_labels_aligned(fmnist, tmp_path):
    written = write_test_shifts(fmnist, tmp_path / "test", per_class=1, seed=0)
    assert set(written) == {"clean", *TEST_SHIFTS}
    clean = sorted(p.relative_to(written["clean"]) for p in written["clean"].rglob("*.png"))
    assert len(clean) == 10
    for name in TEST_SHIFTS:  # the same files under the same class folders in every shift
        assert sorted(p.relative_to(written[name]) for p in written[name].rglob("*.png")) == clean
        marker = json.loads((written[name] / "_complete.json").read_text())
        assert marker["source"]["kind_known_to_generator"] == (name in KNOWN)
    with pytest.raises(InputError, match="unknown test shift"):
        write_test_shifts(fmnist, tmp_path / "x", names=("fog",))
