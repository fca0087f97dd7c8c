"""GENROBUST_KERNELS: native, reference and auto, including a native build that cannot load."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from genrobust_fast import kernels
from genrobust_fast.errors import ConfigError, KernelUnavailableError
from genrobust_fast.kernels import _native


@pytest.fixture
def broken_native(monkeypatch):
    """The extension import fails as it would after a checkout without a build."""

    def fail():
        raise ImportError("cannot import name '_core' from 'genrobust_fast'")

    monkeypatch.setattr(_native, "_import_core", fail)
    monkeypatch.setattr(kernels, "_logged_fallback", set())
    _native.reset()


def _x():
    return np.zeros((1, 3, 2, 2), np.float32)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("native", "native"),
        ("reference", "reference"),
        ("auto", "native"),
        ("", "native"),
        (" Reference ", "reference"),
    ],
)
def test_variable_selects_the_implementation_at_call_time(monkeypatch, value, expected):
    monkeypatch.setenv("GENROBUST_KERNELS", value)
    assert kernels.active_implementation() == expected
    report = kernels.implementation_report()
    assert report["implementation"] == expected
    assert set(report) == {"implementation", "reason", "openmp", "threads", "isa", "supported_isas"}
    assert report["threads"] >= 1
    assert (report["isa"] in report["supported_isas"]) if expected == "native" else report["isa"] is None
    np.testing.assert_array_equal(kernels.to_uint8(_x()), np.full((1, 2, 2, 3), 128, np.uint8))


def test_reference_is_used_when_asked(monkeypatch):
    monkeypatch.setenv("GENROBUST_KERNELS", "reference")
    calls = []
    monkeypatch.setattr(kernels._reference, "phash64", lambda images, threads=0: calls.append(1))
    kernels.phash64([np.zeros((4, 4, 3), np.uint8)])
    assert calls == [1]


def test_native_that_cannot_load_is_an_error_naming_the_fix(monkeypatch, broken_native):
    monkeypatch.setenv("GENROBUST_KERNELS", "native")
    with pytest.raises(KernelUnavailableError, match=r"cannot import name '_core'.*pip install .*-e \."):
        kernels.to_uint8(_x())
    with pytest.raises(KernelUnavailableError, match="make install"):
        kernels.implementation_report()


def test_auto_falls_back_to_the_reference_with_one_log_line(monkeypatch, broken_native, caplog):
    monkeypatch.setenv("GENROBUST_KERNELS", "auto")
    with caplog.at_level(logging.WARNING, logger="genrobust_fast.kernels"):
        for _ in range(3):
            np.testing.assert_array_equal(kernels.to_uint8(_x()), np.full((1, 2, 2, 3), 128, np.uint8))
        assert kernels.active_implementation() == "reference"
    records = [r for r in caplog.records if r.name == "genrobust_fast.kernels"]
    assert len(records) == 1 and "NumPy reference" in records[0].getMessage()
    report = kernels.implementation_report()
    assert report["implementation"] == "reference" and "cannot import" in report["reason"]


def test_unknown_value_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("GENROBUST_KERNELS", "fast")
    with pytest.raises(ConfigError, match="auto, native, reference"):
        kernels.active_implementation()
