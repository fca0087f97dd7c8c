"""Build (or find) the artifacts a backend needs, through the engine cache.

    records = build_engines(load_components("tiny"), backend="onnxruntime", engine_dir="engines")
    records = build_engines(comps, backend="tensorrt", precision="fp16",
                            profile=ShapeProfile(batch=(1, 4, 8), size=(512, 512)))

`ensure_onnx` / `ensure_tensorrt` return a committed, key-checked artifact. Missing: built only when
`build=True`, else `EngineNotBuiltError` naming the build command. Present with another key: an
`EngineMismatchError` naming the rebuild command, unless `force=True` rebuilds it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from ..errors import BackendUnavailableError, EngineMismatchError, InputError
from .cache import (
    DEFAULT_OPSET,
    EngineCache,
    EngineKey,
    EngineNotBuiltError,
    EngineRecord,
    build_command,
    component_weights_hash,
    model_argument,
    model_slug,
)
from .specs import COMPONENTS, FP8_REFUSAL, Precision, ShapeProfile, component_specs

log = logging.getLogger(__name__)


def onnx_variant(precision: Precision) -> str:
    return f"onnx-{precision.value}"


def onnx_location(components, component: str, precision: Precision, engine_dir: str | Path) -> Path:
    """Where `ensure_onnx` keeps the ONNX file of one component (whether or not it is built yet)."""
    return (
        EngineCache(engine_dir).entry_dir(model_slug(components), onnx_variant(precision))
        / f"{component}.onnx"
    )


def onnx_key(components, component: str, precision: Precision, opset: int = DEFAULT_OPSET) -> EngineKey:
    flags = ("fp16-keep-io-fp32",) if precision is Precision.FP16 else ()
    return EngineKey(
        component=component,
        artifact="onnx",
        precision=precision.value,
        weights_sha256=component_weights_hash(components, component),
        onnx_opset=opset,
        builder_flags=("torch.onnx.export:dynamo=False",) + flags,
    )


def profile_args(profile: ShapeProfile | None, default_size: tuple[int, int]) -> str:
    """The --batch/--size options that reproduce `profile` on the command line."""
    if profile is None:
        return ""
    lo, opt, hi = profile.sizes(default_size)
    size = f"{opt[0]}x{opt[1]}" if lo == opt == hi else f"{lo[0]}x{lo[1]}:{opt[0]}x{opt[1]}:{hi[0]}x{hi[1]}"
    extra = "" if profile.guidance else " --no-guidance"
    return f"--batch {':'.join(map(str, profile.batch))} --size {size}{extra}"


def ensure_onnx(
    components,
    component: str,
    precision: Precision | str = Precision.FP32,
    engine_dir: str | Path = "engines",
    *,
    build: bool = False,
    force: bool = False,
    opset: int = DEFAULT_OPSET,
    backend_name: str = "onnxruntime",
) -> EngineRecord:
    """The ONNX file of one component: loaded and key-checked, or exported when asked."""
    from .onnx_export import export_component

    precision = Precision.parse(precision)
    cache = EngineCache(engine_dir)
    directory = cache.entry_dir(model_slug(components), onnx_variant(precision))
    key = onnx_key(components, component, precision, opset)
    model = model_argument(components)
    rebuild = build_command(model, backend_name, precision.value, engine_dir=engine_dir)
    if not force:
        try:
            return cache.load(directory, key, rebuild)
        except EngineNotBuiltError:
            if not build:
                raise
        except EngineMismatchError:
            if not build:
                raise
            log.warning(
                "ONNX file for %s does not match; it is rebuilt because building was asked", component
            )
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory))
    try:
        start = time.perf_counter()
        staged = export_component(components, component, staging, precision, opset)
        spec = component_specs(components)[component]
        record = cache.commit(
            directory,
            key,
            staged,
            model=model,
            model_id=components.model_id,
            build_cmd=rebuild,
            extra={
                "inputs": spec.input_names,
                "outputs": spec.output_names,
                "build_seconds": round(time.perf_counter() - start, 2),
            },
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("built %s (%d bytes)", record.path, record.bytes)
    return record


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
    if Precision.parse(precision or "fp32") is Precision.FP8:
        raise BackendUnavailableError(FP8_REFUSAL)
    if backend == "onnxruntime":
        precision = Precision.parse(precision or "fp32")
        if precision not in (Precision.FP32, Precision.FP16):
            raise InputError(
                f"ONNX Runtime runs fp32 or fp16 engines, not {precision.value}; use --precision fp16"
            )
        return [
            ensure_onnx(components, c, precision, engine_dir, build=True, force=force, opset=opset)
            for c in names
        ]
    if backend == "tensorrt":
        from .trt_backend import ensure_tensorrt

        precision = Precision.parse(precision or "fp16")
        return [
            ensure_tensorrt(
                components,
                c,
                precision,
                engine_dir,
                profile or ShapeProfile(),
                build=True,
                force=force,
                refittable=refittable,
                opset=opset,
            )
            for c in names
        ]
    raise InputError(
        f"engines are built for onnxruntime or tensorrt, got backend {backend!r}; torch needs none"
    )


def inspect_record(record: EngineRecord, verify: bool = False) -> dict:
    """The sidecar, plus the graph's inputs/outputs (ONNX) and, with `verify`, a sha256 check."""
    info = record.to_json()
    if record.key.artifact == "onnx" and record.path.is_file():
        import onnx

        model = onnx.load(str(record.path), load_external_data=False)

        def dims(value_info) -> list:
            return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

        info["graph"] = {
            "opset": max(
                (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=None
            ),
            "nodes": len(model.graph.node),
            "inputs": {v.name: dims(v) for v in model.graph.input},
            "outputs": {v.name: dims(v) for v in model.graph.output},
        }
    if verify:
        info["verified"] = EngineCache(record.sidecar.parent.parent.parent).verify(record)
    return info
