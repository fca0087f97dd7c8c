"""Backend selection and the one factory the pipeline calls: `create_runners`.

`auto` picks, on a GPU, tensorrt -> onnxruntime (CUDA provider) -> torch, and on a CPU
onnxruntime -> torch, taking the first whose library, hardware and built engines are all present,
and logs why each earlier choice was skipped. An explicit backend that cannot run raises
`BackendUnavailableError` saying how to fix it (install the extra, build the engine, use a GPU).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..devices import resolve_device
from ..errors import BackendUnavailableError
from .backends import backend_problem, default_precision
from .cache import EngineNotBuiltError
from .runners import ComponentRunners, TorchRunners
from .specs import Precision, ShapeProfile

log = logging.getLogger(__name__)


def _auto_order(device: torch.device) -> tuple[str, ...]:
    return ("tensorrt", "onnxruntime", "torch") if device.type == "cuda" else ("onnxruntime", "torch")


def create_runners(
    components,
    backend: str = "auto",
    precision: Precision | str | None = None,
    device: str | torch.device | None = None,
    engine_dir: str | Path = "engines",
    batch_range: tuple[int, int, int] | None = None,
    size: tuple[int, int] | None = None,
    guidance: bool = True,
    build_if_missing: bool = False,
    compile_unet: bool = False,
    threads: int | None = None,
) -> ComponentRunners:
    """Runners for `components` on the chosen backend; the pipeline calls only their five methods.

    Args:
        backend: "auto", "torch", "onnxruntime" or "tensorrt".
        precision: "fp32", "fp16" or "bf16" ("fp8" is refused until fp8 graphs are exported);
            default fp32 on the CPU, fp16 on a GPU.
        device: "cpu", "cuda", "cuda:N"; default a GPU when there is one.
        engine_dir: the engine cache folder (`genrobust engine build --engine-dir`).
        batch_range: (min, opt, max) images per call the engine must accept (TensorRT profiles;
            ONNX files have dynamic axes and accept any). Default (1, 1, 4).
        size: image (H, W) for TensorRT profiles; default the model's size.
        guidance: classifier-free guidance doubles the text-encoder/UNet batch in TensorRT profiles.
        build_if_missing: export/build engines that are not in the cache instead of raising
            `EngineNotBuiltError`. A cached engine whose key does not match is always an error
            (`EngineMismatchError`) naming the rebuild command.
        compile_unet: torch backend only: torch.compile the UNet (GPU).
        threads: ONNX Runtime intra-op threads (default: physical cores).

    Example:
        >>> comps = load_components("tiny")
        >>> runners = create_runners(comps, backend="onnxruntime", build_if_missing=True)
        >>> runners.backend
        'onnxruntime'
    """
    device = resolve_device(device)
    precision = Precision.parse(precision) if precision is not None else default_precision(device)
    profile = ShapeProfile(batch=tuple(batch_range or (1, 1, 4)), size=size, guidance=guidance)  # type: ignore[arg-type]

    def make(name: str) -> ComponentRunners:
        if name == "torch":
            return TorchRunners(components, device, precision.torch_dtype, compile_unet=compile_unet)
        if name == "onnxruntime":
            from .ort_backend import OrtRunners

            return OrtRunners(components, device, precision, engine_dir, build_if_missing, threads)
        from .trt_runtime import TrtRunners

        return TrtRunners(components, device, precision, engine_dir, profile, build_if_missing)

    if backend != "auto":
        problem = backend_problem(backend, device, precision)
        if problem:
            raise BackendUnavailableError(f"backend {backend!r} cannot run on {device}: {problem}")
        return make(backend)

    skipped = []
    for name in _auto_order(device):
        problem = backend_problem(name, device, precision)
        if problem is None:
            try:
                runners = make(name)
            except EngineNotBuiltError as exc:
                problem = str(exc)
            else:
                why = "; ".join(skipped) if skipped else "first choice"
                log.info("backend auto -> %s on %s (%s) [%s]", name, device, precision.value, why)
                return runners
        skipped.append(f"{name} skipped: {problem}")
    raise BackendUnavailableError(
        f"no backend can run on {device} at {precision.value}: {' | '.join(skipped)}"
    )
