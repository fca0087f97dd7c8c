"""ONNX Runtime on CUDA, with the GPU faked: the session must really use the CUDA provider, and ORT
must not read torch memory before torch's stream has written it."""

from typing import ClassVar

import pytest
import torch

from genrobust_fast.engines import ort_backend
from genrobust_fast.engines.ort_backend import OrtRunners, wait_for_torch
from genrobust_fast.errors import BackendUnavailableError, InputError


class FakeSession:
    """An InferenceSession whose CUDA provider failed to load, as ORT reports it: providers CPU only."""

    made: ClassVar[list] = []

    def __init__(self, path, options=None, providers=None):
        FakeSession.made.append(providers)

    def get_providers(self):
        return ["CPUExecutionProvider"]


def test_cpu_fallback_of_the_cuda_provider_is_an_error_naming_the_fix(tiny, onnx_cache, monkeypatch):
    import onnxruntime

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    monkeypatch.setattr(onnxruntime, "InferenceSession", FakeSession)
    FakeSession.made.clear()
    # onnxruntime-gpu loads its CUDA libraries before the first session, not relying on torch's import
    monkeypatch.setattr(onnxruntime, "preload_dlls", lambda: FakeSession.made.append("preload_dlls"))
    with pytest.raises(
        BackendUnavailableError,
        match=r"with \['CPUExecutionProvider'\], not CUDAExecutionProvider.*"
        r"onnxruntime-gpu build for this machine's CUDA",
    ):
        OrtRunners(tiny, device="cuda:1", engine_dir=onnx_cache)
    assert FakeSession.made == [
        "preload_dlls",
        [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"],
    ]


def test_cpu_sessions_are_not_held_to_the_cuda_provider(ort_runners):
    assert all(s.get_providers() == ["CPUExecutionProvider"] for s in ort_runners.sessions.values())


def test_ort_runs_only_after_torch_stream_finished(ort_runners, monkeypatch):
    order = []

    class Stream:
        def synchronize(self):
            order.append("torch stream synchronised")

    monkeypatch.setattr(
        torch.cuda, "current_stream", lambda device=None: order.append(f"stream of {device}") or Stream()
    )
    wait_for_torch(torch.device("cuda:2"))
    wait_for_torch(torch.device("cpu"))  # nothing to wait for on the CPU
    assert order == ["stream of cuda:2", "torch stream synchronised"]

    order.clear()
    monkeypatch.setattr(ort_backend, "wait_for_torch", lambda device: order.append(f"wait {device.type}"))
    session = ort_runners.sessions["vae_decoder"]
    real_run = session.run_with_iobinding
    monkeypatch.setattr(
        session,
        "run_with_iobinding",
        lambda binding: order.append("ort run") or real_run(binding),
        raising=False,
    )
    out = ort_runners.decode_vae(torch.randn(1, 4, 16, 16))
    assert order == ["wait cpu", "ort run"] and torch.isfinite(out).all()


def test_io_binding_takes_bf16_tensors_and_names_the_dtypes_it_takes():
    """NumPy has no bfloat16: IOBinding takes ONNX's type number for it (a KeyError before)."""
    import onnxruntime
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = torch.tensor([1.5, -2.0, 3.25], dtype=torch.bfloat16)
    y = torch.empty(3)
    binding = session.io_binding()
    binding.bind_input("x", "cpu", 0, ort_backend.element_type(x.dtype), (3,), x.data_ptr())
    binding.bind_output("y", "cpu", 0, ort_backend.element_type(y.dtype), (3,), y.data_ptr())
    session.run_with_iobinding(binding)
    assert y.tolist() == [1.5, -2.0, 3.25]
    with pytest.raises(
        InputError, match="takes float32, float16, bfloat16, int64, int32 tensors, got float64"
    ):
        ort_backend.element_type(torch.float64)
