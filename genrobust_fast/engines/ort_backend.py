"""ONNX Runtime backend: the five runner calls on cached ONNX files, CPU or CUDA provider.

Inputs and outputs stay torch tensors. Each call binds the torch tensors' memory directly to the
session (IOBinding with data pointers) and preallocates the outputs as torch tensors whose shapes
come from the component spec, so on CUDA nothing is copied through the host, and on the CPU nothing
is copied at all.

    runners = OrtRunners(load_components("tiny"), engine_dir="engines", build_if_missing=True)
    noise = runners.unet(sample, timestep, context)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import BackendUnavailableError, EngineMismatchError, InputError
from .build import ensure_onnx
from .runners import GraphRunners
from .specs import Precision, component_specs

log = logging.getLogger(__name__)


def ort_providers(device: torch.device) -> list[str]:
    """The execution providers for `device`; CUDA needs onnxruntime-gpu with its CUDA provider."""
    import onnxruntime as ort

    if device.type == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise BackendUnavailableError(
            f"ONNX Runtime {ort.__version__} here has no CUDAExecutionProvider (providers: "
            f"{ort.get_available_providers()}); install onnxruntime-gpu for --device cuda, or use --device cpu"
        )
    return [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]


def session_options(threads: int | None = None):
    """Options that made ORT beat torch eager on the CPU: full graph fusion, one sequential stream.

    ORT_ENABLE_ALL (layout transforms and fused attention/GroupNorm) was ~1.4x faster than
    ORT_ENABLE_EXTENDED on the tiny UNet at batch 8 in our measurements; intra-op threads default to
    the physical cores (`threads` or GENROBUST_ORT_THREADS override).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    threads = threads or int(os.environ.get("GENROBUST_ORT_THREADS", "0"))
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # ORT's warnings about unused initializers are noise for users
    return opts


class OrtRunners(GraphRunners):
    """Runs every component the model has through an ONNX Runtime session."""

    backend = "onnxruntime"

    def __init__(
        self,
        components,
        device: str | torch.device = "cpu",
        precision: Precision | str = Precision.FP32,
        engine_dir: str | Path = "engines",
        build_if_missing: bool = False,
        threads: int | None = None,
    ):
        import onnxruntime as ort

        precision = Precision.parse(precision)
        device = torch.device(device)
        if precision not in (Precision.FP32, Precision.FP16):
            raise BackendUnavailableError(
                f"ONNX Runtime runs fp32 or fp16 engines, not {precision.value}; use --backend tensorrt or torch"
            )
        if precision is Precision.FP16 and device.type == "cpu":
            raise BackendUnavailableError(
                "ONNX Runtime's CPU provider has no fp16 kernels for these models; use --precision fp32 on the CPU "
                "or --device cuda with onnxruntime-gpu"
            )
        super().__init__(components, device, precision.torch_dtype)
        self.engine_precision = precision
        providers = ort_providers(device)
        self.specs = component_specs(components)
        self.sessions: dict[str, Any] = {}
        self.records = {}
        for name in self.specs:
            record = ensure_onnx(components, name, precision, engine_dir, build=build_if_missing)
            self.records[name] = record
            try:
                self.sessions[name] = ort.InferenceSession(
                    str(record.path), session_options(threads), providers=providers
                )
            except Exception as exc:  # ORT raises its own Fail/InvalidGraph types for corrupt files
                raise EngineMismatchError(
                    f"ONNX Runtime cannot load {str(record.path)!r} ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200]}); rebuild with: {record.build_command}"
                ) from exc
        log.info("onnxruntime %s runners on %s (%s)", precision.value, device, ", ".join(self.sessions))

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["precision"] = self.engine_precision.value
        out["engines"] = {name: str(rec.path) for name, rec in self.records.items()}
        return out

    def _run(self, component: str, *tensors: torch.Tensor) -> torch.Tensor:
        session = self.sessions.get(component)
        if session is None:
            raise InputError(f"model {self.components.model_id!r} has no {component}")
        spec = self.specs[component]
        # Inputs are cast to the I/O dtype of the file (fp32/int64) on their own device; .contiguous() keeps
        # the pointer valid for the whole call because the bound tensors are held in `inputs`.
        inputs = {
            t.name: x.to(device=self.device, dtype=t.torch_dtype).contiguous() for t, x in zip(spec.inputs, tensors)
        }
        symbols = spec.bind({name: tuple(x.shape) for name, x in inputs.items()})
        outputs = {
            t.name: torch.empty(t.resolve(symbols), dtype=t.torch_dtype, device=self.device) for t in spec.outputs
        }
        binding = session.io_binding()
        device_type, device_id = self.device.type, self.device.index or 0
        for name, x in inputs.items():
            binding.bind_input(name, device_type, device_id, _np_name(x.dtype), tuple(x.shape), x.data_ptr())
        for name, y in outputs.items():
            binding.bind_output(name, device_type, device_id, _np_name(y.dtype), tuple(y.shape), y.data_ptr())
        session.run_with_iobinding(binding)
        result = outputs[spec.output_names[0]]
        return result if result.dtype == self.dtype else result.to(self.dtype)


def _np_name(dtype: torch.dtype):
    import numpy as np

    return {torch.float32: np.float32, torch.int64: np.int64, torch.float16: np.float16}[dtype]
