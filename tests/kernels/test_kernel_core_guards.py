"""The compiled functions' own guards, called directly (genrobust_fast._core, not through the Python checks).

The Python layer validates first, so these guards only run for callers that reach _core some other
way; they must still refuse what would read or write outside the caller's arrays, before writing
anything, with a ValueError naming the argument.
"""

from __future__ import annotations

import numpy as np
import pytest

import genrobust_fast._core as core

MEAN3, STD3 = np.full(3, 0.5, np.float32), np.full(3, 0.25, np.float32)
SENTINEL = -7.0


def crop_args(**changes):
    args = {
        "images": [np.zeros((20, 30, 3), np.uint8)],
        "boxes": np.array([[0, 0, 20, 30]], np.int64),
        "flips": np.zeros(1, bool),
        "out_h": 8,
        "out_w": 8,
        "mean": MEAN3,
        "std": STD3,
        "dtype": "float32",
        "out": np.full((1, 3, 8, 8), SENTINEL, np.float32),
        "threads": 1,
    }
    args.update(changes)
    return args


CROP_CASES = {
    "box below the image": (
        crop_args(boxes=np.array([[1, 0, 20, 30]], np.int64)),
        "box 0 is outside its image",
    ),
    "box right of the image": (
        crop_args(boxes=np.array([[0, 25, 10, 6]], np.int64)),
        "box 0 is outside its image",
    ),
    "box at a negative left": (
        crop_args(boxes=np.array([[0, -1, 5, 5]], np.int64)),
        "box 0 is outside its image",
    ),
    "empty box": (crop_args(boxes=np.array([[0, 0, 0, 5]], np.int64)), "box 0 is outside its image"),
    "two-channel image": (
        crop_args(images=[np.zeros((20, 30, 2), np.uint8)]),
        "image 0 has a bad channel count",
    ),
    "four-channel image": (
        crop_args(images=[np.zeros((20, 30, 4), np.uint8)]),
        "image 0 has a bad channel count",
    ),
    "rgb image, gray output": (
        crop_args(mean=MEAN3[:1], std=STD3[:1], out=np.full((1, 1, 8, 8), SENTINEL, np.float32)),
        "image 0 has a bad channel count",
    ),
    "two output channels": (
        crop_args(mean=MEAN3[:2], std=STD3[:2], out=np.full((1, 2, 8, 8), SENTINEL, np.float32)),
        "mean and std must be float32 arrays of 1 or 3 entries",
    ),
    "second image's box": (
        crop_args(
            images=[np.zeros((20, 30, 3), np.uint8), np.zeros((5, 5), np.uint8)],
            boxes=np.array([[0, 0, 20, 30], [0, 0, 6, 5]], np.int64),
            flips=np.zeros(2, bool),
            out=np.full((2, 3, 8, 8), SENTINEL, np.float32),
        ),
        "box 1 is outside its image",
    ),
    "image not an array": (crop_args(images=[[[1, 2, 3]]]), "images must be numpy arrays"),
    "float image": (
        crop_args(images=[np.zeros((20, 30, 3), np.float32)]),
        "images must be C-contiguous uint8 HWC",
    ),
    "strided image": (
        crop_args(images=[np.zeros((20, 60, 3), np.uint8)[:, ::2]]),
        "must be C-contiguous uint8",
    ),
    "boxes int32": (
        crop_args(boxes=np.array([[0, 0, 20, 30]], np.int32)),
        "boxes must be a C-contiguous int64",
    ),
    "flips count": (crop_args(flips=np.zeros(2, bool)), "flips must be a C-contiguous bool"),
    "out too small": (
        crop_args(out=np.full((1, 3, 8, 7), SENTINEL, np.float32)),
        r"out must be a writable C-contiguous",
    ),
    "out read-only": (crop_args(out=np.broadcast_to(np.float32(0), (1, 3, 8, 8))), "out must be a writable"),
    "out dtype": (crop_args(out=np.zeros((1, 3, 8, 8), np.float64)), "out must be float32"),
    "half out with 4-byte items": (crop_args(dtype="float16"), "out must have 2-byte items for float16"),
    "unknown dtype": (crop_args(dtype="int8"), "dtype must be float32, float16 or bfloat16"),
    "zero output height": (
        crop_args(out_h=0, out=np.zeros((1, 3, 0, 8), np.float32)),
        "bad batch, output size",
    ),
}


@pytest.mark.parametrize("case", sorted(CROP_CASES))
def test_crop_resize_normalize_guards(case):
    args, message = CROP_CASES[case]
    with pytest.raises(ValueError, match=message):
        core.crop_resize_normalize(**args)
    out = args["out"]
    if out.flags.writeable and out.dtype == np.float32:
        assert np.all(out == SENTINEL)  # refused before writing anything


def test_crop_guards_accept_the_valid_call_they_are_built_from(isa):
    args = crop_args()
    core.crop_resize_normalize(**args)
    np.testing.assert_allclose(args["out"], -2.0)  # (0 / 255 - 0.5) / 0.25


@pytest.mark.parametrize(
    "images, out, message",
    [
        (
            np.zeros((1, 3, 4, 4), np.int32),
            np.zeros((1, 4, 4, 3), np.uint8),
            "images must be a C-contiguous float32",
        ),
        (
            np.zeros((3, 4, 4), np.float32),
            np.zeros((1, 4, 4, 3), np.uint8),
            "images must be a C-contiguous float32",
        ),
        (
            np.zeros((1, 3, 4, 4), np.float32),
            np.zeros((1, 3, 4, 4), np.uint8),
            "out must be a writable C-contiguous",
        ),
        (
            np.zeros((1, 3, 4, 4), np.float32),
            np.zeros((1, 4, 4, 3), np.int8),
            "out must be a writable C-contiguous",
        ),
        (
            np.zeros((2, 3, 4, 4), np.float32),
            np.zeros((1, 4, 4, 3), np.uint8),
            "out must be a writable C-contiguous",
        ),
    ],
)
def test_to_uint8_guards(images, out, message):
    with pytest.raises(ValueError, match=message):
        core.to_uint8(images, out, 1)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((10, 10, 2), np.uint8), "phash64: image 0 has a bad shape"),
        (np.zeros((0, 10, 3), np.uint8), "phash64: image 0 has a bad shape"),
        (np.zeros((10, 10, 3), np.float64), "phash64: images must be C-contiguous uint8"),
    ],
)
def test_phash64_guards(image, message):
    out = np.zeros(1, np.uint64)
    with pytest.raises(ValueError, match=message):
        core.phash64([image], out, 1)
    with pytest.raises(ValueError, match="out must be a writable uint64"):
        core.phash64([np.zeros((4, 4, 3), np.uint8)], np.zeros(2, np.uint64), 1)


def test_hamming_topk_guards():
    q, r = np.zeros(3, np.uint64), np.zeros(4, np.uint64)

    def call(k=2, indices=None, distances=None, variant=0, queries=q):
        idx = np.zeros((3, k), np.int64) if indices is None else indices
        dist = np.zeros((3, k), np.int32) if distances is None else distances
        core.hamming_topk(queries, r, k, idx, dist, 1, variant)

    with pytest.raises(ValueError, match=r"need 1 <= k <= len\(references\)"):
        call(k=5)
    with pytest.raises(ValueError, match=r"need 1 <= k <= len\(references\)"):
        call(k=0)
    with pytest.raises(ValueError, match="variant must be 0..3"):
        call(variant=4)
    with pytest.raises(
        ValueError, match=r"indices \(int64\) and distances \(int32\) must be writable \(Q, k\)"
    ):
        call(indices=np.zeros((2, 2), np.int64))
    with pytest.raises(ValueError, match="queries and references must be C-contiguous uint64"):
        call(queries=np.zeros(3, np.int64))
    if not core.has_avx512_popcount():
        with pytest.raises(ValueError, match="lacks the requested popcount instructions"):
            call(variant=3)
