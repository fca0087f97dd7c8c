"""ONNX files in the engine cache: the key that says what exported one, where it lives, and
`ensure_onnx`, which returns a committed, key-checked file (exported only when asked).

    record = ensure_onnx(load_components("tiny"), "unet", Precision.FP32, "engines", build=True)
    record.path  -> engines/tiny/onnx-fp32/unet.onnx

Missing: exported only when `build=True`, else `EngineNotBuiltError` naming the build command. Present
with another key: an `EngineMismatchError` naming the rebuild command, unless asked to rebuild. ONNX
Runtime runs these files; TensorRT builds its plans from them (`trt_build`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from ..errors import EngineMismatchError, InputError
from ..outlock import lock_output
from ..writefail import writing
from .cache import (
    DEFAULT_OPSET,
    OPSET_RANGE,
    EngineCache,
    EngineKey,
    EngineNotBuiltError,
    EngineRecord,
    build_command,
    component_weights_hash,
    model_argument,
    model_options,
    model_slug,
    source_revision,
)
from .specs import Precision, component_specs

log = logging.getLogger(__name__)


def onnx_variant(precision: Precision) -> str:
    return f"onnx-{precision.value}"


def onnx_location(components, component: str, precision: Precision, engine_dir: str | Path) -> Path:
    """Where `ensure_onnx` keeps the ONNX file of one component (whether or not it is built yet)."""
    slug = model_slug(model_argument(components))
    return EngineCache(engine_dir).entry_dir(slug, onnx_variant(precision)) / f"{component}.onnx"


def check_opset(opset: int) -> int:
    low, high = OPSET_RANGE
    if isinstance(opset, bool) or not isinstance(opset, int) or not low <= opset <= high:
        raise InputError(
            f"--opset {opset!r} is not supported; the ONNX export works at opsets {low} to {high} "
            f"(default {DEFAULT_OPSET})"
        )
    return opset


def onnx_key(components, component: str, precision: Precision, opset: int = DEFAULT_OPSET) -> EngineKey:
    check_opset(opset)  # refused before any model is loaded or exported
    flags = ("fp16-keep-io-fp32",) if precision is Precision.FP16 else ()
    if flags and component_specs(components)[component].meta.get("fp32"):
        flags = ("fp32-graph:force_upcast",)  # SDXL's VAE: the fp16 entry holds an fp32 graph
    return EngineKey(
        component=component,
        artifact="onnx",
        precision=precision.value,
        weights_sha256=component_weights_hash(components, component),
        onnx_opset=opset,
        builder_flags=("torch.onnx.export:dynamo=False",) + flags,
        model_revision=source_revision(components),
    )


def ensure_onnx(
    components,
    component: str,
    precision: Precision = Precision.FP32,
    engine_dir: str | Path = "engines",
    *,
    build: bool = False,
    force: bool = False,
    opset: int = DEFAULT_OPSET,
    backend_name: str = "onnxruntime",
) -> EngineRecord:
    """The ONNX file of one component: loaded and key-checked, or exported when asked."""
    cache = EngineCache(engine_dir)
    directory = onnx_location(components, component, precision, engine_dir).parent
    key = onnx_key(components, component, precision, opset)
    model = model_argument(components)
    rebuild = build_command(
        model, backend_name, precision.value, engine_dir=engine_dir, model_opts=model_options(components)
    )
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
    return _export(cache, directory, key, components, precision, rebuild)


def _export(cache: EngineCache, directory: Path, key: EngineKey, components, precision, rebuild: str):
    """Export one component into a staging folder beside its entry, then commit it under `key`."""
    with lock_output(directory, key.component):  # two builds of one entry would commit over each other
        return _export_locked(cache, directory, key, components, precision, rebuild)


def _export_locked(cache: EngineCache, directory: Path, key: EngineKey, components, precision, rebuild: str):
    from .onnx_export import export_component

    with writing(directory):
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory))
    try:
        start = time.perf_counter()
        with writing(directory):  # torch.onnx and onnx.save write the staged files
            staged = export_component(components, key.component, staging, precision, key.onnx_opset)
        spec = component_specs(components)[key.component]
        record = cache.commit(
            directory,
            key,
            staged,
            model=model_argument(components),
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
