"""What this machine can run: library versions (or why each is missing), devices, kernels."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import platform
from typing import Any

# (label, import name, distribution names to ask for a version, extra that provides it)
OPTIONAL_LIBRARIES = (
    ("torch", "torch", ("torch",), None),
    ("torchvision", "torchvision", ("torchvision",), None),
    ("diffusers", "diffusers", ("diffusers",), None),
    ("transformers", "transformers", ("transformers",), None),
    ("onnx", "onnx", ("onnx",), None),
    ("onnxruntime", "onnxruntime", ("onnxruntime", "onnxruntime-gpu"), None),
    ("dali", "nvidia.dali", ("nvidia-dali-cuda130", "nvidia-dali-cuda120"), "dali"),
    ("deepspeed", "deepspeed", ("deepspeed",), None),
    ("tensorrt", "tensorrt", ("tensorrt", "tensorrt-cu12", "tensorrt-cu13"), "tensorrt"),
)


def library_status(import_name: str, dists: tuple[str, ...], extra: str | None) -> dict[str, Any]:
    """Import the library and report its version, or the reason it cannot be used."""
    try:
        # Some libraries (DeepSpeed) print banners on import; keep stdout clean for `info --json`.
        with contextlib.redirect_stdout(io.StringIO()):
            module = importlib.import_module(import_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is a reason to report, not to crash `info`
        hint = f"pip install 'genrobust-fast[{extra}]'" if extra else f"pip install {dists[0]}"
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}".strip(), "fix": hint}
    version = getattr(module, "__version__", None)
    for dist in dists:
        if version:
            break
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"available": True, "version": version or "unknown"}


def device_status() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "cpu": platform.processor() or platform.machine(),
        "cuda": torch.cuda.is_available(),
    }
    if info["cuda"]:
        info["gpus"] = [
            {
                "name": torch.cuda.get_device_name(i),
                "compute_capability": ".".join(map(str, torch.cuda.get_device_capability(i))),
            }
            for i in range(torch.cuda.device_count())
        ]
    return info


def environment_report() -> dict[str, Any]:
    from . import __version__, kernels

    return {
        "genrobust_fast": __version__,
        "python": platform.python_version(),
        "libraries": {
            label: library_status(mod, dists, extra) for label, mod, dists, extra in OPTIONAL_LIBRARIES
        },
        "devices": device_status(),
        "kernels": kernels.implementation_report(strict=False),
    }
