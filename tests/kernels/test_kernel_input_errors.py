"""Every bad argument raises the same InputError from both implementations, saying what was received."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrobust_fast.errors import InputError

IMG = np.zeros((20, 30, 3), np.uint8)
BOX = np.array([[0, 0, 20, 30]])
FLIP = np.array([False])
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def call(name, **kwargs):
    return name, kwargs


def crop(**changes):
    return call(
        "crop_resize_normalize",
        **{
            "images": [IMG],
            "boxes": BOX,
            "flips": FLIP,
            "out_size": (8, 8),
            "mean": MEAN,
            "std": STD,
            **changes,
        },
    )


def topk(**changes):
    return call(
        "hamming_topk",
        **{"queries": np.zeros(3, np.uint64), "references": np.zeros(4, np.uint64), "k": 1, **changes},
    )


CASES = {
    "images not a list": (
        crop(images=torch.zeros(1, 20, 30, 3, dtype=torch.uint8)),
        "is a Tensor; expected a list",
    ),
    "images 3-D array": (crop(images=IMG), r"3-D array of shape \(20, 30, 3\); expected a 4-D NHWC"),
    "image not an array": (crop(images=[[1, 2]]), r"images\[0\] is a list; expected a numpy uint8"),
    "image float": (crop(images=[IMG.astype(np.float32)]), r"images\[0\] has dtype float32; expected uint8"),
    "image 4 channels": (crop(images=[np.zeros((20, 30, 4), np.uint8)]), "has 4 channels.*expected 1 or 3"),
    "image 4-D": (crop(images=[np.zeros((1, 20, 30, 3), np.uint8)]), r"\(4-D\); expected HWC"),
    "image empty": (crop(images=[np.zeros((0, 30, 3), np.uint8)]), "expected height and width >= 1"),
    "image strided": (crop(images=[np.zeros((20, 60, 3), np.uint8)[:, ::2]]), "not C-contiguous"),
    "boxes shape": (crop(boxes=np.zeros((1, 3), int)), r"boxes has shape \(1, 3\); expected \(1, 4\)"),
    "boxes count": (crop(boxes=np.zeros((2, 4), int)), r"boxes has shape \(2, 4\); expected \(1, 4\)"),
    "boxes float": (crop(boxes=BOX.astype(float)), "boxes has dtype float64; expected an integer"),
    "box too tall": (
        crop(boxes=[[1, 0, 20, 30]]),
        (
            r"top=1, left=0, height=20, width=30\) is not inside "
            r"images\[0\] of size 20x30.*top \+ height <= 20"
        ),
    ),
    "box negative": (crop(boxes=[[0, -1, 5, 5]]), r"left=-1.*is not inside"),
    "box empty": (crop(boxes=[[0, 0, 0, 5]]), r"height=0.*height, width >= 1"),
    "flips int": (crop(flips=np.array([0])), r"flips has dtype int64 and shape \(1,\); expected a bool"),
    "flips count": (
        crop(flips=np.array([True, False])),
        r"shape \(2,\); expected a bool array of shape \(1,\)",
    ),
    "out_size zero": (crop(out_size=(0, 8)), r"out_size=\(0, 8\); expected \(height, width\) integers >= 1"),
    "out_size negative": (crop(out_size=-3), "out_size=-3"),
    "out_size float": (crop(out_size=(8.0, 8)), "out_size="),
    "mean length": (crop(mean=(0.5, 0.5)), r"mean=\(0.5, 0.5\); expected 1 or 3 finite numbers"),
    "mean text": (crop(mean="abc"), "mean='abc'"),
    "std zero": (crop(std=(0.2, 0.0, 0.2)), "every entry must be > 0"),
    "mean std mismatch": (crop(mean=(0.5,)), "mean has 1 entries and std 3"),
    "gray output of rgb": (crop(mean=(0.5,), std=(0.2,)), "has 3 channels but mean/std have 1 entry"),
    "dtype": (crop(dtype="int8"), "dtype='int8'; expected one of float32, float16, bfloat16"),
    "out shape": (
        crop(out=np.empty((1, 3, 8, 9), np.float32)),
        r"\(1, 3, 8, 9\); expected .* shape \(1, 3, 8, 8\)",
    ),
    "out dtype": (crop(out=np.empty((1, 3, 8, 8), np.float64)), "out has dtype float64"),
    "out bf16 dtype": (
        crop(dtype="bfloat16", out=np.empty((1, 3, 8, 8), np.float16)),
        r"dtype uint16 \(bfloat16",
    ),
    "out strided": (crop(out=np.empty((1, 3, 8, 16), np.float32)[..., ::2]), "writable C-contiguous"),
    "out read-only": (crop(out=np.broadcast_to(np.float32(0), (1, 3, 8, 8))), "writable C-contiguous"),
    "out tensor dtype": (
        crop(out=torch.empty(1, 3, 8, 8, dtype=torch.float16)),
        "expected a CPU torch.float32",
    ),
    "out tensor strided": (crop(out=torch.empty(1, 3, 8, 16)[..., ::2]), "non-contiguous tensor"),
    "threads": (crop(threads=-1), r"threads=-1; expected an integer >= 0"),
    "to_uint8 dtype": (
        call("to_uint8", images=np.zeros((1, 3, 2, 2), np.uint8)),
        "dtype uint8; expected float32",
    ),
    "to_uint8 rank": (call("to_uint8", images=np.zeros((3, 2, 2), np.float32)), r"\(3-D\); expected NCHW"),
    "to_uint8 strided": (
        call("to_uint8", images=np.zeros((1, 3, 2, 4), np.float32)[..., ::2]),
        "not C-contiguous",
    ),
    "to_uint8 list": (call("to_uint8", images=[0.0]), "is a list; expected a float32/float16"),
    "to_uint8 bf16": (
        call("to_uint8", images=torch.zeros(1, 3, 2, 2, dtype=torch.bfloat16)),
        r"call \.float\(\)",
    ),
    "to_uint8 threads": (
        call("to_uint8", images=np.zeros((1, 3, 2, 2), np.float32), threads=1.5),
        "threads=1.5",
    ),
    "phash dtype": (call("phash64", images=[np.zeros((4, 4), np.int16)]), "dtype int16; expected uint8"),
    "phash not list": (call("phash64", images="img.png"), "is a str; expected a list"),
    "topk dtype": (
        topk(queries=np.zeros(3, np.int64)),
        r"queries has dtype int64; expected uint64.*view\(np.uint64\)",
    ),
    "topk rank": (
        topk(references=np.zeros((2, 2), np.uint64)),
        r"references has shape \(2, 2\); expected 1-D",
    ),
    "topk list": (topk(queries=[1]), "queries is a list"),
    "topk strided": (topk(queries=np.zeros(6, np.uint64)[::2]), "not C-contiguous"),
    "topk k zero": (topk(k=0), r"k=0; expected an integer with 1 <= k <= len\(references\) = 4"),
    "topk k large": (topk(k=5), "k=5; expected"),
    "topk k float": (topk(k=2.0), "k=2.0; expected"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_arguments_raise_input_error(impl, case):
    (name, args), message = CASES[case]
    with pytest.raises(InputError, match=message):
        getattr(impl, name)(**args)
