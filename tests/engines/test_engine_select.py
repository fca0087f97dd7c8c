"""Backend selection: auto order and reasons, explicit backends that cannot run, create_runners."""

import logging

import pytest
import torch

from genrobust_fast.engines import create_runners
from genrobust_fast.engines.cache import EngineNotBuiltError
from genrobust_fast.engines.select import backend_problem, resolve_device
from genrobust_fast.engines.specs import Precision
from genrobust_fast.errors import BackendUnavailableError

CPU = torch.device("cpu")
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-machine behaviour")


def test_auto_on_cpu_prefers_built_onnxruntime(tiny, onnx_cache, caplog):
    with caplog.at_level(logging.INFO, logger="genrobust_fast.engines.select"):
        runners = create_runners(tiny, engine_dir=onnx_cache)
    assert runners.backend == "onnxruntime" and runners.precision == "fp32"
    assert "backend auto -> onnxruntime on cpu (fp32) [first choice]" in caplog.text


def test_auto_falls_back_to_torch_and_says_why(tiny, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="genrobust_fast.engines.select"):
        runners = create_runners(tiny, engine_dir=tmp_path)
    assert runners.backend == "torch"
    assert "onnxruntime skipped: no onnx fp32 engine for unet" in caplog.text
    assert "genrobust engine build --model tiny --backend onnxruntime" in caplog.text


def test_explicit_backends_that_cannot_run_say_how_to_fix(tiny, tmp_path):
    with pytest.raises(BackendUnavailableError, match="TensorRT needs an NVIDIA GPU"):
        create_runners(tiny, backend="tensorrt", engine_dir=tmp_path)
    with pytest.raises(BackendUnavailableError, match="CPU provider runs fp32 only"):
        create_runners(tiny, backend="onnxruntime", precision="fp16", engine_dir=tmp_path)
    with pytest.raises(EngineNotBuiltError, match="build it with: genrobust engine build --model tiny"):
        create_runners(tiny, backend="onnxruntime", engine_dir=tmp_path)
    with pytest.raises(BackendUnavailableError, match="sees no CUDA GPU"):
        resolve_device("cuda")
    assert "no fp8 path" in backend_problem("torch", CPU, Precision.FP8)
    assert backend_problem("onnxruntime", CPU, Precision.FP32) is None


def test_build_if_missing_exports_then_runs(tiny, tmp_path):
    runners = create_runners(tiny, backend="onnxruntime", engine_dir=tmp_path, build_if_missing=True)
    assert sorted(p.name for p in (tmp_path / "tiny" / "onnx-fp32").glob("*.json")) == [
        "image_encoder.json", "text_encoder.json", "unet.json", "vae_decoder.json", "vae_encoder.json"]
    out = runners.decode_vae(torch.randn(1, 4, 16, 16))
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()
