"""The compiled extension must be there: these fail (never skip) when the C++ build did not happen."""

import genrobust_fast._core as core  # an ImportError here means: rebuild with pip install -e .
from genrobust_fast import kernels


def test_extension_exposes_every_kernel():
    for name in (
        "crop_resize_normalize",
        "to_uint8",
        "phash64",
        "hamming_topk",
        "has_openmp",
        "default_thread_count",
    ):
        assert callable(getattr(core, name)), name
    assert core.default_thread_count() >= 1


def test_auto_selects_native_when_built():
    assert kernels.active_implementation() == "native"
    report = kernels.implementation_report()
    assert report["implementation"] == "native"
    assert report["openmp"] == bool(core.has_openmp())
    assert report["threads"] == core.default_thread_count()
