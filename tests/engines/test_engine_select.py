"""Backend selection: auto order and reasons, explicit backends that cannot run, create_runners."""

import logging

import pytest
import torch

from genrobust_fast.engines import create_runners
from genrobust_fast.engines.backends import backend_problem
from genrobust_fast.engines.cache import EngineNotBuiltError
from genrobust_fast.engines.select import resolve_device
from genrobust_fast.engines.specs import Precision
from genrobust_fast.errors import BackendUnavailableError

CPU = torch.device("cpu")
# Every test names its device (or fakes the GPU), so the same tests run on CPU and GPU machines.


def test_auto_on_cpu_prefers_built_onnxruntime(tiny, onnx_cache, caplog):
    with caplog.at_level(logging.INFO, logger="genrobust_fast.engines.select"):
        runners = create_runners(tiny, device="cpu", engine_dir=onnx_cache)
    assert runners.backend == "onnxruntime" and runners.precision == "fp32"
    assert "backend auto -> onnxruntime on cpu (fp32) [first choice]" in caplog.text


def test_auto_falls_back_to_torch_and_says_why(tiny, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="genrobust_fast.engines.select"):
        runners = create_runners(tiny, device="cpu", engine_dir=tmp_path)
    assert runners.backend == "torch"
    assert "onnxruntime skipped: no onnx fp32 engine for unet" in caplog.text
    assert "genrobust engine build --model tiny --backend onnxruntime" in caplog.text


def test_explicit_backends_that_cannot_run_say_how_to_fix(tiny, tmp_path, monkeypatch):
    with pytest.raises(BackendUnavailableError, match="TensorRT needs an NVIDIA GPU"):
        create_runners(tiny, backend="tensorrt", device="cpu", engine_dir=tmp_path)
    with pytest.raises(BackendUnavailableError, match="CPU provider runs fp32 only"):
        create_runners(tiny, backend="onnxruntime", device="cpu", precision="fp16", engine_dir=tmp_path)
    with pytest.raises(EngineNotBuiltError, match="build it with: genrobust engine build --model tiny"):
        create_runners(tiny, backend="onnxruntime", device="cpu", engine_dir=tmp_path)
    with pytest.raises(BackendUnavailableError, match="unknown backend 'tensorflow'"):
        create_runners(tiny, backend="tensorflow", device="cpu", engine_dir=tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailableError, match="sees no CUDA GPU"):
        resolve_device("cuda")
    assert backend_problem("onnxruntime", CPU, Precision.FP32) is None


@pytest.mark.parametrize("backend", ["auto", "torch", "onnxruntime", "tensorrt"])
def test_fp8_is_refused_by_every_backend(tiny, tmp_path, backend):
    """Issue 18: without an fp8-quantised graph an "fp8" engine is an fp16 one; refuse instead of mislabel."""
    with pytest.raises(
        BackendUnavailableError, match=r"fp8 needs an fp8-quantised ONNX graph.*--precision fp16"
    ):
        create_runners(tiny, backend=backend, device="cpu", precision="fp8", engine_dir=tmp_path)


def test_auto_order_on_a_gpu_says_why_each_backend_was_skipped(tiny, tmp_path, monkeypatch):
    """GPU selection on any machine: CUDA faked, no TensorRT, an onnxruntime without its CUDA provider."""
    import sys

    import onnxruntime

    from genrobust_fast.engines import select

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # find_spec says None: not installed
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    picked = []
    monkeypatch.setattr(
        select,
        "TorchRunners",
        lambda comps, device, dtype, compile_unet: picked.append((device, dtype)) or "torch runners",
    )
    cuda = torch.device("cuda")
    assert select._auto_order(cuda) == ("tensorrt", "onnxruntime", "torch")
    assert "TensorRT is not installed" in backend_problem("tensorrt", cuda, Precision.FP16)
    assert "no CUDAExecutionProvider" in backend_problem("onnxruntime", cuda, Precision.FP16)
    assert create_runners(tiny, device="cuda", engine_dir=tmp_path) == "torch runners"
    assert [(d.type, dtype) for d, dtype in picked] == [("cuda", torch.float16)]  # a GPU defaults to fp16


def test_build_if_missing_exports_then_runs(tiny, tmp_path):
    runners = create_runners(
        tiny, backend="onnxruntime", device="cpu", engine_dir=tmp_path, build_if_missing=True
    )
    assert sorted(p.name for p in (tmp_path / "tiny" / "onnx-fp32").glob("*.json")) == [
        "image_encoder.json",
        "text_encoder.json",
        "unet.json",
        "vae_decoder.json",
        "vae_encoder.json",
    ]
    out = runners.decode_vae(torch.randn(1, 4, 16, 16))
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()
