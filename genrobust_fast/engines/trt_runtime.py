"""TensorRT at run time: deserialized engines on torch CUDA buffers, CUDA graphs, and the runners.

A job takes any cached engine whose profile covers its shapes (`find_tensorrt` / `pick_engine`: the
README's `engine build --batch 1:8:16` serves `generate --batch-size 16`), checks each call's input
shapes against that profile, and replays static-shape engines as CUDA graphs. Plans are made by
`trt_build`; these calls are tested against a fake `tensorrt` module (tests/engines/fake_tensorrt.py).

    engine = TrtEngine(Path("engines/.../unet.plan"), profiles, torch.device("cuda"), rebuild_hint)
    out = engine.run({"sample": x, "timestep": t, "encoder_hidden_states": ctx})
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from ..errors import BackendUnavailableError, EngineMismatchError, InputError
from .cache import EngineCache, EngineKey, EngineNotBuiltError, EngineRecord
from .runners import GraphRunners
from .specs import Precision, ShapeProfile, component_specs
from .trt_build import TrtRequest, ensure_tensorrt, import_tensorrt, tensorrt_api

log = logging.getLogger(__name__)


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


class TrtEngine:
    """One deserialized engine: set shapes, bind torch tensors by address, run on its own CUDA stream.

    TensorRT warns that enqueueing on the legacy default stream (torch's current stream unless a caller
    set another) adds device-wide synchronisations, so each engine has its own stream, joined to the
    caller's both ways: it starts once the caller's queued work (the inputs) is done, and the caller's
    later work waits for it (the outputs). Static-shape engines are captured as a CUDA graph on that
    stream after the first call and replayed there.
    """

    def __init__(self, path: Path, profiles: dict[str, Any], device: torch.device, rebuild: str):
        trt = import_tensorrt()
        self.trt, self.path, self.profiles, self.device, self.rebuild = trt, path, profiles, device, rebuild
        with tensorrt_api(trt, f"loading {path.name}"):
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
        self._stream = None  # made at the first run, so building runners touches no CUDA stream

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
        caller = torch.cuda.current_stream(self.device)
        if self._stream is None:
            self._stream = torch.cuda.Stream(self.device)
        stream = self._stream
        stream.wait_stream(caller)
        if not self.static:
            # Inputs and outputs are the caller's allocations: freed or reused only by work queued on the
            # caller's stream, which the join below puts after this run.
            outputs = self._bind(inputs)
            self._execute(stream, "run")
            caller.wait_stream(stream)
            return outputs
        with torch.cuda.stream(stream):
            if self._graph is None:  # first call: run once (TensorRT initialises lazily), then capture
                self._capture(inputs, stream)
            for k, v in inputs.items():
                self._static_in[k].copy_(v)
            self._graph.replay()
        caller.wait_stream(stream)
        # Copied on the caller's stream: the next replay, queued behind it, may overwrite the buffers.
        return {k: v.clone() for k, v in self._static_out.items()}

    def _capture(self, inputs: dict[str, torch.Tensor], stream) -> None:
        static_in = {k: v.clone() for k, v in inputs.items()}
        static_out = self._bind(static_in)
        self._execute(stream, "warm-up before CUDA-graph capture")
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            ok = self.context.execute_async_v3(stream.cuda_stream)
        if not ok:  # raised after the capture block, so the capture is closed first
            raise BackendUnavailableError(
                f"TensorRT execution of {self.path.name} failed while being captured as a CUDA graph; "
                "see the TensorRT log above. Rebuild with a batch range (MIN < MAX) to run it "
                f"uncaptured: {self.rebuild}"
            )
        self._graph, self._static_in, self._static_out = graph, static_in, static_out


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


def find_tensorrt(request: TrtRequest, component: str, *, build: bool = False) -> EngineRecord:
    """A cached engine whose profile covers the request's (see pick_engine); with `build`, one is built
    for exactly that profile when none does."""
    needed = request.key(request.plan(component))
    try:
        return pick_engine(request.cache, request.slug(), needed, request.build_command())
    except (EngineNotBuiltError, EngineMismatchError) as exc:
        if not build:
            raise
        log.info("%s; building one for this job's profile", str(exc).split("; build it with")[0])
    return ensure_tensorrt(request, component, build=True)


class TrtRunners(GraphRunners):
    """The five runner calls on TensorRT engines (per component, any cached engine covering the profile)."""

    backend = "tensorrt"

    def __init__(
        self,
        components,
        device,
        precision: Precision,
        engine_dir,
        profile: ShapeProfile,
        build_if_missing=False,
        only: list[str] | None = None,
    ):
        super().__init__(components, torch.device(device), precision.torch_dtype)
        self.engine_precision = precision
        self.specs = component_specs(components)
        self.engines: dict[str, TrtEngine] = {}
        self.records: dict[str, EngineRecord] = {}
        request = TrtRequest.here(components, precision, engine_dir, profile)
        for name in only or list(self.specs):
            record = find_tensorrt(request, name, build=build_if_missing)
            profiles = {k: [tuple(s) for s in v] for k, v in record.key.profiles.items()}
            self.records[name] = record
            hint = EngineCache(engine_dir).rebuild_hint(record)
            self.engines[name] = TrtEngine(record.path, profiles, self.device, hint)

    def _run(self, component: str, *tensors: torch.Tensor) -> torch.Tensor:
        spec = self.specs[component]
        outputs = self.engines[component].run(dict(zip(spec.input_names, tensors)))
        results = tuple(
            outputs[n] if outputs[n].dtype == self.dtype else outputs[n].to(self.dtype)
            for n in spec.output_names
        )
        return results[0] if len(results) == 1 else results
