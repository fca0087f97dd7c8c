"""Engine cache: keys, mismatch and missing errors, corrupt files, atomic commits, external data."""

import json
import shutil

import pytest
import torch

from genrobust_fast.engines.cache import (
    EngineCache,
    EngineKey,
    EngineNotBuiltError,
    file_identity,
    model_slug,
)
from genrobust_fast.engines.compare import relative_error
from genrobust_fast.engines.onnx_build import ensure_onnx, onnx_key
from genrobust_fast.engines.specs import Precision
from genrobust_fast.errors import EngineMismatchError, InputError
from genrobust_fast.outlock import lock_path


def test_key_round_trips_and_reports_differences(tiny):
    key = onnx_key(tiny, "unet", Precision.FP32)
    assert EngineKey.from_json(json.loads(json.dumps(key.to_json()))) == key
    other = EngineKey(**{**key.__dict__, "onnx_opset": 18, "precision": "fp16"})
    assert key.digest() != other.digest()
    assert key.differences(other) == ['precision: built "fp32", need "fp16"', "onnx_opset: built 17, need 18"]


def test_one_slug_names_a_model_folder_however_its_path_is_written(tmp_path, monkeypatch):
    folder = tmp_path / "models" / "sd15"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder.parent)
    slug = model_slug(str(folder))
    assert slug.startswith("sd15-") and model_slug("sd15") == model_slug("./sd15/") == slug
    assert model_slug(str(tmp_path / "elsewhere" / "sd15")) != slug  # same name, another model
    assert model_slug("tiny") == "tiny"  # built-in models are their own folder names


def test_sidecar_describes_the_artifact(onnx_cache):
    records, problems = EngineCache(onnx_cache).records()
    assert not problems
    assert sorted(r.key.component for r in records) == [
        "image_encoder",
        "text_encoder",
        "unet",
        "vae_decoder",
        "vae_encoder",
    ]
    unet = next(r for r in records if r.key.component == "unet")
    assert unet.files == ["unet.onnx"] and unet.bytes == unet.path.stat().st_size
    assert EngineCache(onnx_cache).verify(unet)
    assert unet.build_command.startswith("genrobust engine build --model tiny --backend onnxruntime")


def test_missing_engine_names_the_build_command(tiny, tmp_path):
    with pytest.raises(
        EngineNotBuiltError,
        match=r"build it with: genrobust engine build --model tiny "
        r"--backend onnxruntime --precision fp32 --engine-dir",
    ):
        ensure_onnx(tiny, "unet", Precision.FP32, tmp_path)


def test_other_weights_are_a_mismatch_naming_the_rebuild(onnx_cache):
    from genrobust_fast.engines.builtin import build_tiny

    changed = build_tiny()
    with torch.no_grad():
        next(changed.unet.parameters()).add_(1e-3)
    with pytest.raises(EngineMismatchError, match=r"weights_sha256: built .* rebuild it with: .* --force"):
        ensure_onnx(changed, "unet", Precision.FP32, onnx_cache)
    # the VAE is unchanged, so its engine still loads
    assert ensure_onnx(changed, "vae_decoder", Precision.FP32, onnx_cache).key.component == "vae_decoder"


def _copy_cache(src, dst):
    shutil.copytree(src, dst)
    return dst / "tiny" / "onnx-fp32"


def test_truncated_engine_is_detected(tiny, onnx_cache, tmp_path):
    folder = _copy_cache(onnx_cache, tmp_path / "engines")
    data = (folder / "unet.onnx").read_bytes()
    (folder / "unet.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(EngineMismatchError, match="truncated or replaced"):
        ensure_onnx(tiny, "unet", Precision.FP32, tmp_path / "engines")


def test_damaged_engine_of_right_size_is_refused_before_use(tiny, onnx_cache, tmp_path):
    """Issue 17: other bytes of the same size are caught at load, before any session is made."""
    from genrobust_fast.engines.ort_backend import OrtRunners

    folder = _copy_cache(onnx_cache, tmp_path / "engines")
    path = folder / "vae_decoder.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the weights: ONNX Runtime would load it happily
    path.write_bytes(bytes(data))
    with pytest.raises(
        EngineMismatchError,
        match=r"vae_decoder.onnx' is not the file that was built.*rebuild it "
        r"with: genrobust engine build --model tiny .*--engine-dir",
    ):
        OrtRunners(tiny, engine_dir=tmp_path / "engines")


def test_large_engines_are_rehashed_only_when_their_file_identity_changes(
    tiny, onnx_cache, tmp_path, monkeypatch
):
    """Past ALWAYS_HASH_BELOW a load is a stat while size/mtime/ctime/inode match the sidecar; any change
    (copy, rewrite, touch) means one re-hash, then the new identity is recorded."""
    import os

    from genrobust_fast.engines import cache as cache_module

    monkeypatch.setattr(cache_module, "ALWAYS_HASH_BELOW", 0)
    hashed = []
    real_verify = EngineCache.verify
    monkeypatch.setattr(
        EngineCache, "verify", lambda self, rec: hashed.append(rec.key.component) or real_verify(self, rec)
    )
    folder = _copy_cache(onnx_cache, tmp_path / "engines")  # a copy: new inodes
    assert ensure_onnx(tiny, "unet", Precision.FP32, tmp_path / "engines").key.component == "unet"
    assert hashed == ["unet"]  # verified once after the copy ...
    ensure_onnx(tiny, "unet", Precision.FP32, tmp_path / "engines")
    assert hashed == ["unet"]  # ... and recorded, so the next load only stats
    path = folder / "unet.onnx"
    data = bytearray(path.read_bytes())
    data[-64] ^= 0x01
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime; ctime still moves
    with pytest.raises(EngineMismatchError, match="not the file that was built"):
        ensure_onnx(tiny, "unet", Precision.FP32, tmp_path / "engines")
    assert hashed == ["unet", "unet"]


def test_inspect_verify_names_the_engine_dir_it_was_given(onnx_cache, tmp_path):
    """Issue 17: the rebuild hint points at the folder inspected, even when the engines moved there."""
    from click.testing import CliRunner

    from genrobust_fast.cli.main import cli

    moved = tmp_path / "moved engines"
    folder = _copy_cache(onnx_cache, moved)
    path = folder / "text_encoder.onnx"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["engine", "inspect", str(path), "--verify"])
    assert result.exit_code == 1 and '"verified": false' in result.output
    assert (
        "rebuild it with: genrobust engine build --model tiny --backend onnxruntime --precision fp32 "
        f"--component text_encoder --engine-dir '{moved}' --force"
    ) in result.output


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
        ensure_onnx(tiny, "text_encoder", Precision.FP32, tmp_path, build=True)
    folder = tmp_path / "tiny" / "onnx-fp32"
    left = [p for p in folder.iterdir() if p != lock_path(folder, "text_encoder")]  # the build's lock stays
    assert left == []  # no artifact, no sidecar, no staging folder


def test_a_matching_engine_is_reused_and_force_rebuilds_it(tiny, tmp_path, monkeypatch):
    from genrobust_fast.engines import onnx_export

    exported = []
    real_export = onnx_export.export_component
    monkeypatch.setattr(
        onnx_export,
        "export_component",
        lambda comps, comp, *a: exported.append(comp) or real_export(comps, comp, *a),
    )
    first = ensure_onnx(tiny, "text_encoder", Precision.FP32, tmp_path, build=True)
    built = file_identity(first.path)
    again = ensure_onnx(tiny, "text_encoder", Precision.FP32, tmp_path, build=True)
    assert exported == ["text_encoder"] and file_identity(again.path) == built  # present and matching: reused
    forced = ensure_onnx(tiny, "text_encoder", Precision.FP32, tmp_path, build=True, force=True)
    assert exported == ["text_encoder"] * 2 and file_identity(forced.path) != built  # exported and replaced
    assert EngineCache(tmp_path).verify(forced)  # the sidecar describes the new file


def test_clean_removes_a_models_engines_named_by_its_path_and_keeps_the_readme(tmp_path, monkeypatch):
    cache = EngineCache(tmp_path / "engines")
    folder = tmp_path / "models" / "sd15"
    folder.mkdir(parents=True)
    for slug in (model_slug(str(folder)), "tiny"):  # what builds from the folder and from `tiny` make
        cache.entry_dir(slug, "onnx-fp32").mkdir(parents=True)
    (cache.root / "README.md").write_text("keep")
    sd15 = cache.root / model_slug(str(folder))
    monkeypatch.chdir(folder.parent)
    assert cache.clean("./sd15", dry_run=True) == [sd15] and sd15.is_dir()
    assert cache.clean("./sd15") == [sd15] and not sd15.exists()
    assert (cache.root / "tiny").is_dir()
    cache.clean()
    assert [p.name for p in cache.root.iterdir()] == ["README.md"]


def test_large_models_use_one_external_data_file(tiny, tmp_path, monkeypatch, torch_runners):
    """Past the 2 GB protobuf limit weights go to <component>.onnx.data; forced here with a tiny limit."""
    from genrobust_fast.engines import onnx_export
    from genrobust_fast.engines.ort_backend import OrtRunners

    monkeypatch.setattr(onnx_export, "TWO_GB", 1)
    for comp in ("unet", "vae_decoder", "vae_encoder", "text_encoder", "image_encoder"):
        record = ensure_onnx(tiny, comp, Precision.FP32, tmp_path, build=True)
        assert record.files == [f"{comp}.onnx", f"{comp}.onnx.data"]
    graph = (tmp_path / "tiny/onnx-fp32/unet.onnx").stat().st_size
    assert graph < 0.2 * (tmp_path / "tiny/onnx-fp32/unet.onnx.data").stat().st_size
    runners = OrtRunners(tiny, engine_dir=tmp_path)
    sample, t, ctx = torch.randn(2, 4, 16, 16), torch.tensor([3.0, 700.0]), torch.randn(2, 32, 32)
    assert relative_error(runners.unet(sample, t, ctx), torch_runners.unet(sample, t, ctx)) <= 1e-4
    (tmp_path / "tiny/onnx-fp32/unet.onnx.data").unlink()
    with pytest.raises(EngineMismatchError, match="unet.onnx.data' is missing"):
        ensure_onnx(tiny, "unet", Precision.FP32, tmp_path)


def test_fp16_export_keeps_fp32_io(tiny, tmp_path):
    import onnx

    record = ensure_onnx(tiny, "vae_decoder", Precision.FP16, tmp_path, build=True)
    assert record.sidecar.parent.name == "onnx-fp16"
    model = onnx.load(str(record.path))
    assert {i.data_type for i in model.graph.initializer if i.dims} == {onnx.TensorProto.FLOAT16}
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    with pytest.raises(InputError, match="TensorRT 10 builds bf16 engines from the fp32 ONNX file"):
        ensure_onnx(tiny, "vae_decoder", Precision.BF16, tmp_path, build=True)


def test_fp16_export_never_infers_shapes_in_memory(tiny, tmp_path, monkeypatch):
    """Issue 18: the fp16 export of a >2 GB model died in onnx.shape_inference.infer_shapes (it serialises the
    in-memory model). The conversion works from the file; here in-memory inference is made to fail, and
    external data is forced as past 2 GB (the real 3.4 GB run: test_engine_export_large.py)."""
    import onnx
    import onnxruntime.transformers.float16 as ort_float16

    from genrobust_fast.engines import onnx_export

    def refuse(*args, **kwargs):
        raise AssertionError("in-memory shape inference: impossible for models over 2 GB")

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", refuse)
    monkeypatch.setattr(ort_float16, "infer_shapes", refuse)
    monkeypatch.setattr(onnx_export, "TWO_GB", 1)
    record = ensure_onnx(tiny, "unet", Precision.FP16, tmp_path, build=True)
    assert record.files == ["unet.onnx", "unet.onnx.data"]
    model = onnx.load(str(record.path))
    assert {i.data_type for i in model.graph.initializer if i.dims} == {onnx.TensorProto.FLOAT16}
    assert [i.type.tensor_type.elem_type for i in model.graph.input] == [onnx.TensorProto.FLOAT] * 3
    produced = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer} | {""}
    for node in model.graph.node:  # topologically sorted: the converter's input casts moved to the front
        assert all(name in produced for name in node.input), node.name
        produced.update(node.output)


def test_weights_hash_is_the_same_for_fp32_and_fp16_runners():
    """Issue 13: one hasher, taken as loaded, before a runner casts: an fp32 and an fp16 job of the same
    weights record the same identity, whole-model and per component."""
    from genrobust_fast.engines.cache import component_weights_hash
    from genrobust_fast.engines.models import load_components
    from genrobust_fast.engines.runners import TorchRunners

    fp32 = TorchRunners(load_components("tiny"), "cpu", torch.float32).components
    fp16 = TorchRunners(load_components("tiny"), "cpu", torch.float16).components
    assert next(fp16.unet.parameters()).dtype == torch.float16  # the runner did cast
    assert fp16.weights_hash() == fp32.weights_hash()
    for component in ("unet", "vae_decoder", "text_encoder", "image_encoder"):
        assert component_weights_hash(fp16, component) == component_weights_hash(fp32, component)
    late = load_components("tiny")
    late.to(dtype=torch.bfloat16)  # a first cast without an earlier hash: hashed before casting
    assert late.weights_hash() == fp32.weights_hash()


def test_weights_hash_follows_the_weights_per_component(tiny):
    from genrobust_fast.engines.builtin import build_tiny
    from genrobust_fast.engines.cache import component_weights_hash

    changed = build_tiny()
    with torch.no_grad():
        next(changed.unet.parameters()).add_(1e-3)
    assert changed.weights_hash() != tiny.weights_hash()
    assert component_weights_hash(changed, "unet") != component_weights_hash(tiny, "unet")
    assert component_weights_hash(changed, "vae_decoder") == component_weights_hash(tiny, "vae_decoder")


def test_weights_loaded_in_half_precision_are_other_weights(tiny):
    """The identity is the weights as loaded: a runner's later cast keeps it (fp32-built engines load in an
    fp16 job), but a model whose weights are half precision before the first hash is another model."""
    from genrobust_fast.engines.builtin import build_tiny
    from genrobust_fast.engines.cache import component_weights_hash
    from genrobust_fast.engines.models import load_components

    assert load_components("tiny", torch_dtype=torch.float16).weights_hash() == tiny.weights_hash()
    half = build_tiny()
    half.vae.to(torch.float16)  # as if stored in fp16: nothing hashed the fp32 weights first
    assert component_weights_hash(half, "vae_decoder") != component_weights_hash(tiny, "vae_decoder")
    assert component_weights_hash(half, "unet") == component_weights_hash(tiny, "unet")


def test_weights_are_hashed_once_until_the_caller_says_they_changed(tiny, monkeypatch):
    from genrobust_fast.engines import components
    from genrobust_fast.engines.builtin import build_tiny

    hashed = []
    real_hash = components.hash_modules
    monkeypatch.setattr(components, "hash_modules", lambda modules: hashed.append(1) or real_hash(modules))
    trained = build_tiny()
    before = trained.weights_hash()
    trained.module_hash("unet")
    assert len(hashed) == 1  # memoised: every engine load asks, one pass over the weights answers
    with torch.no_grad():
        next(trained.unet.parameters()).mul_(0.5)
    trained.forget_weights_hash()  # what finetuning calls after changing the weights
    assert trained.weights_hash() != before and len(hashed) == 2
    assert trained.module_hash("vae") == tiny.module_hash("vae")
