"""TensorRT backend: build plans from the fp32 ONNX files, run them on torch CUDA buffers, refit weights.

Everything up to the TensorRT call is plain Python and tested on CPU machines: precision checks
against compute capability, the `BuildPlan` (typing mode and builder flags from the precision enum,
min/opt/max profiles from the component spec, timing-cache path per GPU and TensorRT version), the
cache key and its mismatch errors, the choice of a cached engine whose profile covers a job's shapes,
and the profile check on input shapes. The TensorRT calls themselves are tested against a fake
`tensorrt` module of each major version (tests/engines/fake_tensorrt.py).

    plan = make_build_plan(spec, ShapeProfile(batch=(1, 4, 8), size=(512, 512)), "fp16", ...)
    build_engine(plan, Path("engines/.../unet.plan"))
    engine = TrtEngine(Path("engines/.../unet.plan"), profiles=plan.profiles)
    out = engine.run({"sample": x, "timestep": t, "encoder_hidden_states": ctx})

Precision, TensorRT 10 ("weak" typing): the ONNX file is fp32 and the BuilderFlag FP16/BF16 lets
TensorRT pick fp16/bf16 kernels where faster. TensorRT 11 removed those flags and builds every network
strongly typed ("strong"): the precision is the ONNX graph's own, so the engine is built from the fp16
ONNX file (fp32 graph inputs/outputs, fp32 kept where ONNX Runtime's converter keeps it); bf16 would need
a bf16 graph, which is not exported yet, so TensorRT 11 refuses bf16. `fp32` clears TF32 in both so
fp32 parity holds to 1e-4. fp8 is refused (`specs.FP8_REFUSAL`). The engine key records the typing.
"""

from __future__ import annotations

import contextlib
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
from .specs import FP8_REFUSAL, ComponentSpec, Precision, ShapeProfile, component_specs, text_length

log = logging.getLogger(__name__)

# TensorRT 10's weak typing: the fp32 ONNX graph plus these BuilderFlag members.
PRECISION_FLAGS = {
    Precision.FP32: (),
    Precision.FP16: ("FP16",),
    Precision.BF16: ("BF16",),
}
# TensorRT 11's strong typing: precisions whose ONNX graph the export writes in that precision.
STRONG_ONNX_PRECISIONS = (Precision.FP32, Precision.FP16)
DEFAULT_WORKSPACE = 8 << 30
SUPPORTED = "genrobust-fast builds with TensorRT 10.x (precision flags) and 11.x (strongly typed)"


def tensorrt_typing(trt) -> str:
    """'weak' when this TensorRT still has the precision BuilderFlags (10.x), else 'strong' (11.x)."""
    return "weak" if hasattr(trt.BuilderFlag, "FP16") else "strong"


def precision_problem(precision: Precision, typing: str, version: str = "") -> str | None:
    """Why TensorRT in this typing mode cannot build `precision` engines here, and the fix; None if it can."""
    if precision is Precision.FP8:
        return FP8_REFUSAL
    if typing == "strong" and precision not in STRONG_ONNX_PRECISIONS:
        return (
            f"TensorRT {version} builds strongly typed networks only, so a {precision.value} engine needs a "
            f"{precision.value} ONNX graph, which genrobust-fast does not export yet; use --precision fp16, "
            "or TensorRT 10 (pip install 'tensorrt>=10,<11') for bf16"
        )
    return None


def tensorrt_precision_problem(precision: Precision | str) -> str | None:
    """precision_problem for the TensorRT installed here (imports it)."""
    trt = _trt()
    return precision_problem(Precision.parse(precision), tensorrt_typing(trt), trt.__version__)


def check_precision(precision: Precision | str, compute_capability: tuple[int, int]) -> None:
    """Raise BackendUnavailableError when the GPU lacks the precision (bf16: sm80+, fp8: sm89+)."""
    precision = Precision.parse(precision)
    need = precision.min_compute_capability
    if tuple(compute_capability) < need:
        have = ".".join(map(str, compute_capability))
        raise BackendUnavailableError(
            f"precision {precision.value} needs compute capability {need[0]}.{need[1]}+, this GPU has "
            f"{have}; use --precision {'fp16' if precision is not Precision.FP16 else 'fp32'}"
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
    strongly_typed: bool = False  # TensorRT 11: the types come from the ONNX graph
    onnx_precision: Precision = Precision.FP32  # the ONNX file the engine is parsed from

    @property
    def static(self) -> bool:
        """min == opt == max for every input: the engine can be replayed as a CUDA graph."""
        return all(lo == hi for lo, _, hi in self.profiles.values())

    def key_flags(self) -> tuple[str, ...]:
        typing = (
            ("STRONGLY_TYPED", f"ONNX_{self.onnx_precision.value.upper()}") if self.strongly_typed else ()
        )
        return (
            self.builder_flags
            + tuple(f"!{f}" for f in self.cleared_flags)
            + typing
            + (("STATIC",) if self.static else ())
        )

    def key(
        self, weights_sha256: str, tensorrt_version: str, compute_capability: str, opset: int
    ) -> EngineKey:
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
    typing: str = "weak",
) -> BuildPlan:
    """What to build for `spec`: `typing` is tensorrt_typing() of the TensorRT that will build it."""
    precision = Precision.parse(precision)
    problem = precision_problem(precision, typing)
    if problem:
        raise BackendUnavailableError(problem)
    strong = typing == "strong"
    flags = () if strong else PRECISION_FLAGS[precision]
    return BuildPlan(
        component=spec.name,
        onnx_path=Path(onnx_path),
        precision=precision,
        profiles=spec.profile_shapes(profile, default_size, context_len),
        builder_flags=flags + (("REFIT",) if refittable else ()),
        cleared_flags=("TF32",) if precision is Precision.FP32 else (),
        timing_cache=timing_cache,
        workspace_bytes=workspace_bytes,
        strongly_typed=strong,
        onnx_precision=precision if strong else Precision.FP32,
    )


def check_shapes(
    component: str, profiles: dict[str, Any], shapes: dict[str, tuple[int, ...]], rebuild: str
) -> None:
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
    except (ImportError, OSError) as exc:  # OSError: installed, but its CUDA libraries do not load
        raise BackendUnavailableError(
            f"TensorRT cannot be imported ({type(exc).__name__}: {exc}); pip install "
            "'genrobust-fast[tensorrt]' on a GPU machine, matching its CUDA major version"
        ) from exc
    return trt


@contextlib.contextmanager
def _tensorrt_api(trt, doing: str):
    """A TensorRT API this code relies on but the installed version lacks is a BackendUnavailableError."""
    try:
        yield
    except AttributeError as exc:
        raise BackendUnavailableError(
            f"TensorRT {getattr(trt, '__version__', '?')} lacks {exc} ({doing}); {SUPPORTED}"
        ) from exc


def gpu_identity(device: torch.device | None = None) -> tuple[str, str]:
    """(TensorRT version, compute capability 'M.m') of this machine; the parts of a key tied to hardware."""
    trt = _trt()
    if not torch.cuda.is_available():
        raise BackendUnavailableError("TensorRT engines need a CUDA GPU; torch sees none here")
    major, minor = torch.cuda.get_device_capability(device)
    return trt.__version__, f"{major}.{minor}"


def _major(version: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return 0


def _network_flags(trt, plan: BuildPlan) -> int:
    """create_network's flags: STRONGLY_TYPED for a strong plan (TensorRT 11 is strongly typed anyway)."""
    if not plan.strongly_typed:
        return 0
    strongly_typed = getattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "STRONGLY_TYPED", None)
    if strongly_typed is not None:
        return 1 << int(strongly_typed)
    if _major(trt.__version__) >= 11:
        return 0  # the flag may go once it is the only mode
    raise BackendUnavailableError(
        f"TensorRT {trt.__version__} cannot build strongly typed networks, which this {plan.precision.value} "
        f"plan needs; {SUPPORTED}"
    )


def _flags(trt, names: tuple[str, ...], plan: BuildPlan) -> list:
    missing = [n for n in names if not hasattr(trt.BuilderFlag, n)]
    if missing:
        raise BackendUnavailableError(
            f"TensorRT {trt.__version__} has no BuilderFlag {', '.join(missing)}, which a "
            f"{plan.precision.value} engine built this way needs (TensorRT 11 removed the precision flags); "
            f"rebuild the engine with this TensorRT (--force) so its plan is made for it. {SUPPORTED}"
        )
    return [getattr(trt.BuilderFlag, n) for n in names]


def build_engine(plan: BuildPlan, out_path: Path) -> int:
    """Build and serialize one engine to `out_path` (temp name + rename); returns its size in bytes."""
    trt = _trt()
    with _tensorrt_api(trt, f"building {plan.component}"):
        set_flags = _flags(trt, plan.builder_flags, plan)
        # Clearing a flag this TensorRT does not have is already done: nothing can turn it on.
        clear_flags = [getattr(trt.BuilderFlag, n) for n in plan.cleared_flags if hasattr(trt.BuilderFlag, n)]
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(
            _network_flags(trt, plan)
        )  # explicit batch is the only mode since 10
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(str(plan.onnx_path)):  # parse_from_file follows external data
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise InputError(
                f"TensorRT cannot parse {str(plan.onnx_path)!r}: {errors}; rebuild the ONNX file with --force"
            )
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, plan.workspace_bytes)
        for flag in set_flags:
            config.set_flag(flag)
        for flag in clear_flags:
            config.clear_flag(flag)
        profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in plan.profiles.items():
            profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(profile)
        cache_bytes = (
            plan.timing_cache.read_bytes() if plan.timing_cache and plan.timing_cache.is_file() else b""
        )
        timing_cache = config.create_timing_cache(cache_bytes)
        config.set_timing_cache(timing_cache, ignore_mismatch=False)
        start = time.perf_counter()
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise BackendUnavailableError(
                f"TensorRT failed to build {plan.component} ({plan.precision.value}); see the TensorRT log "
                "above"
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
    with _tensorrt_api(trt, f"refitting {engine_path.name}"):
        logger = trt.Logger(trt.Logger.WARNING)
        engine = trt.Runtime(logger).deserialize_cuda_engine(engine_path.read_bytes())
        if engine is None:
            raise EngineMismatchError(f"TensorRT cannot load {str(engine_path)!r}; rebuild it with --force")
        if not engine.refittable:
            raise InputError(
                f"engine {str(engine_path)!r} was not built refittable; rebuild with --refittable"
            )
        refitter = trt.Refitter(engine, logger)
        parser = trt.OnnxParserRefitter(refitter, logger)
        if not parser.refit_from_file(str(onnx_path)) or not refitter.refit_cuda_engine():
            raise EngineMismatchError(
                f"cannot refit {str(engine_path)!r} with {str(onnx_path)!r}: the architectures differ; build "
                "a new engine"
            )
        data = bytes(engine.serialize())
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(data)


class TrtEngine:
    """One deserialized engine: set shapes, bind torch tensors by address, run on torch's stream.

    Static-shape engines are captured as a CUDA graph after the first call and replayed.
    """

    def __init__(self, path: Path, profiles: dict[str, Any], device: torch.device, rebuild: str):
        trt = _trt()
        self.trt, self.path, self.profiles, self.device, self.rebuild = trt, path, profiles, device, rebuild
        with _tensorrt_api(trt, f"loading {path.name}"):
            self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(
                path.read_bytes()
            )
            if self.engine is None:
                raise EngineMismatchError(
                    f"TensorRT cannot deserialize {str(path)!r} (corrupt or other version); rebuild it with: "
                    f"{rebuild}"
                )
            self.context = self.engine.create_execution_context()
            names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
            self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
            self.dtypes = {n: self._dtype(n) for n in names}
        self.static = all(lo == hi for lo, _, hi in profiles.values())
        self._graph = None

    def _dtype(self, name: str) -> torch.dtype:
        trt = self.trt
        return {
            trt.float32: torch.float32,
            trt.float16: torch.float16,
            trt.bfloat16: torch.bfloat16,
            trt.int64: torch.int64,
            trt.int32: torch.int32,
        }[self.engine.get_tensor_dtype(name)]

    def _bind(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        for name, x in inputs.items():
            self.context.set_input_shape(name, tuple(x.shape))
            self.context.set_tensor_address(name, x.data_ptr())
        outputs = {}
        for name in self.outputs:
            outputs[name] = torch.empty(
                tuple(self.context.get_tensor_shape(name)), dtype=self.dtypes[name], device=self.device
            )
            self.context.set_tensor_address(name, outputs[name].data_ptr())
        return outputs

    def _execute(self, stream, stage: str) -> None:
        """One enqueue; False from TensorRT (bad shapes, addresses, a failed kernel) must not pass silently,
        least of all into a CUDA graph that would replay it."""
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise BackendUnavailableError(
                f"TensorRT execution of {self.path.name} failed ({stage}); see the TensorRT log above. "
                f"If it persists, rebuild the engine: {self.rebuild}"
            )

    def run(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        check_shapes(
            self.path.stem, self.profiles, {k: tuple(v.shape) for k, v in inputs.items()}, self.rebuild
        )
        # Inputs are cast to the types the engine declares (a strongly typed fp16 engine may declare fp16).
        inputs = {k: v.to(device=self.device, dtype=self.dtypes[k]).contiguous() for k, v in inputs.items()}
        stream = torch.cuda.current_stream(self.device)
        if not self.static:
            outputs = self._bind(inputs)
            self._execute(stream, "run")
            return outputs
        if self._graph is None:  # first call: run once (TensorRT initialises lazily), then capture
            static_in = {k: v.clone() for k, v in inputs.items()}
            static_out = self._bind(static_in)
            self._execute(stream, "warm-up before CUDA-graph capture")
            graph = torch.cuda.CUDAGraph()
            capture = torch.cuda.Stream(self.device)
            with torch.cuda.graph(graph, stream=capture):
                ok = self.context.execute_async_v3(capture.cuda_stream)
            if not ok:  # raised after the capture block, so the capture is closed first
                raise BackendUnavailableError(
                    f"TensorRT execution of {self.path.name} failed while being captured as a CUDA graph; "
                    "see the TensorRT log above. Rebuild with a batch range (MIN < MAX) to run it "
                    f"uncaptured: {self.rebuild}"
                )
            self._graph, self._static_in, self._static_out = graph, static_in, static_out
        for k, v in inputs.items():
            self._static_in[k].copy_(v)
        self._graph.replay()
        return {k: v.clone() for k, v in self._static_out.items()}


def _identity_and_typing(precision: Precision) -> tuple[str, str, str]:
    """(TensorRT version, compute capability, typing) here, after refusing precisions it cannot build."""
    trt = _trt()
    trt_version, cc = gpu_identity()
    typing = tensorrt_typing(trt)
    problem = precision_problem(precision, typing, trt_version)
    if problem:
        raise BackendUnavailableError(problem)
    check_precision(precision, tuple(int(p) for p in cc.split(".")))  # type: ignore[arg-type]
    return trt_version, cc, typing


def _plan_for(
    components,
    component: str,
    precision: Precision,
    engine_dir,
    profile: ShapeProfile,
    typing: str,
    timing_cache: Path | None,
    refittable: bool,
) -> BuildPlan:
    from .build import onnx_location

    onnx_precision = precision if typing == "strong" else Precision.FP32
    return make_build_plan(
        component_specs(components)[component],
        profile,
        precision,
        components.default_size,
        text_length(components),
        onnx_location(components, component, onnx_precision, engine_dir),
        timing_cache,
        refittable,
        typing=typing,
    )


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
    """The TensorRT plan of one component built for exactly `profile` on this GPU, TensorRT and precision.

    `engine build` uses this; a job uses `find_tensorrt`, which accepts any cached profile that covers it.
    Only a build reads the ONNX file: a cached plan loads without it (ONNX folder cleaned, plans shipped
    alone).
    """
    from .build import ensure_onnx, profile_args

    precision = Precision.parse(precision)
    trt_version, cc, typing = _identity_and_typing(precision)
    cache = EngineCache(engine_dir)
    default = components.default_size
    directory = cache.entry_dir(model_slug(components), variant_name(precision, profile, default))
    rebuild = build_command(
        model_argument(components),
        "tensorrt",
        precision.value,
        profile_args(profile, default),
        engine_dir=engine_dir,
    )
    sidecar = directory / f"{component}.json"
    if (
        not refittable
        and not force
        and sidecar.is_file()
        and "REFIT" in cache.read(sidecar).key.builder_flags
    ):
        refittable = (
            True  # a refittable engine serves a plain request just as well (refit keeps everything else)
        )
    plan = _plan_for(
        components,
        component,
        precision,
        engine_dir,
        profile,
        typing,
        cache.timing_cache_path(trt_version, cc),
        refittable,
    )
    key = plan.key(component_weights_hash(components, component), trt_version, cc, opset)
    if not force:
        try:
            return cache.load(directory, key, rebuild)
        except (EngineNotBuiltError, EngineMismatchError):
            if not build:
                raise
    ensure_onnx(
        components,
        component,
        plan.onnx_precision,
        engine_dir,
        build=True,
        opset=opset,
        backend_name="tensorrt",
    )
    directory.mkdir(parents=True, exist_ok=True)
    staged = directory / f".{component}.plan.staged"
    start = time.perf_counter()
    build_engine(plan, staged)
    return cache.commit(
        directory,
        key,
        {f"{component}.plan": staged},
        model=model_argument(components),
        model_id=components.model_id,
        build_cmd=rebuild,
        extra={"inputs": list(plan.profiles), "build_seconds": round(time.perf_counter() - start, 2)},
    )


# Flags that say how an engine may be used, not what it computes: a covering engine may differ in them.
USAGE_FLAGS = ("REFIT", "STATIC")


def covers(built: dict[str, list], needed: dict[str, Any]) -> list[str]:
    """Why an engine with profiles `built` cannot take every shape in `needed` ([] when it can)."""
    gaps = []
    for name, (lo, _, hi) in needed.items():
        if name not in built:
            gaps.append(f"no input {name}")
            continue
        b_lo, _, b_hi = (tuple(s) for s in built[name])
        if (
            len(b_lo) != len(lo)
            or any(n < b for n, b in zip(lo, b_lo))
            or any(n > b for n, b in zip(hi, b_hi))
        ):
            gaps.append(f"{name} takes {b_lo}..{b_hi}, needs {tuple(lo)}..{tuple(hi)}")
    return gaps


def _essential(key: EngineKey) -> dict[str, Any]:
    data = key.to_json()
    data.pop("profiles")
    data["builder_flags"] = [f for f in data["builder_flags"] if f not in USAGE_FLAGS]
    return data


def pick_engine(cache: EngineCache, slug: str, needed: EngineKey, build_hint: str) -> EngineRecord:
    """The cached TensorRT engine for `needed.component` whose profile covers `needed.profiles` and whose
    other key fields (weights, precision, typing, TensorRT version, GPU) equal `needed`'s.

    Preference: the engine whose opt shapes equal the needed opt shapes (the job's batch), then the
    tightest max, then the folder name. Nothing covers -> EngineNotBuiltError naming the build command
    and what each cached engine lacks; only engines for other weights/GPU/version -> EngineMismatchError.
    """
    assert needed.profiles is not None
    usable, mismatched, short = [], [], []
    for sidecar in sorted(cache.root.glob(f"{slug}/tensorrt-{needed.precision}-*/{needed.component}.json")):
        try:
            record = cache.read(sidecar)
        except EngineMismatchError as exc:
            short.append(str(exc))
            continue
        gaps = covers(record.key.profiles or {}, needed.profiles)
        if gaps:
            short.append(f"{sidecar.parent.name}: {gaps[0]}")
            continue
        diffs = [d for d in record.key.differences(needed) if not d.startswith(("profiles", "builder_flags"))]
        if _essential(record.key)["builder_flags"] != _essential(needed)["builder_flags"]:
            diffs.append(
                f"builder_flags: built {list(record.key.builder_flags)}, need {list(needed.builder_flags)}"
            )
        (mismatched if diffs else usable).append((record, diffs))
    if usable:

        def rank(item):
            record = item[0]
            same_opt = all(
                list(record.key.profiles[n][1]) == list(needed.profiles[n][1]) for n in needed.profiles
            )
            volume = sum(_volume(record.key.profiles[n][2]) for n in needed.profiles)
            return (not same_opt, volume, str(record.sidecar))

        record = min(usable, key=rank)[0]
        cache.load(record.sidecar.parent, record.key, cache.rebuild_hint(record))  # files whole and unchanged
        first = next(iter(needed.profiles))
        log.info(
            "tensorrt %s: using %s (its %s profile %s covers this job's %s..%s)",
            needed.component,
            record.sidecar.parent,
            first,
            [tuple(s) for s in record.key.profiles[first]],
            tuple(needed.profiles[first][0]),
            tuple(needed.profiles[first][2]),
        )
        return record
    if mismatched:
        record, diffs = mismatched[0]
        raise EngineMismatchError(
            f"engine {str(record.path)!r} covers these shapes but was built for something else "
            f"({'; '.join(diffs)}); rebuild it with: {cache.rebuild_hint(record)}"
        )
    found = f" (cached but not covering: {'; '.join(short)})" if short else ""
    raise EngineNotBuiltError(
        f"no tensorrt {needed.precision} engine for {needed.component} in {str(cache.root / slug)!r} takes "
        f"this job's shapes{found}; build it with: {build_hint.removesuffix(' --force')}"
    )


def _volume(shape) -> int:
    out = 1
    for d in shape:
        out *= int(d)
    return out


def find_tensorrt(
    components,
    component: str,
    precision: Precision | str,
    engine_dir: str | Path,
    profile: ShapeProfile,
    *,
    build: bool = False,
    opset: int = DEFAULT_OPSET,
) -> EngineRecord:
    """A cached engine whose profile covers `profile` (see pick_engine); with `build`, one is built for
    exactly `profile` when none does."""
    from .build import profile_args

    precision = Precision.parse(precision)
    trt_version, cc, typing = _identity_and_typing(precision)
    cache = EngineCache(engine_dir)
    plan = _plan_for(components, component, precision, engine_dir, profile, typing, None, False)
    needed = plan.key(component_weights_hash(components, component), trt_version, cc, opset)
    hint = build_command(
        model_argument(components),
        "tensorrt",
        precision.value,
        profile_args(profile, components.default_size),
        engine_dir=engine_dir,
    )
    try:
        return pick_engine(cache, model_slug(components), needed, hint)
    except (EngineNotBuiltError, EngineMismatchError) as exc:
        if not build:
            raise
        log.info("%s; building one for this job's profile", str(exc).split("; build it with")[0])
    return ensure_tensorrt(components, component, precision, engine_dir, profile, build=True, opset=opset)


class TrtRunners(GraphRunners):
    """The five runner calls on TensorRT engines (per component, any cached engine covering the profile)."""

    backend = "tensorrt"

    def __init__(
        self,
        components,
        device,
        precision,
        engine_dir,
        profile: ShapeProfile,
        build_if_missing=False,
        only: list[str] | None = None,
    ):
        precision = Precision.parse(precision)
        super().__init__(components, torch.device(device), precision.torch_dtype)
        self.engine_precision = precision
        self.specs = component_specs(components)
        self.engines: dict[str, TrtEngine] = {}
        self.records: dict[str, EngineRecord] = {}
        for name in only or list(self.specs):
            record = find_tensorrt(components, name, precision, engine_dir, profile, build=build_if_missing)
            profiles = {k: [tuple(s) for s in v] for k, v in record.key.profiles.items()}
            self.records[name] = record
            hint = EngineCache(engine_dir).rebuild_hint(record)
            self.engines[name] = TrtEngine(record.path, profiles, self.device, hint)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["precision"] = self.engine_precision.value
        out["engines"] = {name: str(rec.path) for name, rec in self.records.items()}
        return out

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
    trt_version, cc, typing = _identity_and_typing(precision)
    cache = EngineCache(engine_dir)
    default = components.default_size
    variant = variant_name(precision, profile, default)
    src_dir = cache.entry_dir(_slug_of_arg(base_model), variant)
    dst_dir = cache.entry_dir(model_slug(components), variant)
    model = model_argument(components)
    rebuild = build_command(
        model, "tensorrt", precision.value, profile_args(profile, default), engine_dir=engine_dir
    )
    records = []
    for name in only or ["unet"]:
        sidecar = src_dir / f"{name}.json"
        if not sidecar.is_file():
            build_line = build_command(
                base_model, "tensorrt", precision.value, profile_args(profile, default), False, engine_dir
            )
            raise EngineNotBuiltError(
                f"no base engine {str(sidecar)!r} to refit; build it with: {build_line} --refittable"
            )
        base = cache.read(sidecar)
        plan = _plan_for(components, name, precision, engine_dir, profile, typing, None, True)
        onnx_record = ensure_onnx(
            components,
            name,
            plan.onnx_precision,
            engine_dir,
            build=True,
            opset=opset,
            backend_name="tensorrt",
        )
        key = plan.key(component_weights_hash(components, name), trt_version, cc, opset)
        diffs = [d for d in base.key.differences(key) if not d.startswith("weights_sha256")]
        if diffs:
            raise EngineMismatchError(
                f"base engine {str(base.path)!r} cannot be refitted for this request ({'; '.join(diffs)}); "
                f"build a refittable one with: {rebuild.removesuffix(' --force')} --refittable"
            )
        cache.load(src_dir, base.key, cache.rebuild_hint(base))  # the base plan is whole and unchanged
        dst_dir.mkdir(parents=True, exist_ok=True)
        staged = dst_dir / f".{name}.plan.staged"
        refit_engine(base.path, onnx_record.path, staged)
        records.append(
            cache.commit(
                dst_dir,
                key,
                {f"{name}.plan": staged},
                model=model,
                model_id=components.model_id,
                build_cmd=rebuild,
                extra={"inputs": list(plan.profiles)},
            )
        )
    return records
