"""TensorRT backend: build plans from the fp32 ONNX files, run them on torch CUDA buffers, refit weights.

Everything up to the TensorRT call is plain Python and tested on CPU machines: precision checks
against compute capability, the `BuildPlan` (builder flags from the precision enum, min/opt/max
profiles from the component spec, timing-cache path per GPU and TensorRT version), the cache key and
its mismatch errors, and the profile check on input shapes. `import tensorrt` happens only inside
`build_engine`, `TrtEngine` and `refit_engine`.

    plan = make_build_plan(spec, ShapeProfile(batch=(1, 4, 8), size=(512, 512)), "fp16", ...)
    build_engine(plan, Path("engines/.../unet.plan"))
    engine = TrtEngine(Path("engines/.../unet.plan"), profiles=plan.profiles)
    out = engine.run({"sample": x, "timestep": t, "encoder_hidden_states": ctx})

Precision: the ONNX file is fp32 and the network weakly typed, so `fp16`/`bf16` let TensorRT pick
fp16/bf16 kernels where faster; `fp32` also clears TF32 so fp32 parity holds to 1e-4. `fp8` sets FP8
and FP16: TensorRT runs fp8 only for layers an fp8 Q/DQ-quantized ONNX marks (e.g. from
nvidia-modelopt); without them the engine is effectively fp16.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import BackendUnavailableError, EngineMismatchError, InputError
from ..fileio import atomic_path, atomic_write_bytes
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
from .runners import GraphRunners
from .specs import ComponentSpec, Precision, ShapeProfile, component_specs, text_length

log = logging.getLogger(__name__)

PRECISION_FLAGS = {
    Precision.FP32: (),
    Precision.FP16: ("FP16",),
    Precision.BF16: ("BF16",),
    Precision.FP8: ("FP8", "FP16"),
}
DEFAULT_WORKSPACE = 8 << 30


def check_precision(precision: Precision | str, compute_capability: tuple[int, int]) -> None:
    """Raise BackendUnavailableError when the GPU lacks the precision (bf16: sm80+, fp8: sm89+)."""
    precision = Precision.parse(precision)
    need = precision.min_compute_capability
    if tuple(compute_capability) < need:
        have = ".".join(map(str, compute_capability))
        raise BackendUnavailableError(
            f"precision {precision.value} needs compute capability {need[0]}.{need[1]}+, this GPU has {have}; "
            f"use --precision {'fp16' if precision is not Precision.FP16 else 'fp32'}"
        )


@dataclass(frozen=True)
class BuildPlan:
    """Everything `build_engine` passes to TensorRT, decided without importing it."""

    component: str
    onnx_path: Path
    precision: Precision
    profiles: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]
    builder_flags: tuple[str, ...]  # names of trt.BuilderFlag members to set
    cleared_flags: tuple[str, ...]  # names of trt.BuilderFlag members to clear (TF32 for fp32)
    timing_cache: Path | None
    workspace_bytes: int = DEFAULT_WORKSPACE

    @property
    def static(self) -> bool:
        """min == opt == max for every input: the engine can be replayed as a CUDA graph."""
        return all(lo == hi for lo, _, hi in self.profiles.values())

    def key_flags(self) -> tuple[str, ...]:
        return self.builder_flags + tuple(f"!{f}" for f in self.cleared_flags) + (("STATIC",) if self.static else ())

    def key(self, weights_sha256: str, tensorrt_version: str, compute_capability: str, opset: int) -> EngineKey:
        return EngineKey(
            component=self.component,
            artifact="tensorrt",
            precision=self.precision.value,
            weights_sha256=weights_sha256,
            onnx_opset=opset,
            profiles={k: [list(s) for s in v] for k, v in self.profiles.items()},
            tensorrt_version=tensorrt_version,
            compute_capability=compute_capability,
            builder_flags=self.key_flags(),
        )


def make_build_plan(
    spec: ComponentSpec,
    profile: ShapeProfile,
    precision: Precision | str,
    default_size: tuple[int, int],
    context_len: int,
    onnx_path: Path,
    timing_cache: Path | None = None,
    refittable: bool = False,
    workspace_bytes: int = DEFAULT_WORKSPACE,
) -> BuildPlan:
    precision = Precision.parse(precision)
    flags = PRECISION_FLAGS[precision] + (("REFIT",) if refittable else ())
    return BuildPlan(
        component=spec.name,
        onnx_path=Path(onnx_path),
        precision=precision,
        profiles=spec.profile_shapes(profile, default_size, context_len),
        builder_flags=flags,
        cleared_flags=("TF32",) if precision is Precision.FP32 else (),
        timing_cache=timing_cache,
        workspace_bytes=workspace_bytes,
    )


def check_shapes(component: str, profiles: dict[str, Any], shapes: dict[str, tuple[int, ...]], rebuild: str) -> None:
    """An input shape outside the engine's [min, max] profile is an InputError naming the rebuild."""
    for name, shape in shapes.items():
        lo, _, hi = profiles[name]
        if len(shape) != len(lo) or any(s < a or s > b for s, a, b in zip(shape, lo, hi)):
            raise InputError(
                f"{component}.{name} has shape {tuple(shape)}, outside the engine's profile "
                f"{tuple(lo)}..{tuple(hi)}; rebuild with a range that covers it: {rebuild}"
            )


def variant_name(precision: Precision, profile: ShapeProfile, default_size: tuple[int, int]) -> str:
    return f"tensorrt-{precision.value}-{profile.tag(default_size)}"


# --- TensorRT calls (GPU machines) ----------------------------------------------------------------

def _trt():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailableError(
            f"TensorRT is not installed ({exc}); pip install 'genrobust-fast[tensorrt]' on a GPU machine"
        ) from exc
    return trt


def gpu_identity(device: torch.device | None = None) -> tuple[str, str]:
    """(TensorRT version, compute capability 'M.m') of this machine; the parts of a key tied to hardware."""
    trt = _trt()
    if not torch.cuda.is_available():
        raise BackendUnavailableError("TensorRT engines need a CUDA GPU; torch sees none here")
    major, minor = torch.cuda.get_device_capability(device)
    return trt.__version__, f"{major}.{minor}"


def build_engine(plan: BuildPlan, out_path: Path) -> int:
    """Build and serialize one engine to `out_path` (temp name + rename); returns its size in bytes."""
    trt = _trt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(plan.onnx_path)):  # parse_from_file follows external data
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise InputError(f"TensorRT cannot parse {str(plan.onnx_path)!r}: {errors}; rebuild the ONNX file with --force")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, plan.workspace_bytes)
    for flag in plan.builder_flags:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    for flag in plan.cleared_flags:
        config.clear_flag(getattr(trt.BuilderFlag, flag))
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in plan.profiles.items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    cache_bytes = plan.timing_cache.read_bytes() if plan.timing_cache and plan.timing_cache.is_file() else b""
    timing_cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(timing_cache, ignore_mismatch=False)
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendUnavailableError(
            f"TensorRT failed to build {plan.component} ({plan.precision.value}); see the TensorRT log above"
        )
    log.info("built %s in %.1f s", plan.component, time.perf_counter() - start)
    if plan.timing_cache is not None:
        atomic_write_bytes(plan.timing_cache, bytes(config.get_timing_cache().serialize()))
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(bytes(serialized))
    return out_path.stat().st_size


def refit_engine(engine_path: Path, onnx_path: Path, out_path: Path) -> None:
    """Load the weights of `onnx_path` (same architecture) into a refittable engine; write to `out_path`."""
    trt = _trt()
    logger = trt.Logger(trt.Logger.WARNING)
    engine = trt.Runtime(logger).deserialize_cuda_engine(engine_path.read_bytes())
    if engine is None:
        raise EngineMismatchError(f"TensorRT cannot load {str(engine_path)!r}; rebuild it with --force")
    if not engine.refittable:
        raise InputError(f"engine {str(engine_path)!r} was not built refittable; rebuild with --refittable")
    refitter = trt.Refitter(engine, logger)
    parser = trt.OnnxParserRefitter(refitter, logger)
    if not parser.refit_from_file(str(onnx_path)) or not refitter.refit_cuda_engine():
        raise EngineMismatchError(
            f"cannot refit {str(engine_path)!r} with {str(onnx_path)!r}: the architectures differ; build a new engine"
        )
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(bytes(engine.serialize()))


class TrtEngine:
    """One deserialized engine: set shapes, bind torch tensors by address, run on torch's stream.

    Static-shape engines are captured as a CUDA graph after the first call and replayed.
    """

    def __init__(self, path: Path, profiles: dict[str, Any], device: torch.device, rebuild: str):
        trt = _trt()
        self.trt, self.path, self.profiles, self.device, self.rebuild = trt, path, profiles, device, rebuild
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise EngineMismatchError(f"TensorRT cannot deserialize {str(path)!r} (corrupt or other version); {rebuild}")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.static = all(lo == hi for lo, _, hi in profiles.values())
        self._graph = None

    def _dtype(self, name: str) -> torch.dtype:
        trt = self.trt
        return {trt.float32: torch.float32, trt.float16: torch.float16, trt.bfloat16: torch.bfloat16,
                trt.int64: torch.int64, trt.int32: torch.int32}[self.engine.get_tensor_dtype(name)]

    def _bind(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        for name, x in inputs.items():
            self.context.set_input_shape(name, tuple(x.shape))
            self.context.set_tensor_address(name, x.data_ptr())
        outputs = {}
        for name in self.outputs:
            outputs[name] = torch.empty(tuple(self.context.get_tensor_shape(name)), dtype=self._dtype(name),
                                        device=self.device)
            self.context.set_tensor_address(name, outputs[name].data_ptr())
        return outputs

    def run(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        check_shapes(self.path.stem, self.profiles, {k: tuple(v.shape) for k, v in inputs.items()}, self.rebuild)
        inputs = {k: v.to(device=self.device, dtype=self._dtype(k)).contiguous() for k, v in inputs.items()}
        stream = torch.cuda.current_stream(self.device)
        if not self.static:
            outputs = self._bind(inputs)
            if not self.context.execute_async_v3(stream.cuda_stream):
                raise BackendUnavailableError(f"TensorRT execution of {self.path.name} failed")
            return outputs
        if self._graph is None:  # first call: run once (TensorRT initialises lazily), then capture
            self._static_in = {k: v.clone() for k, v in inputs.items()}
            self._static_out = self._bind(self._static_in)
            self.context.execute_async_v3(stream.cuda_stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=torch.cuda.Stream(self.device)):
                self.context.execute_async_v3(torch.cuda.current_stream(self.device).cuda_stream)
            self._graph = graph
        for k, v in inputs.items():
            self._static_in[k].copy_(v)
        self._graph.replay()
        return {k: v.clone() for k, v in self._static_out.items()}


def ensure_tensorrt(
    components,
    component: str,
    precision: Precision | str,
    engine_dir: str | Path,
    profile: ShapeProfile,
    *,
    build: bool = False,
    force: bool = False,
    refittable: bool = False,
    opset: int = DEFAULT_OPSET,
) -> EngineRecord:
    """The TensorRT plan of one component for this GPU, TensorRT version, precision and profile."""
    from .build import ensure_onnx, profile_args

    precision = Precision.parse(precision)
    trt_version, cc = gpu_identity()
    check_precision(precision, tuple(int(p) for p in cc.split(".")))  # type: ignore[arg-type]
    cache = EngineCache(engine_dir)
    default = components.default_size
    directory = cache.entry_dir(model_slug(components), variant_name(precision, profile, default))
    rebuild = build_command(
        model_argument(components), "tensorrt", precision.value, profile_args(profile, default), engine_dir=engine_dir
    )
    onnx_record = ensure_onnx(components, component, Precision.FP32, engine_dir, build=build, opset=opset,
                              backend_name="tensorrt")
    sidecar = directory / f"{component}.json"
    if not refittable and not force and sidecar.is_file() and "REFIT" in cache.read(sidecar).key.builder_flags:
        refittable = True  # a refittable engine serves a plain request just as well (refit keeps everything else)
    plan = make_build_plan(
        component_specs(components)[component], profile, precision, default, text_length(components),
        onnx_record.path, cache.timing_cache_path(trt_version, cc), refittable,
    )
    key = plan.key(component_weights_hash(components, component), trt_version, cc, opset)
    if not force:
        try:
            return cache.load(directory, key, rebuild)
        except (EngineNotBuiltError, EngineMismatchError):
            if not build:
                raise
    directory.mkdir(parents=True, exist_ok=True)
    staged = directory / f".{component}.plan.staged"
    start = time.perf_counter()
    build_engine(plan, staged)
    return cache.commit(
        directory, key, {f"{component}.plan": staged}, model=model_argument(components),
        model_id=components.model_id, build_cmd=rebuild,
        extra={"inputs": list(plan.profiles), "build_seconds": round(time.perf_counter() - start, 2)},
    )


class TrtRunners(GraphRunners):
    """The five runner calls on TensorRT engines (one per component, built for one shape profile)."""

    backend = "tensorrt"
    timestep_dtype = torch.float32  # TensorRT profiles declare the timestep as float

    def __init__(self, components, device, precision, engine_dir, profile: ShapeProfile, build_if_missing=False,
                 only: list[str] | None = None):
        precision = Precision.parse(precision)
        super().__init__(components, torch.device(device), precision.torch_dtype)
        self.engine_precision = precision
        self.specs = component_specs(components)
        self.engines: dict[str, TrtEngine] = {}
        for name in only or list(self.specs):
            record = ensure_tensorrt(components, name, precision, engine_dir, profile, build=build_if_missing)
            profiles = {k: [tuple(s) for s in v] for k, v in record.key.profiles.items()}
            self.engines[name] = TrtEngine(record.path, profiles, self.device, record.build_command)

    def _run(self, component: str, *tensors: torch.Tensor) -> torch.Tensor:
        spec = self.specs[component]
        out = self.engines[component].run(dict(zip(spec.input_names, tensors)))[spec.output_names[0]]
        return out if out.dtype == self.dtype else out.to(self.dtype)


def refit_engines(
    components,
    base_model: str,
    precision: Precision | str,
    engine_dir: str | Path,
    profile: ShapeProfile,
    only: list[str] | None = None,
    opset: int = DEFAULT_OPSET,
) -> list[EngineRecord]:
    """Copy `base_model`'s refittable engines to `components`' cache folder with `components`' weights.

    For a finetuned generator: same architecture, new weights, no multi-minute rebuild. Every key
    field except the weights hash must match the base engine, else EngineMismatchError.
    """
    from .build import ensure_onnx, profile_args
    from .cache import _slug_of_arg

    precision = Precision.parse(precision)
    trt_version, cc = gpu_identity()
    cache = EngineCache(engine_dir)
    default = components.default_size
    variant = variant_name(precision, profile, default)
    src_dir = cache.entry_dir(_slug_of_arg(base_model), variant)
    dst_dir = cache.entry_dir(model_slug(components), variant)
    model = model_argument(components)
    rebuild = build_command(model, "tensorrt", precision.value, profile_args(profile, default), engine_dir=engine_dir)
    records = []
    for name in only or ["unet"]:
        sidecar = src_dir / f"{name}.json"
        if not sidecar.is_file():
            raise EngineNotBuiltError(
                f"no base engine {str(sidecar)!r} to refit; build it with: "
                f"{build_command(base_model, 'tensorrt', precision.value, profile_args(profile, default), False, engine_dir)}"
                " --refittable"
            )
        base = cache.read(sidecar)
        onnx_record = ensure_onnx(components, name, Precision.FP32, engine_dir, build=True, opset=opset,
                                  backend_name="tensorrt")
        plan = make_build_plan(component_specs(components)[name], profile, precision, default,
                               text_length(components), onnx_record.path, None, refittable=True)
        key = plan.key(component_weights_hash(components, name), trt_version, cc, opset)
        diffs = [d for d in base.key.differences(key) if not d.startswith("weights_sha256")]
        if diffs:
            raise EngineMismatchError(
                f"base engine {str(base.path)!r} cannot be refitted for this request ({'; '.join(diffs)}); "
                f"build a refittable one with: {rebuild.removesuffix(' --force')} --refittable"
            )
        dst_dir.mkdir(parents=True, exist_ok=True)
        staged = dst_dir / f".{name}.plan.staged"
        refit_engine(base.path, onnx_record.path, staged)
        records.append(cache.commit(dst_dir, key, {f"{name}.plan": staged}, model=model,
                                    model_id=components.model_id, build_cmd=rebuild,
                                    extra={"inputs": list(plan.profiles)}))
    return records
