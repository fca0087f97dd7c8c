"""A stand-in for the `tensorrt` module on machines without TensorRT (it needs an NVIDIA GPU).

It has the API surface genrobust_fast.engines.trt_build and trt_runtime use, in the shape of TensorRT
10 (precision BuilderFlags) or 11 (no FP16/BF16/FP8 flags, strongly typed), and records what the code
asked of it.
A "serialized engine" is JSON listing the ONNX graph's inputs and outputs (read from the file the
parser was given) and the flags, so a deserialized fake engine reports the graph's own I/O types.
On CPU tensors, `execute_async_v3` copies each input's bytes to the output of the same index
(so a run is observable), or returns False when `fail` is set. An output's shape is the graph's declared
one, symbolic dims sized from the inputs (a text encoder's hidden states, SDXL's pooled embedding), else
that of the input of its index (a VAE's image: H is no input dim); it refuses stream 0, the legacy default
stream. A timing cache not written by this fake is refused, as TensorRT refuses another GPU's. A refit
records the ONNX file the new weights came from (`weights_from` in the serialized engine), refusing one
of another architecture.

    trt = fake_tensorrt.make(11); monkeypatch.setitem(sys.modules, "tensorrt", trt)
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import json
import types


class _Enum:
    def __init__(self, **members):
        for name, value in members.items():
            setattr(self, name, value)


def make(major: int, strongly_typed_flag: bool = True, drop: tuple[str, ...] = ()) -> types.ModuleType:
    """A fake `tensorrt` of this major version; `drop` removes top-level names (an API a version lacks)."""
    trt = types.ModuleType("tensorrt")
    trt.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)
    trt.__version__ = f"{major}.3.0"
    flags = (
        {"TF32": 2, "REFIT": 3, "DIRECT_IO": 4}
        if major >= 11
        else {"FP16": 0, "BF16": 1, "TF32": 2, "REFIT": 3, "FP8": 5, "INT8": 6}
    )
    trt.BuilderFlag = _Enum(**flags)
    creation = {"STRONGLY_TYPED": 1} if strongly_typed_flag else {}
    if major < 11:
        creation["EXPLICIT_BATCH"] = 0
    trt.NetworkDefinitionCreationFlag = _Enum(**creation)
    trt.MemoryPoolType = _Enum(WORKSPACE=0)
    trt.TensorIOMode = _Enum(INPUT="input", OUTPUT="output")
    for name in ("float32", "float16", "bfloat16", "int64", "int32"):
        setattr(trt, name, name)
    trt.calls = []  # what the code did, in order
    trt.fail = False  # execute_async_v3 returns False

    class Logger:
        WARNING = 2

        def __init__(self, level=None):
            self.level = level

    class Network:
        def __init__(self, flags):
            self.flags, self.inputs, self.outputs = flags, [], []

    class OnnxParser:
        def __init__(self, network, logger):
            self.network, self.num_errors = network, 0

        def parse_from_file(self, path):
            import onnx

            trt.calls.append(("parse", path))
            model = onnx.load(path, load_external_data=False)
            names = {1: "float32", 10: "float16", 16: "bfloat16", 7: "int64", 6: "int32"}
            self.network.inputs = [(v.name, names[v.type.tensor_type.elem_type]) for v in model.graph.input]
            self.network.outputs = [(v.name, names[v.type.tensor_type.elem_type]) for v in model.graph.output]
            self.network.dims = {
                v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
                for v in (*model.graph.input, *model.graph.output)
            }
            return True

        def get_error(self, i):
            return ""

    class TimingCache:
        """Holds the serialized bytes it was made from; this fake's own caches serialize to b"timing"."""

        def __init__(self, data=b""):
            self.data = bytes(data)

        def serialize(self):
            return b"timing"

    class Config:
        def __init__(self):
            self.flags, self.cleared, self.profiles = [], [], []

        def set_memory_pool_limit(self, pool, size):
            self.workspace = size

        def set_flag(self, flag):
            self.flags.append(flag)

        def clear_flag(self, flag):
            self.cleared.append(flag)

        def add_optimization_profile(self, profile):
            self.profiles.append(profile.shapes)

        def create_timing_cache(self, data):
            return TimingCache(data)

        def set_timing_cache(self, cache, ignore_mismatch):
            """Like TensorRT: False for a cache another GPU or version wrote (here: not this fake's bytes)."""
            trt.calls.append(("set_timing_cache", cache.data))
            if cache.data not in (b"", b"timing") and not ignore_mismatch:
                return False
            self.timing_cache = cache
            return True

        def get_timing_cache(self):
            return getattr(self, "timing_cache", None)

    class Profile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, lo, opt, hi):
            self.shapes[name] = [list(lo), list(opt), list(hi)]

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags=0):
            trt.calls.append(("create_network", flags))
            return Network(flags)

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            trt.calls.append(("build", {"set": config.flags, "cleared": config.cleared}))
            return json.dumps(
                {
                    "fake_engine": True,
                    "network_flags": network.flags,
                    "set": config.flags,
                    "inputs": network.inputs,
                    "outputs": network.outputs,
                    "dims": getattr(network, "dims", {}),
                    "profiles": config.profiles,
                }
            ).encode()

    class Context:
        def __init__(self, engine):
            self.engine, self.shapes, self.addresses = engine, {}, {}

        def set_input_shape(self, name, shape):
            self.shapes[name] = tuple(shape)
            return True

        def set_tensor_address(self, name, address):
            self.addresses[name] = address
            return True

        def get_tensor_shape(self, name):
            index = [n for n, _ in self.engine.doc["outputs"]].index(name)
            inputs, dims = self.engine.doc["inputs"], self.engine.doc.get("dims", {})
            sizes = {  # symbolic dim name -> its size in the inputs set on this context
                d: s for n, _ in inputs for d, s in zip(dims.get(n, ()), self.shapes[n]) if isinstance(d, str)
            }
            declared = dims.get(name)
            if declared and all(not isinstance(d, str) or d in sizes for d in declared):
                return tuple(sizes[d] if isinstance(d, str) else d for d in declared)
            return self.shapes[inputs[index][0]]

        def execute_async_v3(self, stream):
            trt.calls.append(("execute", stream))
            if stream == 0:  # legal in TensorRT, but the legacy default stream adds device-wide syncs
                raise RuntimeError("fake tensorrt refuses stream 0 (the legacy default stream)")
            if trt.fail:
                return False
            for (src, _), (dst, dtype) in zip(self.engine.doc["inputs"], self.engine.doc["outputs"]):
                count = 1
                for d in self.shapes[src]:
                    count *= d
                size = {"float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4}[dtype]
                ctypes.memmove(self.addresses[dst], self.addresses[src], count * size)
            return True

    class Engine:
        def __init__(self, doc):
            self.doc = doc
            self.io = [(n, t, "input") for n, t in doc["inputs"]] + [
                (n, t, "output") for n, t in doc["outputs"]
            ]
            self.num_io_tensors = len(self.io)
            self.refittable = trt.BuilderFlag.REFIT in doc["set"]

        def get_tensor_name(self, i):
            return self.io[i][0]

        def get_tensor_mode(self, name):
            return next(mode for n, _, mode in self.io if n == name)

        def get_tensor_dtype(self, name):
            return next(t for n, t, _ in self.io if n == name)

        def create_execution_context(self):
            return Context(self)

        def serialize(self):
            return json.dumps(self.doc).encode()

    class Refitter:
        def __init__(self, engine, logger):
            self.engine, self.weights = engine, None

        def refit_cuda_engine(self):
            if self.weights is None:
                return False
            self.engine.doc["weights_from"] = self.weights
            return True

    class OnnxParserRefitter:
        """Refits from an ONNX file whose graph has the engine's inputs and outputs (same architecture)."""

        def __init__(self, refitter, logger):
            self.refitter = refitter

        def refit_from_file(self, path):
            trt.calls.append(("refit", path))
            network = Network(0)
            OnnxParser(network, None).parse_from_file(path)
            trt.calls.pop()  # the parse above is this refit's, not a build's
            doc = self.refitter.engine.doc
            same_io = [list(i) for i in network.inputs] == doc["inputs"]
            if not same_io or [list(o) for o in network.outputs] != doc["outputs"]:
                return False
            self.refitter.weights = path
            return True

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            try:
                doc = json.loads(bytes(data))
            except ValueError:
                return None
            return Engine(doc) if isinstance(doc, dict) and doc.get("fake_engine") else None

    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = Logger, Builder, OnnxParser, Runtime
    trt.Refitter, trt.OnnxParserRefitter = Refitter, OnnxParserRefitter
    for name in drop:
        delattr(trt, name)
    return trt
