"""Diffusion model components and the backends that run them (torch, ONNX Runtime, TensorRT).

    from genrobust_fast.engines import create_runners, load_components
    runners = create_runners(load_components("tiny"), backend="auto")

Public names are imported on first use, so importing this package stays cheap (no torch, no
onnxruntime, no tensorrt until a backend is asked for).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_runners": "select",
    "resolve_device": "select",
    "backend_problem": "backends",
    "load_components": "models",
    "save_components": "models",
    "DiffusionComponents": "components",
    "ComponentRunners": "runners",
    "TorchRunners": "runners",
    "Precision": "specs",
    "ShapeProfile": "specs",
    "component_specs": "specs",
    "EngineCache": "cache",
    "EngineKey": "cache",
    "EngineNotBuiltError": "cache",
    "build_engines": "build",
}

__all__ = list(_EXPORTS)  # resolved lazily by __getattr__


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
