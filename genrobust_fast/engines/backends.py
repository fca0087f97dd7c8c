"""Which backends exist and whether one can run here: the rules every caller asks (selection, each
backend's constructor, the CLI's choices), kept apart from the backends themselves so none imports
another to ask.

    backend_problem("onnxruntime", torch.device("cpu"), Precision.FP16)
    -> "ONNX Runtime's CPU provider runs fp32 only here; use --precision fp32 on the CPU"
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from ..errors import BackendUnavailableError
from .specs import FP8_REFUSAL, Precision

if TYPE_CHECKING:
    import torch

BACKENDS = ("torch", "onnxruntime", "tensorrt")
BACKEND_CHOICES = ("auto", *BACKENDS)  # what --backend accepts: `auto` picks the first that runs here
ENGINE_BACKENDS = ("onnxruntime", "tensorrt")  # the backends whose engines `genrobust engine build` makes


def default_precision(device: torch.device) -> Precision:
    return Precision.FP32 if device.type == "cpu" else Precision.FP16


def backend_problem(backend: str, device: torch.device, precision: Precision) -> str | None:
    """Why `backend` cannot run here at all (library, hardware or precision), with the fix; None if it can.

    The one place these rules live: create_runners and each backend's constructor ask it.
    """
    if backend not in BACKENDS:
        return f"unknown backend {backend!r}; choose one of {', '.join(BACKEND_CHOICES)}"
    if precision is Precision.FP8:
        return FP8_REFUSAL
    if backend == "torch":
        return None
    if backend == "onnxruntime":
        return _onnxruntime_problem(device, precision)
    return _tensorrt_problem(device, precision)


def _onnxruntime_problem(device: torch.device, precision: Precision) -> str | None:
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed; pip install onnxruntime (or onnxruntime-gpu for CUDA)"
    if precision not in (Precision.FP32, Precision.FP16):
        return f"ONNX Runtime runs fp32/fp16 engines, not {precision.value}; use --precision fp16 or fp32"
    if device.type == "cpu" and precision is not Precision.FP32:
        return "ONNX Runtime's CPU provider runs fp32 only here; use --precision fp32 on the CPU"
    if device.type == "cuda":
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            return (
                f"onnxruntime {ort.__version__} here has no CUDAExecutionProvider (it has "
                f"{', '.join(ort.get_available_providers())}); pip install onnxruntime-gpu, or use "
                "--device cpu"
            )
    return None


def _tensorrt_problem(device: torch.device, precision: Precision) -> str | None:
    if device.type != "cuda":
        return (
            "TensorRT needs an NVIDIA GPU; use --device cuda on a GPU machine, or --backend onnxruntime/torch"
        )
    if importlib.util.find_spec("tensorrt") is None:
        return "TensorRT is not installed; pip install 'genrobust-fast[tensorrt]'"
    import torch

    from .trt_build import check_precision, tensorrt_precision_problem

    try:
        check_precision(precision, torch.cuda.get_device_capability(device))
        return tensorrt_precision_problem(precision)  # imports TensorRT: a broken install is a reason too
    except BackendUnavailableError as exc:
        return str(exc)
