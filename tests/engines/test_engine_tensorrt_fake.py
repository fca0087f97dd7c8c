"""The TensorRT calls against a fake `tensorrt` of each major version (TensorRT needs an NVIDIA GPU):
builds with 10's precision flags and 11's strong typing, refusals instead of AttributeErrors, failed
executions caught (CUDA-graph warm-up and capture included), and a job finding any cached engine whose
profile covers its shapes (the README's `engine build --batch 1:8:16` then `generate --batch-size 16`).
"""

import dataclasses
import json
import logging
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from genrobust_fast.engines import create_runners
from genrobust_fast.engines.build import build_engines
from genrobust_fast.engines.cache import EngineCache, EngineNotBuiltError
from genrobust_fast.engines.specs import Precision, ShapeProfile, component_specs
from genrobust_fast.engines.trt_build import TrtRequest, build_engine, make_build_plan, variant_name
from genrobust_fast.engines.trt_runtime import TrtEngine, pick_engine
from genrobust_fast.errors import BackendUnavailableError, EngineMismatchError

README_BUILD = ShapeProfile(batch=(1, 8, 16))  # genrobust engine build ... --batch 1:8:16


@pytest.fixture
def engines(onnx_cache, tmp_path):
    """A private copy of the session's fp32 ONNX cache (TensorRT plans are added to it)."""
    root = tmp_path / "engines"
    shutil.copytree(onnx_cache, root)
    return root


def _plan(tiny, onnx_path, precision=Precision.FP16, typing="weak", refittable=False):
    spec = component_specs(tiny)["unet"]
    return make_build_plan(
        spec,
        ShapeProfile(batch=(1, 2, 4)),
        precision,
        tiny.default_size,
        32,
        onnx_path,
        None,
        refittable,
        typing=typing,
    )


def test_tensorrt_10_builds_with_precision_flags(tiny, engines, fake_gpu, tmp_path):
    trt = fake_gpu(10)
    onnx_path = engines / "tiny/onnx-fp32/unet.onnx"
    build_engine(_plan(tiny, onnx_path, Precision.FP16, refittable=True), tmp_path / "unet.plan")
    assert ("create_network", 0) in trt.calls and ("parse", str(onnx_path)) in trt.calls
    assert ("build", {"set": [trt.BuilderFlag.FP16, trt.BuilderFlag.REFIT], "cleared": []}) in trt.calls
    doc = json.loads((tmp_path / "unet.plan").read_bytes())
    assert doc["profiles"][0]["sample"] == [[2, 4, 16, 16], [4, 4, 16, 16], [8, 4, 16, 16]]


def test_tensorrt_11_builds_strongly_typed_from_the_fp16_graph(tiny, engines, fake_gpu):
    """TensorRT 11 has no BuilderFlag.FP16: the fp16 ONNX file is exported and parsed, strongly typed."""
    trt = fake_gpu(11)
    [record] = build_engines(tiny, "tensorrt", "fp16", engines, ShapeProfile(batch=(1, 2, 4)), only=["unet"])
    assert record.key.builder_flags == ("STRONGLY_TYPED", "ONNX_FP16")
    assert record.key.tensorrt_version == "11.3.0" and record.key.compute_capability == "9.0"
    fp16_onnx = engines / "tiny/onnx-fp16/unet.onnx"
    assert fp16_onnx.is_file() and ("parse", str(fp16_onnx)) in trt.calls
    assert ("create_network", 1 << trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) in trt.calls
    assert ("build", {"set": [], "cleared": []}) in trt.calls
    # Once the STRONGLY_TYPED flag is gone (strong typing being the only mode), networks are made plainly.
    trt = fake_gpu(11, strongly_typed_flag=False)
    build_engine(_plan(tiny, fp16_onnx, typing="strong"), engines / "again.plan")
    assert ("create_network", 0) in trt.calls


def test_missing_tensorrt_features_are_refusals_not_attribute_errors(tiny, engines, fake_gpu, tmp_path):
    onnx_path = engines / "tiny/onnx-fp32/unet.onnx"
    fake_gpu(11)
    weak = _plan(tiny, onnx_path, Precision.FP16, typing="weak")  # a plan made for TensorRT 10's flags
    with pytest.raises(BackendUnavailableError, match=r"TensorRT 11.3.0 has no BuilderFlag FP16.*--force"):
        build_engine(weak, tmp_path / "a.plan")
    with pytest.raises(BackendUnavailableError, match=r"bf16 engine needs a bf16 ONNX graph"):
        build_engines(tiny, "tensorrt", "bf16", engines, only=["unet"])
    with pytest.raises(BackendUnavailableError, match="fp8 needs an fp8-quantised ONNX graph"):
        build_engines(tiny, "tensorrt", "fp8", engines, only=["unet"])
    fake_gpu(10, strongly_typed_flag=False)
    with pytest.raises(BackendUnavailableError, match="cannot build strongly typed networks"):
        build_engine(_plan(tiny, onnx_path, Precision.FP16, typing="strong"), tmp_path / "b.plan")
    fake_gpu(10, drop=("MemoryPoolType",))
    with pytest.raises(
        BackendUnavailableError, match=r"TensorRT 10.3.0 lacks .*MemoryPoolType.*10.x .* 11.x"
    ):
        build_engine(_plan(tiny, onnx_path, Precision.FP16), tmp_path / "c.plan")
    assert not any(tmp_path.glob("*.plan"))


def test_selection_on_a_gpu_machine_refuses_what_tensorrt_cannot_build(fake_gpu):
    from genrobust_fast.engines.backends import backend_problem

    cuda = torch.device("cuda")
    fake_gpu(11)
    assert "bf16 engine needs a bf16 ONNX graph" in backend_problem("tensorrt", cuda, Precision.BF16)
    assert backend_problem("tensorrt", cuda, Precision.FP16) is None
    fake_gpu(10)
    assert backend_problem("tensorrt", cuda, Precision.BF16) is None
    assert "fp8-quantised" in backend_problem("tensorrt", cuda, Precision.FP8)


@contextmanager
def _fake_cuda_streams(monkeypatch, log=None):
    """torch.cuda's stream and graph calls on a CPU machine. The current stream starts as the legacy
    default stream (handle 0, which the fake TensorRT refuses); new streams get handles 101, 102...;
    joins, stream switches and captures are appended to `log`; a graph replays what was enqueued in
    capture (yielded)."""
    captured, log = [], [] if log is None else log
    made = []

    class Stream:
        def __init__(self, device=None, handle=None):
            if handle is None:
                made.append(self)
                handle = 100 + len(made)
            self.cuda_stream = handle

        def wait_stream(self, other):
            log.append(("wait", self.cuda_stream, other.cuda_stream))

    current = [Stream(handle=0)]

    @contextmanager
    def stream(s):
        current.append(s)
        try:
            yield
        finally:
            current.pop()

    class Graph:
        def replay(self):
            log.append(("replay", current[-1].cuda_stream))
            for call in captured:
                call()

    @contextmanager
    def graph(g, stream=None):
        log.append(("capture", stream.cuda_stream))
        current.append(stream)
        try:
            yield
        finally:
            current.pop()

    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: current[-1])
    monkeypatch.setattr(torch.cuda, "Stream", Stream)
    monkeypatch.setattr(torch.cuda, "stream", stream)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
    monkeypatch.setattr(torch.cuda, "graph", graph)
    yield captured


def _vae_engine(tiny, engines, batch, trt) -> TrtEngine:
    """A fake engine for the VAE decoder: its 'kernel' copies the latent into the image buffer."""
    build_engine(
        make_build_plan(
            component_specs(tiny)["vae_decoder"],
            ShapeProfile(batch=batch),
            Precision.FP32,
            tiny.default_size,
            32,
            engines / "tiny/onnx-fp32/vae_decoder.onnx",
        ),
        engines / "dec.plan",
    )
    profiles = {"latent": [(batch[0], 4, 16, 16), (batch[1], 4, 16, 16), (batch[2], 4, 16, 16)]}
    return TrtEngine(engines / "dec.plan", profiles, torch.device("cpu"), "REBUILD")


def test_failed_executions_raise_dynamic_and_captured(tiny, engines, fake_gpu, monkeypatch):
    trt = fake_gpu(10)
    with _fake_cuda_streams(monkeypatch):
        dynamic = _vae_engine(tiny, engines, (1, 2, 4), trt)
        x = torch.randn(2, 4, 16, 16)
        assert not dynamic.static and dynamic.run({"latent": x})["images"].flatten()[:10].equal(
            x.flatten()[:10]
        )
        trt.fail = True
        with pytest.raises(BackendUnavailableError, match=r"execution of dec.plan failed \(run\).*REBUILD"):
            dynamic.run({"latent": x})
        static = _vae_engine(tiny, engines, (2, 2, 2), trt)
        with pytest.raises(BackendUnavailableError, match="failed .warm-up before CUDA-graph capture"):
            static.run({"latent": x})
        assert static._graph is None
        # warm-up succeeds, the call being captured fails: no graph is kept to replay it
        results = iter([True, False])
        monkeypatch.setattr(static.context, "execute_async_v3", lambda stream: next(results))
        with pytest.raises(BackendUnavailableError, match="failed while being captured as a CUDA graph"):
            static.run({"latent": x})
        assert static._graph is None


def test_captured_engine_replays_with_new_inputs(tiny, engines, fake_gpu, monkeypatch):
    trt = fake_gpu(10)
    with _fake_cuda_streams(monkeypatch) as captured:
        static = _vae_engine(tiny, engines, (2, 2, 2), trt)
        real_execute = static.context.execute_async_v3

        def execute(stream):  # what a CUDA graph records: the enqueue, replayed later
            captured.append(lambda: real_execute(stream))
            return real_execute(stream)

        monkeypatch.setattr(static.context, "execute_async_v3", execute)
        first, second = torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16)
        out1 = static.run({"latent": first})["images"].flatten()[:2048]
        out2 = static.run({"latent": second})["images"].flatten()[:2048]
        assert out1.equal(first.flatten()) and out2.equal(second.flatten())


def test_engines_run_on_their_own_stream_joined_to_the_callers_both_ways(
    tiny, engines, fake_gpu, monkeypatch
):
    """Issue 25: never the legacy default stream (the fake refuses 0); each engine its own stream, which
    waits for the caller's before it runs and which the caller waits for after; warm-up, capture and
    replays of a static engine all on that stream."""
    trt = fake_gpu(10)
    with _fake_cuda_streams(monkeypatch, log=trt.calls) as captured:
        dynamic = _vae_engine(tiny, engines, (1, 2, 4), trt)
        static = _vae_engine(tiny, engines, (2, 2, 2), trt)
        real_execute = static.context.execute_async_v3

        def execute(stream):  # what a CUDA graph records: the enqueue made while capturing
            if trt.calls[-1][0] == "capture":
                captured.append(lambda: real_execute(stream))
            return real_execute(stream)

        monkeypatch.setattr(static.context, "execute_async_v3", execute)
        x = torch.randn(2, 4, 16, 16)
        del trt.calls[:]
        assert dynamic.run({"latent": x})["images"].flatten()[:2048].equal(x.flatten())
        assert trt.calls == [("wait", 101, 0), ("execute", 101), ("wait", 0, 101)]
        del trt.calls[:]
        for _ in range(2):
            static.run({"latent": x})
        warm_up, capture = [("execute", 102)], [("capture", 102), ("execute", 102)]
        replay = [("replay", 102), ("execute", 102)]
        assert trt.calls == [
            *[("wait", 102, 0), *warm_up, *capture, *replay, ("wait", 0, 102)],
            *[("wait", 102, 0), *replay, ("wait", 0, 102)],
        ]
        # The fake is strict: an engine enqueued on the caller's default stream fails there.
        with pytest.raises(RuntimeError, match="refuses stream 0"):
            static.context.execute_async_v3(torch.cuda.current_stream().cuda_stream)


def test_a_timing_cache_from_another_gpu_is_replaced_not_fatal(tiny, engines, fake_gpu, tmp_path, caplog):
    trt = fake_gpu(10)
    cache = tmp_path / "timing.cache"
    cache.write_bytes(b"written on another GPU")
    plan = _plan(tiny, engines / "tiny/onnx-fp32/unet.onnx")
    plan = dataclasses.replace(plan, timing_cache=cache)
    with caplog.at_level(logging.WARNING, logger="genrobust_fast.engines.trt_build"):
        build_engine(plan, tmp_path / "unet.plan")
    assert [c for c in trt.calls if c[0] == "set_timing_cache"] == [
        ("set_timing_cache", b"written on another GPU"),
        ("set_timing_cache", b""),
    ]
    assert f"refused the timing cache {cache}" in caplog.text
    assert cache.read_bytes() == b"timing"  # this build's cache replaced the stale one
    del trt.calls[:]
    build_engine(plan, tmp_path / "again.plan")  # now taken as it is
    assert [c for c in trt.calls if c[0] == "set_timing_cache"] == [("set_timing_cache", b"timing")]


def _request(tiny, batch, precision=Precision.FP16, trt_version="10.3.0", cc="9.0", engine_dir="unused"):
    """A request as TensorRT 10 on an sm90 GPU resolves it (TrtRequest.here asks the real TensorRT)."""
    return TrtRequest(tiny, precision, engine_dir, ShapeProfile(batch=batch), trt_version, cc, "weak")


def _job_needs(tiny, batch_size: int, precision=Precision.FP16):
    """The key a job with --batch-size N and guidance needs for the UNet (what create_runners asks for)."""
    request = _request(tiny, (1, batch_size, batch_size), precision)
    return request.key(request.plan("unet"))


def _fake_sidecar(
    cache: EngineCache, tiny, batch, precision=Precision.FP16, trt_version="10.3.0", cc="9.0", refit=False
):
    request = _request(tiny, batch, precision, trt_version, cc)
    plan = request.plan("unet", refittable=refit)
    folder = cache.entry_dir("tiny", variant_name(precision, request.profile, tiny.default_size))
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / ".staged"
    staged.write_bytes(b"plan for " + folder.name.encode())
    return cache.commit(
        folder,
        request.key(plan),
        {"unet.plan": staged},
        model="tiny",
        model_id="builtin:tiny",
        build_cmd=f"genrobust engine build {folder.name}",
    )


def test_lookup_takes_any_covering_profile_preferring_opt_equal_to_the_batch(tiny, tmp_path, caplog):
    cache = EngineCache(tmp_path)
    small = _fake_sidecar(cache, tiny, (1, 4, 8))
    with pytest.raises(
        EngineNotBuiltError,
        match=r"takes this job's shapes \(cached but not covering: "
        r"tensorrt-fp16-b1-4-8_32x32: sample takes .*\(16, 4, 16, 16\), "
        r"needs .*\(32, 4, 16, 16\)\); build it with: HINT$",
    ):
        pick_engine(cache, "tiny", _job_needs(tiny, 16), "HINT --force")
    wide = _fake_sidecar(cache, tiny, (1, 8, 32), refit=True)  # a refittable engine serves a plain job
    readme = _fake_sidecar(cache, tiny, (1, 8, 16))
    with caplog.at_level(logging.INFO, logger="genrobust_fast.engines.trt_runtime"):
        assert pick_engine(cache, "tiny", _job_needs(tiny, 16), "HINT").sidecar == readme.sidecar  # tightest
    assert (
        "using " + str(readme.sidecar.parent) in caplog.text
        and "(2, 4, 16, 16)..(32, 4, 16, 16)" in caplog.text
    )
    exact = _fake_sidecar(cache, tiny, (1, 16, 16))
    assert pick_engine(cache, "tiny", _job_needs(tiny, 16), "HINT").sidecar == exact.sidecar  # opt == batch
    assert pick_engine(cache, "tiny", _job_needs(tiny, 4), "HINT").sidecar == small.sidecar  # opt 4 == batch
    assert pick_engine(cache, "tiny", _job_needs(tiny, 32), "HINT").sidecar == wide.sidecar


def test_lookup_refuses_covering_engines_built_for_something_else(tiny, tmp_path):
    cache = EngineCache(tmp_path)
    _fake_sidecar(cache, tiny, (1, 8, 16), cc="8.6")
    with pytest.raises(
        EngineMismatchError, match=r'compute_capability: built "8.6", need "9.0".*--engine-dir'
    ):
        pick_engine(cache, "tiny", _job_needs(tiny, 16), "HINT")
    record = _fake_sidecar(cache, tiny, (1, 16, 16))
    (record.sidecar.parent / "unet.plan").write_bytes(b"X" * record.bytes)  # same size, other bytes
    with pytest.raises(EngineMismatchError, match="not the file that was built"):
        pick_engine(cache, "tiny", _job_needs(tiny, 16), "HINT")


def test_readme_build_then_generate_meet_on_tensorrt(tiny, engines, fake_gpu, caplog):
    """`engine build --batch 1:8:16` then a job with --batch-size 16 (create_runners gets 1:16:16)."""
    trt = fake_gpu(10)
    build_engines(tiny, "tensorrt", "fp16", engines, README_BUILD)
    built = sorted(p.parent.name for p in engines.glob("tiny/tensorrt-*/*.plan"))
    assert built == ["tensorrt-fp16-b1-8-16_32x32"] * 5
    with caplog.at_level(logging.INFO):
        runners = create_runners(
            tiny,
            backend="tensorrt",
            precision="fp16",
            device="cuda",
            engine_dir=engines,
            batch_range=(1, 16, 16),
            guidance=True,
        )
    assert runners.backend == "tensorrt" and set(runners.engines) == set(component_specs(tiny))
    assert {Path(p).parent.name for p in runners.describe()["engines"].values()} == {
        "tensorrt-fp16-b1-8-16_32x32"
    }
    assert "tensorrt unet: using" in caplog.text
    assert runners.engines["text_encoder"].profiles["input_ids"][0] == (1, 32)  # a lone negative prompt fits
    # `auto` on a TensorRT machine takes it too, instead of falling back to torch
    auto = create_runners(tiny, precision="fp16", device="cuda", engine_dir=engines, batch_range=(1, 16, 16))
    assert auto.backend == "tensorrt"
    with pytest.raises(
        EngineNotBuiltError,
        match=r"build it with: genrobust engine build --model tiny --backend "
        r"tensorrt --precision fp16 --batch 1:32:32 --size 32x32",
    ):
        create_runners(
            tiny,
            backend="tensorrt",
            precision="fp16",
            device="cuda",
            engine_dir=engines,
            batch_range=(1, 32, 32),
        )
    assert trt.calls.count(("create_network", 0)) == 5  # nothing was rebuilt by the lookups


def test_refit_puts_new_weights_into_a_copy_of_a_refittable_base_engine(tiny, engines, fake_gpu, tmp_path):
    """`engine refit --base-model tiny --model <finetuned>`: same architecture, new UNet weights, no build."""
    from genrobust_fast.engines.builtin import build_tiny
    from genrobust_fast.engines.cache import model_slug
    from genrobust_fast.engines.trt_build import refit_engines
    from genrobust_fast.engines.trt_runtime import find_tensorrt

    trt = fake_gpu(10)
    profile = ShapeProfile(batch=(1, 2, 4))
    finetuned = build_tiny()
    finetuned.model_id = str(tmp_path / "tiny-ft")  # a model folder, as load_components names one
    with torch.no_grad():
        next(finetuned.unet.parameters()).add_(1e-3)
    build_line = (
        "genrobust engine build --model tiny --backend tensorrt --precision fp16 --batch 1:2:4 --size 32x32 "
        f"--engine-dir {engines} --refittable"
    )
    with pytest.raises(
        EngineNotBuiltError, match=f"no base engine .* to refit; build it with: {re.escape(build_line)}$"
    ):
        refit_engines(finetuned, "tiny", Precision.FP16, engines, profile)
    build_engines(tiny, "tensorrt", "fp16", engines, profile, only=["unet"])
    with pytest.raises(
        EngineMismatchError, match=re.escape('builder_flags: built ["FP16"], need ["FP16", "REFIT"]')
    ):
        refit_engines(finetuned, "tiny", Precision.FP16, engines, profile)
    [base] = build_engines(
        tiny, "tensorrt", "fp16", engines, profile, only=["unet"], force=True, refittable=True
    )
    builds = trt.calls.count(("create_network", 0))

    [refitted] = refit_engines(finetuned, "tiny", Precision.FP16, engines, profile)
    assert trt.calls.count(("create_network", 0)) == builds  # refitted, not rebuilt
    assert refitted.sidecar.parent.parent.name == model_slug(str(tmp_path / "tiny-ft"))
    assert refitted.key.weights_sha256 == finetuned.module_hash("unet") != base.key.weights_sha256
    assert [d.split(":")[0] for d in refitted.key.differences(base.key)] == ["weights_sha256"]
    new_onnx = refitted.sidecar.parent.parent / "onnx-fp32" / "unet.onnx"  # the finetuned weights, exported
    assert ("refit", str(new_onnx)) in trt.calls
    assert json.loads(refitted.path.read_bytes())["weights_from"] == str(new_onnx)
    assert json.loads(base.path.read_bytes()).get("weights_from") is None  # the base engine is untouched
    # A job of the finetuned model finds the refitted engine; the base model's jobs keep theirs.
    assert (
        find_tensorrt(TrtRequest.here(finetuned, Precision.FP16, engines, profile), "unet").sidecar
        == refitted.sidecar
    )
    assert (
        find_tensorrt(TrtRequest.here(tiny, Precision.FP16, engines, profile), "unet").sidecar == base.sidecar
    )


def test_sdxl_engines_take_their_added_inputs_and_capture_them_static(fake_gpu, monkeypatch, tmp_path):
    """A Turbo job on SDXL's engines: profiles and CUDA-graph buffers for the UNet's text_embeds and time_ids
    come from the spec, batch not 2 x batch (guidance 0); the second text encoder returns its two outputs."""
    from genrobust_fast.engines.models import load_components
    from genrobust_fast.engines.trt_runtime import TrtRunners
    from genrobust_fast.errors import InputError
    from genrobust_fast.generation.pipeline import GenerationPipeline, Request

    trt = fake_gpu(10)
    sdxl = load_components("tiny-sdxl")
    profile = ShapeProfile(batch=(2, 2, 2), guidance=False)
    with _fake_cuda_streams(monkeypatch) as captured:
        runners = TrtRunners(sdxl, "cpu", Precision.FP16, tmp_path, profile, build_if_missing=True)
        unet = runners.engines["unet"]
        assert unet.static and runners.records["unet"].key.profiles["text_embeds"] == [[2, 16]] * 3
        assert runners.records["unet"].key.profiles["time_ids"] == [[2, 6]] * 3
        assert runners.records["text_encoder_2"].key.profiles["input_ids"] == [[1, 32], [1, 32], [2, 32]]
        real_execute = unet.context.execute_async_v3

        def execute(stream):  # what a CUDA graph records: the enqueue, replayed later
            captured.append(lambda: real_execute(stream))
            return real_execute(stream)

        monkeypatch.setattr(unet.context, "execute_async_v3", execute)
        g = torch.Generator().manual_seed(0)
        for _ in range(2):  # warm-up and capture, then a replay with new inputs
            sample = torch.randn(2, 4, 16, 16, generator=g)
            added = {"text_embeds": torch.randn(2, 16, generator=g), "time_ids": torch.full((2, 6), 32.0)}
            out = runners.unet(sample, torch.tensor(999), torch.randn(2, 32, 32, generator=g), **added)
            assert out.float().equal(sample.half().float())  # the fake's kernel copies sample into noise_pred
        assert {k: tuple(v.shape) for k, v in unet._static_in.items()} == {
            "sample": (2, 4, 16, 16),
            "timestep": (2,),
            "encoder_hidden_states": (2, 32, 32),
            "text_embeds": (2, 16),
            "time_ids": (2, 6),
        }
        with pytest.raises(InputError, match=r"added inputs \['text_embeds', 'time_ids'\], got \[\]"):
            runners.unet(sample, torch.tensor(999), torch.randn(2, 32, 32))
        hidden, pooled = runners.encode_text_2(torch.zeros(1, 32, dtype=torch.int64))
        assert hidden.shape == (1, 32, 16) and pooled.shape == (1, 16)
        # The whole job's calls go through: two prompts encoded alone, one UNet call, one VAE decode.
        pipe = GenerationPipeline(runners, "turbo", steps=1, guidance=0.0)
        images = pipe.generate([Request("a tench", 1), Request("a goldfish", 2)])
        assert (
            images.shape[0] == 2
        )  # (the fake's VAE "kernel" gives the latent's shape, H and W being no input dims)
        assert tuple(runners.engines["vae_decoder"]._static_in["latent"].shape) == (2, 4, 16, 16)
    builds = [c for c in trt.calls if c[0] == "build"]
    # SDXL's VAE decoder and encoder are built without FP16 (force_upcast); the UNet and both encoders with it
    assert len(builds) == 5 and builds.count(("build", {"set": [trt.BuilderFlag.FP16], "cleared": []})) == 3
    assert builds.count(("build", {"set": [], "cleared": [trt.BuilderFlag.TF32]})) == 2
