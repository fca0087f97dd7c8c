"""TensorRT logic that runs without TensorRT: precision checks, build plans, keys, profile checks."""

import sys
from pathlib import Path

import pytest

from genrobust_fast.engines.cache import EngineCache
from genrobust_fast.engines.specs import Precision, ShapeProfile, component_specs
from genrobust_fast.engines.trt_build import check_precision, make_build_plan, variant_name
from genrobust_fast.engines.trt_runtime import check_shapes
from genrobust_fast.errors import BackendUnavailableError, EngineMismatchError, InputError


def _plan(tiny, precision=Precision.FP16, batch=(1, 2, 4), size=(32, 32), refittable=False, typing="weak"):
    spec = component_specs(tiny)["unet"]
    return make_build_plan(
        spec,
        ShapeProfile(batch=batch, size=size),
        precision,
        tiny.default_size,
        32,
        Path("unet.onnx"),
        Path("engines/timing-caches/x.cache"),
        refittable,
        typing=typing,
    )


def test_precision_needs_compute_capability():
    check_precision(Precision.FP16, (7, 0))
    check_precision(Precision.FP8, (9, 0))
    with pytest.raises(
        BackendUnavailableError, match="bf16 needs compute capability 8.0\\+, this GPU has 7.5"
    ):
        check_precision(Precision.BF16, (7, 5))
    with pytest.raises(BackendUnavailableError, match="fp8 needs compute capability 8.9"):
        check_precision(Precision.FP8, (8, 0))


def test_build_plan_flags_and_profiles(tiny):
    plan = _plan(tiny, Precision.FP16)
    assert plan.builder_flags == ("FP16",) and plan.cleared_flags == ()
    assert plan.profiles["sample"] == ((2, 4, 16, 16), (4, 4, 16, 16), (8, 4, 16, 16))
    assert not plan.static
    fp32 = _plan(tiny, Precision.FP32, batch=(2, 2, 2), refittable=True)
    assert fp32.builder_flags == ("REFIT",) and fp32.cleared_flags == ("TF32",)
    assert fp32.static and fp32.key_flags() == ("REFIT", "!TF32", "STATIC")


def test_tensorrt_11_plans_are_strongly_typed_from_an_onnx_of_that_precision(tiny):
    """TensorRT 11 has no precision flags: the fp16 engine comes from the fp16 graph, and the key says so."""
    strong = _plan(tiny, Precision.FP16, typing="strong")
    assert strong.builder_flags == () and strong.strongly_typed and strong.onnx_precision is Precision.FP16
    assert strong.key_flags() == ("STRONGLY_TYPED", "ONNX_FP16")
    weak = _plan(tiny, Precision.FP16, typing="weak")
    assert weak.onnx_precision is Precision.FP32 and weak.key_flags() == ("FP16",)
    assert strong.key("w" * 64, "11.3.0", "9.0", 17).differences(weak.key("w" * 64, "11.3.0", "9.0", 17)) == [
        'builder_flags: built ["STRONGLY_TYPED", "ONNX_FP16"], need ["FP16"]'
    ]
    assert _plan(tiny, Precision.FP32, typing="strong").key_flags() == (
        "!TF32",
        "STRONGLY_TYPED",
        "ONNX_FP32",
    )
    with pytest.raises(
        BackendUnavailableError, match=r"bf16 engine needs a bf16 ONNX graph.*--precision fp16"
    ):
        _plan(tiny, Precision.BF16, typing="strong")
    assert _plan(tiny, Precision.BF16, typing="weak").builder_flags == ("BF16",)


def test_fp8_is_refused_until_a_quantised_graph_exists(tiny):
    for typing in ("weak", "strong"):
        with pytest.raises(
            BackendUnavailableError, match=r"fp8 needs an fp8-quantised ONNX graph.*--precision fp16"
        ):
            _plan(tiny, Precision.FP8, typing=typing)


def test_key_covers_gpu_version_and_profile(tiny):
    key = _plan(tiny).key("w" * 64, "10.9.0", "9.0", 17)
    assert key.profiles["timestep"] == [[2], [4], [8]]
    other_gpu = _plan(tiny).key("w" * 64, "10.9.0", "8.6", 17)
    other_trt = _plan(tiny).key("w" * 64, "10.10.0", "9.0", 17)
    other_shape = _plan(tiny, batch=(1, 2, 8)).key("w" * 64, "10.9.0", "9.0", 17)
    assert key.differences(other_gpu) == ['compute_capability: built "9.0", need "8.6"']
    assert key.differences(other_trt) == ['tensorrt_version: built "10.9.0", need "10.10.0"']
    assert [d.split(":")[0] for d in key.differences(other_shape)] == ["profiles"]


def test_mismatched_plan_on_disk_is_an_error_naming_the_rebuild(tiny, tmp_path):
    """A plan built on another GPU must not be loaded: the cache compares the sidecar key."""
    cache = EngineCache(tmp_path)
    folder = cache.entry_dir("tiny", variant_name(Precision.FP16, ShapeProfile(batch=(1, 2, 4)), (32, 32)))
    assert folder.name == "tensorrt-fp16-b1-2-4_32x32"
    staged = tmp_path / "staged.plan"
    staged.write_bytes(b"serialized engine bytes")
    built = _plan(tiny).key("w" * 64, "10.9.0", "8.6", 17)
    cache.commit(folder, built, {"unet.plan": staged}, model="tiny", model_id="builtin:tiny", build_cmd="x y")
    wanted = _plan(tiny).key("w" * 64, "10.9.0", "9.0", 17)
    with pytest.raises(
        EngineMismatchError, match=r"compute_capability: built \"8.6\", need \"9.0\".*REBUILD"
    ):
        cache.load(folder, wanted, "REBUILD")
    assert cache.load(folder, built, "REBUILD").files == ["unet.plan"]


def test_shapes_outside_the_profile_are_rejected(tiny):
    plan = _plan(tiny)
    ok = {"sample": (4, 4, 16, 16), "timestep": (4,), "encoder_hidden_states": (4, 32, 32)}
    check_shapes("unet", plan.profiles, ok, "cmd")
    with pytest.raises(
        InputError,
        match=r"unet.sample has shape \(16, 4, 16, 16\), outside .*\(8, 4, 16, 16\); "
        r"rebuild .*: cmd",
    ):
        check_shapes("unet", plan.profiles, {**ok, "sample": (16, 4, 16, 16)}, "cmd")


def test_tensorrt_calls_without_tensorrt_say_how_to_install(tiny, tmp_path, monkeypatch):
    from genrobust_fast.engines.trt_build import build_engine

    monkeypatch.setitem(sys.modules, "tensorrt", None)  # as on a machine without it, wherever this runs
    with pytest.raises(BackendUnavailableError, match=r"pip install 'genrobust-fast\[tensorrt\]'"):
        build_engine(_plan(tiny), tmp_path / "unet.plan")
    assert not (tmp_path / "unet.plan").exists()
