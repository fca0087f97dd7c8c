"""Build (or find) the artifacts a backend needs, through the engine cache: `genrobust engine build`
and `engine inspect` in library form.

    records = build_engines(load_components("tiny"), backend="onnxruntime", engine_dir="engines")
    records = build_engines(comps, backend="tensorrt", precision="fp16",
                            profile=ShapeProfile(batch=(1, 4, 8), size=(512, 512)))

The ONNX files come from `onnx_build.ensure_onnx`, the TensorRT plans from `trt_build.ensure_tensorrt`;
both return committed, key-checked artifacts.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BackendUnavailableError, InputError
from .backends import ENGINE_BACKENDS
from .cache import DEFAULT_OPSET, EngineCache, EngineRecord
from .onnx_build import ensure_onnx
from .specs import COMPONENTS, FP8_REFUSAL, Precision, ShapeProfile, component_specs


def select_components(components, only: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Components to build: `only` (checked against the model), else every component the model has."""
    available = [c for c in COMPONENTS if c in component_specs(components)]
    if not only:
        return available
    unknown = [c for c in only if c not in available]
    if unknown:
        raise InputError(f"model {components.model_id!r} has no component(s) {unknown}; it has {available}")
    return list(only)


def build_engines(
    components,
    backend: str = "onnxruntime",
    precision: Precision | str | None = None,
    engine_dir: str | Path = "engines",
    profile: ShapeProfile | None = None,
    only: list[str] | None = None,
    force: bool = False,
    refittable: bool = False,
    opset: int = DEFAULT_OPSET,
) -> list[EngineRecord]:
    """Build every missing engine of `backend` (`force` rebuilds existing ones); returns their records.

    build_engines(load_components("tiny"), "onnxruntime")   # engines/tiny/onnx-fp32/*.onnx
    """
    names = select_components(components, only)
    # The one parse: Python callers may pass text ("fp16"); everything below takes the enum.
    chosen = Precision.parse(precision) if precision is not None else None
    if chosen is Precision.FP8:
        raise BackendUnavailableError(FP8_REFUSAL)
    if backend == "onnxruntime":
        precision = chosen or Precision.FP32
        if precision not in (Precision.FP32, Precision.FP16):
            raise InputError(
                f"ONNX Runtime runs fp32 or fp16 engines, not {precision.value}; use --precision fp16"
            )
        return [
            ensure_onnx(components, c, precision, engine_dir, build=True, force=force, opset=opset)
            for c in names
        ]
    if backend == "tensorrt":
        from .trt_build import TrtRequest, ensure_tensorrt

        precision = chosen or Precision.FP16
        request = TrtRequest.here(components, precision, engine_dir, profile or ShapeProfile(), opset)
        return [ensure_tensorrt(request, c, build=True, force=force, refittable=refittable) for c in names]
    raise InputError(
        f"engines are built for {' or '.join(ENGINE_BACKENDS)}, got backend {backend!r}; torch needs none"
    )


def inspect_record(record: EngineRecord, verify: bool = False) -> dict:
    """The sidecar, plus the graph's inputs/outputs (ONNX) and, with `verify`, a sha256 check."""
    info = record.to_json()
    if record.key.artifact == "onnx" and record.path.is_file():
        info["graph"] = _onnx_graph(record.path)
    if verify:
        info["verified"] = EngineCache.holding(record.sidecar).verify(record)
    return info


def _onnx_graph(path: Path) -> dict:
    import onnx

    model = onnx.load(str(path), load_external_data=False)

    def dims(value_info) -> list:
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    return {
        "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=None),
        "nodes": len(model.graph.node),
        "inputs": {v.name: dims(v) for v in model.graph.input},
        "outputs": {v.name: dims(v) for v in model.graph.output},
    }
