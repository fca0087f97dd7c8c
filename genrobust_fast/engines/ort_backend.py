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
from .backends import backend_problem
from .cache import EngineCache
from .onnx_build import ensure_onnx
from .runners import GraphRunners
from .specs import Precision, component_specs

log = logging.getLogger(__name__)


def ort_providers(device: torch.device) -> list[str]:
    """The execution providers for `device` (backends.backend_problem has checked that CUDA's is there)."""
    if device.type == "cpu":
        return ["CPUExecutionProvider"]
    return [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]


def check_session_providers(session, device: torch.device, path: Path) -> None:
    """ONNX Runtime silently falls back to the CPU when its CUDA provider fails to load (CUDA/cuDNN
    libraries missing or of another major version): on a GPU that is an error, not a slow run."""
    if device.type != "cuda":
        return
    import onnxruntime as ort

    used = list(session.get_providers())
    if not used or used[0] != "CUDAExecutionProvider":
        raise BackendUnavailableError(
            f"ONNX Runtime {ort.__version__} created the session for {path.name} with "
            f"{used or 'no providers'}, not CUDAExecutionProvider: its CUDA provider did not load (see ONNX "
            "Runtime's log line about libcudnn/libcublas). Install the onnxruntime-gpu build for this "
            f"machine's CUDA major version (torch here was built for CUDA {torch.version.cuda}) with its "
            "cuDNN, or use --backend torch"
        )


def wait_for_torch(device: torch.device) -> None:
    """Finish the work torch queued on `device` before ONNX Runtime reads the memory it bound.

    ONNX Runtime's CUDA provider runs on its own stream, which does not wait for torch's: without this
    it can read inputs a torch kernel has not finished writing. (ORT's run returns only when its own
    stream is done, so the outputs are safe for torch to read afterwards.)
    """
    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()


# The component called once per denoising step. Only its session's threads spin between calls.
HOT_COMPONENT = "unet"


def session_options(threads: int | None = None, spinning: bool = True):
    """Options that made ORT beat torch eager on the CPU: full graph fusion, one sequential stream.

    ORT_ENABLE_ALL (layout transforms and fused attention/GroupNorm) was ~1.4x faster than
    ORT_ENABLE_EXTENDED on the tiny UNet at batch 8 in our measurements; intra-op threads default to
    the physical cores (`threads` or GENROBUST_ORT_THREADS override).

    Every session has its own intra-op pool, and by default its threads spin for a while after each run.
    A VAE or text-encoder pool left spinning after its call keeps cores busy while the next UNet call
    wants them: on 2 cores that made the UNet ~10 % slower inside the generation loop than alone. So only
    the hot session spins (`spinning`), where it saves a wake-up per operator; the others sleep at once.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    threads = threads or int(os.environ.get("GENROBUST_ORT_THREADS", "0"))
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # ORT's warnings about unused initializers are noise for users
    return opts


class OrtRunners(GraphRunners):
    """Runs every component the model has through an ONNX Runtime session."""

    backend = "onnxruntime"

    def __init__(
        self,
        components,
        device: str | torch.device = "cpu",
        precision: Precision = Precision.FP32,
        engine_dir: str | Path = "engines",
        build_if_missing: bool = False,
        threads: int | None = None,
    ):
        import onnxruntime as ort

        device = torch.device(device)
        problem = backend_problem("onnxruntime", device, precision)  # the one place these rules live
        if problem:
            raise BackendUnavailableError(f"backend 'onnxruntime' cannot run on {device}: {problem}")
        super().__init__(components, device, precision.torch_dtype)
        self.engine_precision = precision
        providers = ort_providers(device)
        if device.type == "cuda" and hasattr(ort, "preload_dlls"):
            # onnxruntime-gpu finds its CUDA/cuDNN libraries by itself (the nvidia-* wheels), not only
            # because torch happened to load them first; a CPU build returns at once.
            ort.preload_dlls()
        self.specs = component_specs(components)
        self.sessions: dict[str, Any] = {}
        self.records = {}
        for name in self.specs:
            record = ensure_onnx(components, name, precision, engine_dir, build=build_if_missing)
            self.records[name] = record
            try:
                self.sessions[name] = ort.InferenceSession(
                    str(record.path),
                    session_options(threads, spinning=name == HOT_COMPONENT),
                    providers=providers,
                )
            except Exception as exc:  # ORT raises its own Fail/InvalidGraph types for corrupt files
                raise EngineMismatchError(
                    f"ONNX Runtime cannot load {str(record.path)!r} ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200]}); rebuild with: "
                    f"{EngineCache(engine_dir).rebuild_hint(record)}"
                ) from exc
            check_session_providers(self.sessions[name], device, record.path)
        log.info("onnxruntime %s runners on %s (%s)", precision.value, device, ", ".join(self.sessions))

    def _run(self, component: str, *tensors: torch.Tensor) -> torch.Tensor:
        session = self.sessions.get(component)
        if session is None:
            raise InputError(f"model {self.components.model_id!r} has no {component}")
        spec = self.specs[component]
        # Inputs are cast to the I/O dtype of the file (fp32/int64) on their own device; .contiguous() keeps
        # the pointer valid for the whole call because the bound tensors are held in `inputs`.
        inputs = {
            t.name: x.to(device=self.device, dtype=t.torch_dtype).contiguous()
            for t, x in zip(spec.inputs, tensors)
        }
        symbols = spec.bind({name: tuple(x.shape) for name, x in inputs.items()})
        outputs = {
            t.name: torch.empty(t.resolve(symbols), dtype=t.torch_dtype, device=self.device)
            for t in spec.outputs
        }
        binding = session.io_binding()
        device_type, device_id = self.device.type, self.device.index or 0
        for name, x in inputs.items():
            binding.bind_input(
                name, device_type, device_id, element_type(x.dtype), tuple(x.shape), x.data_ptr()
            )
        for name, y in outputs.items():
            binding.bind_output(
                name, device_type, device_id, element_type(y.dtype), tuple(y.shape), y.data_ptr()
            )
        wait_for_torch(self.device)
        session.run_with_iobinding(binding)
        results = tuple(y if y.dtype == self.dtype else y.to(self.dtype) for y in outputs.values())
        return results[0] if len(results) == 1 else results


def element_type(dtype: torch.dtype):
    """What IOBinding takes for a torch dtype: a NumPy type, or the ONNX type number where NumPy has none
    (bf16)."""
    import numpy as np
    from onnx import TensorProto

    types = {
        torch.float32: np.float32,
        torch.float16: np.float16,
        torch.bfloat16: TensorProto.BFLOAT16,
        torch.int64: np.int64,
        torch.int32: np.int32,
    }
    if dtype not in types:
        raise InputError(
            f"ONNX Runtime IO binding takes {', '.join(str(t).removeprefix('torch.') for t in types)} "
            f"tensors, got {str(dtype).removeprefix('torch.')}; cast it first"
        )
    return types[dtype]
