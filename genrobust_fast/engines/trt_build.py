"""TensorRT at build time: plans, keys, the builder and refit (the runtime is `trt_runtime`).

Everything up to the TensorRT call is plain Python and tested on CPU machines: precision checks
against compute capability, the `BuildPlan` (typing mode and builder flags from the precision enum,
min/opt/max profiles from the component spec, timing-cache path per GPU and TensorRT version), and the
cache key with its mismatch errors. `TrtRequest` resolves a request once for this machine, so a build
(`ensure_tensorrt`), a job's lookup (`trt_runtime.find_tensorrt`) and a refit (`refit_engines`) derive
the same folder, plan, key and build command. The TensorRT calls themselves are tested against a fake
`tensorrt` module of each major version (tests/engines/fake_tensorrt.py).

    plan = make_build_plan(spec, ShapeProfile(batch=(1, 4, 8), size=(512, 512)), Precision.FP16, ...)
    build_engine(plan, Path("engines/.../unet.plan"))
    request = TrtRequest.here(load_components("sd15/"), Precision.FP16, "engines", profile)
    record = ensure_tensorrt(request, "unet", build=True)

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BackendUnavailableError, EngineMismatchError, InputError
from ..fileio import atomic_path, atomic_write_bytes
from ..outlock import lock_output
from .cache import (
    DEFAULT_OPSET,
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
from .onnx_build import ensure_onnx, onnx_location
from .specs import FP8_REFUSAL, ComponentSpec, Precision, ShapeProfile, component_specs, text_length

if TYPE_CHECKING:
    import torch

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


def tensorrt_precision_problem(precision: Precision) -> str | None:
    """precision_problem for the TensorRT installed here (imports it)."""
    trt = import_tensorrt()
    return precision_problem(precision, tensorrt_typing(trt), trt.__version__)


def check_precision(precision: Precision, compute_capability: tuple[int, int]) -> None:
    """Raise BackendUnavailableError when the GPU lacks the precision (bf16: sm80+, fp8: sm89+)."""
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
    fp32_compute: bool = False  # the spec keeps this component in fp32 (SDXL's VAE: force_upcast)

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
            + (
                ("FP32_COMPUTE:force_upcast",)
                if self.fp32_compute and self.precision is not Precision.FP32
                else ()
            )
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
    precision: Precision,
    default_size: tuple[int, int],
    context_len: int,
    onnx_path: Path,
    timing_cache: Path | None = None,
    refittable: bool = False,
    workspace_bytes: int = DEFAULT_WORKSPACE,
    typing: str = "weak",
) -> BuildPlan:
    """What to build for `spec`: `typing` is tensorrt_typing() of the TensorRT that will build it."""
    problem = precision_problem(precision, typing)
    if problem:
        raise BackendUnavailableError(problem)
    strong = typing == "strong"
    # A component the spec keeps fp32 gets no precision flag (weak typing) and is parsed from the fp32
    # graph its ONNX entry holds at any precision (strong typing): diffusers' force_upcast, in an engine.
    fp32_compute = bool(spec.meta.get("fp32"))
    flags = () if strong or fp32_compute else PRECISION_FLAGS[precision]
    return BuildPlan(
        component=spec.name,
        onnx_path=Path(onnx_path),
        precision=precision,
        profiles=spec.profile_shapes(profile, default_size, context_len),
        builder_flags=flags + (("REFIT",) if refittable else ()),
        cleared_flags=("TF32",) if precision is Precision.FP32 or fp32_compute else (),
        timing_cache=timing_cache,
        workspace_bytes=workspace_bytes,
        strongly_typed=strong,
        onnx_precision=precision if strong else Precision.FP32,
        fp32_compute=fp32_compute,
    )


def variant_name(precision: Precision, profile: ShapeProfile, default_size: tuple[int, int]) -> str:
    return f"tensorrt-{precision.value}-{profile.tag(default_size)}"


def profile_args(profile: ShapeProfile | None, default_size: tuple[int, int]) -> str:
    """The --batch/--size options that reproduce `profile` on the command line."""
    if profile is None:
        return ""
    lo, opt, hi = profile.sizes(default_size)
    size = f"{opt[0]}x{opt[1]}" if lo == opt == hi else f"{lo[0]}x{lo[1]}:{opt[0]}x{opt[1]}:{hi[0]}x{hi[1]}"
    extra = "" if profile.guidance else " --no-guidance"
    return f"--batch {':'.join(map(str, profile.batch))} --size {size}{extra}"


# --- TensorRT calls (GPU machines) ----------------------------------------------------------------


def import_tensorrt():
    """The `tensorrt` module, or a BackendUnavailableError naming the install."""
    try:
        import tensorrt as trt
    except (ImportError, OSError) as exc:  # OSError: installed, but its CUDA libraries do not load
        raise BackendUnavailableError(
            f"TensorRT cannot be imported ({type(exc).__name__}: {exc}); pip install "
            "'genrobust-fast[tensorrt]' on a GPU machine, matching its CUDA major version"
        ) from exc
    return trt


@contextlib.contextmanager
def tensorrt_api(trt, doing: str):
    """A TensorRT API this code relies on but the installed version lacks is a BackendUnavailableError."""
    try:
        yield
    except AttributeError as exc:
        raise BackendUnavailableError(
            f"TensorRT {getattr(trt, '__version__', '?')} lacks {exc} ({doing}); {SUPPORTED}"
        ) from exc


def gpu_identity(device: torch.device | None = None) -> tuple[str, str]:
    """(TensorRT version, compute capability 'M.m') of this machine; the parts of a key tied to hardware."""
    import torch

    trt = import_tensorrt()
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
    trt = import_tensorrt()
    with tensorrt_api(trt, f"building {plan.component}"):
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
        _use_timing_cache(config, plan.timing_cache)
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


def _use_timing_cache(config, path: Path | None) -> None:
    """Start the build from the timing cache at `path` when TensorRT takes it; one written by another GPU
    or TensorRT version is refused (False), so the build starts from an empty cache, which then replaces
    the file. Unchecked, the refusal surfaced later as get_timing_cache() returning None."""
    stored = path.read_bytes() if path is not None and path.is_file() else b""
    if config.set_timing_cache(config.create_timing_cache(stored), ignore_mismatch=False):
        return
    if stored:
        log.warning("TensorRT refused the timing cache %s (another GPU or version); starting a new one", path)
        if config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False):
            return
    raise BackendUnavailableError("TensorRT refused an empty timing cache; see the TensorRT log above")


def refit_engine(engine_path: Path, onnx_path: Path, out_path: Path) -> None:
    """Load the weights of `onnx_path` (same architecture) into a refittable engine; write to `out_path`."""
    trt = import_tensorrt()
    with tensorrt_api(trt, f"refitting {engine_path.name}"):
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


# --- Requests: one folder, plan, key and build command for a build, a lookup and a refit ------------


@dataclass(frozen=True)
class TrtRequest:
    """TensorRT engines of `components` at `precision` for `profile` in `engine_dir`, on this machine's
    TensorRT (`tensorrt_version`, `typing`) and GPU (`compute_capability`)."""

    components: Any
    precision: Precision
    engine_dir: str | Path
    profile: ShapeProfile
    tensorrt_version: str
    compute_capability: str
    typing: str  # tensorrt_typing(): "weak" (10.x, precision flags) or "strong" (11.x)
    opset: int = DEFAULT_OPSET

    @classmethod
    def here(
        cls,
        components,
        precision: Precision,
        engine_dir,
        profile: ShapeProfile,
        opset: int = DEFAULT_OPSET,
    ) -> TrtRequest:
        """The request on this machine's TensorRT and GPU, after refusing precisions they cannot build."""
        trt = import_tensorrt()
        trt_version, cc = gpu_identity()
        typing = tensorrt_typing(trt)
        problem = precision_problem(precision, typing, trt_version)
        if problem:
            raise BackendUnavailableError(problem)
        check_precision(precision, tuple(int(p) for p in cc.split(".")))  # type: ignore[arg-type]
        return cls(components, precision, engine_dir, profile, trt_version, cc, typing, opset)

    @property
    def cache(self) -> EngineCache:
        return EngineCache(self.engine_dir)

    def slug(self, model: str | None = None) -> str:
        """The engine folder name of these components (or of another `model`, as refit's base)."""
        return model_slug(model or model_argument(self.components))

    def directory(self, model: str | None = None) -> Path:
        variant = variant_name(self.precision, self.profile, self.components.default_size)
        return self.cache.entry_dir(self.slug(model), variant)

    def build_command(self, model: str | None = None, force: bool = True) -> str:
        return build_command(
            model or model_argument(self.components),
            "tensorrt",
            self.precision.value,
            profile_args(self.profile, self.components.default_size),
            force,
            self.engine_dir,
            "" if model else model_options(self.components),  # another model (refit's base): its own files
        )

    def plan(self, component: str, refittable: bool = False, timing_cache: bool = False) -> BuildPlan:
        onnx_precision = self.precision if self.typing == "strong" else Precision.FP32
        return make_build_plan(
            component_specs(self.components)[component],
            self.profile,
            self.precision,
            self.components.default_size,
            text_length(self.components),
            onnx_location(self.components, component, onnx_precision, self.engine_dir),
            self._timing_cache() if timing_cache else None,
            refittable,
            typing=self.typing,
        )

    def _timing_cache(self) -> Path:
        return self.cache.timing_cache_path(self.tensorrt_version, self.compute_capability)

    def key(self, plan: BuildPlan) -> EngineKey:
        weights = component_weights_hash(self.components, plan.component)
        key = plan.key(weights, self.tensorrt_version, self.compute_capability, self.opset)
        return replace(key, model_revision=source_revision(self.components))

    def onnx_file(self, plan: BuildPlan) -> EngineRecord:
        """The ONNX file `plan` is parsed from, exported when missing (only a build or refit reads it, so a
        cached plan loads without it: ONNX folder cleaned, plans shipped alone)."""
        return ensure_onnx(
            self.components,
            plan.component,
            plan.onnx_precision,
            self.engine_dir,
            build=True,
            opset=self.opset,
            backend_name="tensorrt",
        )

    def staged_path(self, component: str) -> Path:
        """Where a new plan file is written before `commit` renames it into place."""
        directory = self.directory()
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f".{component}.plan.staged"

    def commit(self, plan: BuildPlan, key: EngineKey, staged: Path, **extra: Any) -> EngineRecord:
        return self.cache.commit(
            self.directory(),
            key,
            {f"{plan.component}.plan": staged},
            model=model_argument(self.components),
            model_id=self.components.model_id,
            build_cmd=self.build_command(),
            extra={"inputs": list(plan.profiles), **extra},
        )


def ensure_tensorrt(
    request: TrtRequest, component: str, *, build: bool = False, force: bool = False, refittable: bool = False
) -> EngineRecord:
    """The TensorRT plan of one component built for exactly the request's profile on this GPU, TensorRT
    and precision.

    `engine build` uses this; a job uses `trt_runtime.find_tensorrt`, which accepts any cached profile
    that covers it.
    """
    cache, directory, rebuild = request.cache, request.directory(), request.build_command()
    sidecar = directory / f"{component}.json"
    if not (refittable or force) and sidecar.is_file() and "REFIT" in cache.read(sidecar).key.builder_flags:
        # A refittable engine serves a plain request just as well (refit keeps everything else).
        refittable = True
    plan = request.plan(component, refittable, timing_cache=True)
    key = request.key(plan)
    if not force:
        try:
            return cache.load(directory, key, rebuild)
        except (EngineNotBuiltError, EngineMismatchError):
            if not build:
                raise
    with lock_output(directory, component):  # one build per entry: the staged file has a fixed name
        request.onnx_file(plan)
        staged = request.staged_path(component)
        start = time.perf_counter()
        build_engine(plan, staged)
        return request.commit(plan, key, staged, build_seconds=round(time.perf_counter() - start, 2))


def refit_engines(
    components,
    base_model: str,
    precision: Precision,
    engine_dir: str | Path,
    profile: ShapeProfile,
    only: list[str] | None = None,
    opset: int = DEFAULT_OPSET,
) -> list[EngineRecord]:
    """Copy `base_model`'s refittable engines to `components`' cache folder with `components`' weights.

    For a finetuned generator: same architecture, new weights, no multi-minute rebuild. Every key
    field except the weights hash must match the base engine, else EngineMismatchError.
    """
    request = TrtRequest.here(components, precision, engine_dir, profile, opset)
    cache, base_dir = request.cache, request.directory(base_model)
    records = []
    for name in only or ["unet"]:
        sidecar = base_dir / f"{name}.json"
        if not sidecar.is_file():
            raise EngineNotBuiltError(
                f"no base engine {str(sidecar)!r} to refit; build it with: "
                f"{request.build_command(base_model, force=False)} --refittable"
            )
        base = cache.read(sidecar)
        plan = request.plan(name, refittable=True)
        onnx_record = request.onnx_file(plan)
        key = request.key(plan)
        # New weights are the point of a refit, wherever they come from (a finetuned folder, another commit).
        diffs = [
            d for d in base.key.differences(key) if not d.startswith(("weights_sha256", "model_revision"))
        ]
        if diffs:
            raise EngineMismatchError(
                f"base engine {str(base.path)!r} cannot be refitted for this request ({'; '.join(diffs)}); "
                f"build a refittable one with: {request.build_command(force=False)} --refittable"
            )
        cache.load(base_dir, base.key, cache.rebuild_hint(base))  # the base plan is whole and unchanged
        with lock_output(request.directory(), name):
            staged = request.staged_path(name)
            refit_engine(base.path, onnx_record.path, staged)
            records.append(request.commit(plan, key, staged))
    return records
