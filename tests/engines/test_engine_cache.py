"""Engine cache: keys, mismatch and missing errors, corrupt files, atomic commits, external data."""

import json
import shutil

import pytest
import torch

from genrobust_fast.engines.build import ensure_onnx, onnx_key
from genrobust_fast.engines.cache import EngineCache, EngineKey, EngineNotBuiltError, model_slug
from genrobust_fast.engines.specs import Precision
from genrobust_fast.errors import EngineMismatchError, InputError


def test_key_round_trips_and_reports_differences(tiny):
    key = onnx_key(tiny, "unet", Precision.FP32)
    assert EngineKey.from_json(json.loads(json.dumps(key.to_json()))) == key
    other = EngineKey(**{**key.__dict__, "onnx_opset": 18, "precision": "fp16"})
    assert key.digest() != other.digest()
    assert key.differences(other) == ["precision: built \"fp32\", need \"fp16\"", "onnx_opset: built 17, need 18"]
    assert model_slug(tiny) == "tiny"


def test_sidecar_describes_the_artifact(onnx_cache):
    records, problems = EngineCache(onnx_cache).records()
    assert not problems
    assert sorted(r.key.component for r in records) == [
        "image_encoder", "text_encoder", "unet", "vae_decoder", "vae_encoder"]
    unet = next(r for r in records if r.key.component == "unet")
    assert unet.files == ["unet.onnx"] and unet.bytes == unet.path.stat().st_size
    assert EngineCache(onnx_cache).verify(unet)
    assert unet.build_command.startswith("genrobust engine build --model tiny --backend onnxruntime")


def test_missing_engine_names_the_build_command(tiny, tmp_path):
    with pytest.raises(EngineNotBuiltError, match=r"build it with: genrobust engine build --model tiny "
                                                  r"--backend onnxruntime --precision fp32 --engine-dir"):
        ensure_onnx(tiny, "unet", "fp32", tmp_path)


def test_other_weights_are_a_mismatch_naming_the_rebuild(onnx_cache):
    from genrobust_fast.engines.models import build_tiny

    changed = build_tiny()
    with torch.no_grad():
        next(changed.unet.parameters()).add_(1e-3)
    with pytest.raises(EngineMismatchError, match=r"weights_sha256: built .* rebuild it with: .* --force"):
        ensure_onnx(changed, "unet", "fp32", onnx_cache)
    # the VAE is unchanged, so its engine still loads
    assert ensure_onnx(changed, "vae_decoder", "fp32", onnx_cache).key.component == "vae_decoder"


def _copy_cache(src, dst):
    shutil.copytree(src, dst)
    return dst / "tiny" / "onnx-fp32"


def test_truncated_engine_is_detected(tiny, onnx_cache, tmp_path):
    folder = _copy_cache(onnx_cache, tmp_path / "engines")
    data = (folder / "unet.onnx").read_bytes()
    (folder / "unet.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(EngineMismatchError, match="truncated or replaced"):
        ensure_onnx(tiny, "unet", "fp32", tmp_path / "engines")


def test_corrupt_engine_of_right_size_fails_to_load_clearly(tiny, onnx_cache, tmp_path):
    from genrobust_fast.engines.ort_backend import OrtRunners

    folder = _copy_cache(onnx_cache, tmp_path / "engines")
    size = (folder / "vae_decoder.onnx").stat().st_size
    (folder / "vae_decoder.onnx").write_bytes(b"\x07garbage" * (size // 8) + b"\x00" * (size % 8))
    with pytest.raises(EngineMismatchError, match="ONNX Runtime cannot load .*vae_decoder.onnx.*rebuild with"):
        OrtRunners(tiny, engine_dir=tmp_path / "engines")


def test_unreadable_sidecar_is_reported(onnx_cache, tmp_path):
    folder = _copy_cache(onnx_cache, tmp_path / "engines")
    (folder / "unet.json").write_text("{not json")
    records, problems = EngineCache(tmp_path / "engines").records()
    assert len(records) == 4 and "unet.json" in problems[0] and "unreadable" in problems[0]


def test_failed_export_leaves_nothing_half_written(tiny, tmp_path, monkeypatch):
    from genrobust_fast.engines import onnx_export

    def broken_check(path):
        raise InputError(f"simulated invalid model {path}")

    monkeypatch.setattr(onnx_export, "check_onnx", broken_check)
    with pytest.raises(InputError, match="simulated"):
        ensure_onnx(tiny, "text_encoder", "fp32", tmp_path, build=True)
    folder = tmp_path / "tiny" / "onnx-fp32"
    assert list(folder.iterdir()) == []  # no artifact, no sidecar, no staging folder


def test_force_rebuild_replaces_and_clean_removes(tiny, tmp_path):
    first = ensure_onnx(tiny, "text_encoder", "fp32", tmp_path, build=True)
    again = ensure_onnx(tiny, "text_encoder", "fp32", tmp_path, build=True)
    assert again.created == first.created  # present and matching: reused, not rebuilt
    cache = EngineCache(tmp_path)
    (tmp_path / "README.md").write_text("keep")
    assert cache.clean("tiny", dry_run=True) == [tmp_path / "tiny"]
    assert (tmp_path / "tiny").exists()
    cache.clean()
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_large_models_use_one_external_data_file(tiny, tmp_path, monkeypatch, torch_runners, rel_err):
    """Past the 2 GB protobuf limit weights go to <component>.onnx.data; forced here with a tiny limit."""
    from genrobust_fast.engines import onnx_export
    from genrobust_fast.engines.ort_backend import OrtRunners

    monkeypatch.setattr(onnx_export, "TWO_GB", 1)
    for comp in ("unet", "vae_decoder", "vae_encoder", "text_encoder", "image_encoder"):
        record = ensure_onnx(tiny, comp, "fp32", tmp_path, build=True)
        assert record.files == [f"{comp}.onnx", f"{comp}.onnx.data"]
    graph = (tmp_path / "tiny/onnx-fp32/unet.onnx").stat().st_size
    assert graph < 0.2 * (tmp_path / "tiny/onnx-fp32/unet.onnx.data").stat().st_size
    runners = OrtRunners(tiny, engine_dir=tmp_path)
    sample, t, ctx = torch.randn(2, 4, 16, 16), torch.tensor([3.0, 700.0]), torch.randn(2, 32, 32)
    assert rel_err(runners.unet(sample, t, ctx), torch_runners.unet(sample, t, ctx)) <= 1e-4
    (tmp_path / "tiny/onnx-fp32/unet.onnx.data").unlink()
    with pytest.raises(EngineMismatchError, match="unet.onnx.data' is missing"):
        ensure_onnx(tiny, "unet", "fp32", tmp_path)


def test_fp16_export_keeps_fp32_io(tiny, tmp_path):
    import onnx

    record = ensure_onnx(tiny, "vae_decoder", "fp16", tmp_path, build=True)
    assert record.sidecar.parent.name == "onnx-fp16"
    model = onnx.load(str(record.path))
    assert {i.data_type for i in model.graph.initializer if i.dims} == {onnx.TensorProto.FLOAT16}
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    with pytest.raises(InputError, match="TensorRT builds bf16/fp8 engines"):
        ensure_onnx(tiny, "vae_decoder", "bf16", tmp_path, build=True)


def test_weights_hash_ignores_half_precision_copies(tiny):
    """A runner that moved the VAE to fp16 must not make its fp32-built engines look foreign."""
    from genrobust_fast.engines.cache import component_weights_hash
    from genrobust_fast.engines.models import build_tiny

    half = build_tiny()
    half.vae.to(torch.float16).to(torch.float32)  # round-trip loses bits: must hash differently
    assert component_weights_hash(half, "vae_decoder") != component_weights_hash(tiny, "vae_decoder")
    same = build_tiny()
    same.unet.to(torch.bfloat16)
    bf16_hash = component_weights_hash(same, "unet")
    assert bf16_hash == component_weights_hash(same, "unet")  # cached
    exact = build_tiny()
    exact.unet.to(torch.bfloat16).to(torch.float32)
    assert component_weights_hash(exact, "unet") == bf16_hash
