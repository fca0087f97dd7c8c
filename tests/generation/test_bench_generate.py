"""The generation benchmark's correctness gate: parity with diffusers is checked before anything is timed."""

import pytest

from genrobust_fast.bench.generate import _parity_tolerance, run_generate_benchmark


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_benchmark_checks_parity_then_reports_ratios(tmp_path, backend):
    result = run_generate_benchmark(
        model="tiny",
        images=4,
        steps=2,
        batch=2,
        backend=backend,
        quick=True,
        engine_dir=str(tmp_path / "engines"),
    )
    assert result["backend"] == backend and result["precision"] == "fp32"
    assert result["parity_max_abs_diff_vs_diffusers"] <= result["parity_tolerance"]
    assert result["speedup_vs_diffusers"] > 0 and result["unet_bound_images_per_s"] > 0
    assert set(result["ours_stage_seconds"]) >= {"unet", "decode", "encode_write"}


def test_only_fp32_runs_are_refused_on_a_pixel_difference():
    assert _parity_tolerance("torch", "fp32") == 1
    assert _parity_tolerance("tensorrt", "fp32") == 2
    assert _parity_tolerance("tensorrt", "fp16") is None
