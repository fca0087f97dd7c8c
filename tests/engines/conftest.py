"""Tiny components and one ONNX engine cache, built once per test session."""

import pytest
import torch


@pytest.fixture(scope="session")
def tiny():
    from genrobust_fast.engines.models import load_components

    return load_components("tiny")


@pytest.fixture(scope="session")
def onnx_cache(tiny, tmp_path_factory):
    """engines/ with every tiny component exported to fp32 ONNX."""
    from genrobust_fast.engines.build import build_engines

    root = tmp_path_factory.mktemp("engines")
    build_engines(tiny, "onnxruntime", "fp32", root)
    return root


@pytest.fixture(scope="session")
def ort_runners(tiny, onnx_cache):
    from genrobust_fast.engines import create_runners

    return create_runners(tiny, backend="onnxruntime", device="cpu", engine_dir=onnx_cache)


@pytest.fixture(scope="session")
def torch_runners(tiny):
    from genrobust_fast.engines.runners import TorchRunners

    return TorchRunners(tiny, "cpu", torch.float32)


@pytest.fixture
def fake_gpu(monkeypatch):
    """install(major) puts a fake TensorRT of that major version in sys.modules and makes torch report an
    sm90 GPU (only what selection and the TensorRT code ask; nothing is allocated on it)."""
    import sys

    from tests.engines import fake_tensorrt

    def install(major: int = 10, **kwargs):
        trt = fake_tensorrt.make(major, **kwargs)
        monkeypatch.setitem(sys.modules, "tensorrt", trt)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
        monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
        return trt

    return install
