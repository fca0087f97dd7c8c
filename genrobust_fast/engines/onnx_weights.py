"""An exported ONNX model's weights, moved one tensor at a time from the exporter's external-data files
into the artifact, so they are never all in memory at once.

Why: the SDXL UNet holds 10.3 GB of fp32 weights. Its torch module is still alive while the exported
file is converted and saved, so loading the exported weights whole as well (`onnx.load` with external
data) needs twice that, and the 20 GiB this machine class can give a process is not enough. The graph
is loaded without its weights (`load_external_data=False`), edited (types, names, dims), then saved
with the weights streamed from where the exporter left them.

A tensor that the float16 converter retyped while it could not see the bytes (its type says FLOAT16,
its stored data is 4 bytes per element) is converted on the way, clamped exactly as the converter does.

    model = onnx.load(str(raw_path), load_external_data=False)
    write_external(model, raw_path.parent, staging / "unet.onnx.data")
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ALIGNMENT = 4096  # a page: each tensor starts where a runtime can mmap it


def all_tensors(graph) -> Iterator:
    """Every TensorProto of a graph: initializers and node attributes, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from all_tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from all_tensors(subgraph)


def is_external(tensor) -> bool:
    from onnx import TensorProto

    return tensor.HasField("data_location") and tensor.data_location == TensorProto.EXTERNAL


def stored_bytes(tensor) -> int:
    """Bytes the tensor's data takes once saved in its declared type."""
    if not is_external(tensor):
        return len(tensor.raw_data)
    return math.prod(tensor.dims) * _item_size(tensor.data_type)


def write_external(model, source_dir: Path, target: Path, inline_from: int = 1024) -> int:
    """Write every externally stored tensor, and every inline one of `inline_from` bytes or more, into the
    one file `target` (truncated first) and point the tensor at it by `target.name`: the graph must be
    saved beside `target`. Returns the bytes written."""
    from onnx import TensorProto

    with open(target, "wb") as out:
        for tensor in all_tensors(model.graph):
            if is_external(tensor):
                data = _read(tensor, source_dir)
            elif len(tensor.raw_data) >= inline_from:
                data = np.frombuffer(tensor.raw_data, dtype=np.uint8)
            else:
                continue
            out.write(b"\0" * (-out.tell() % ALIGNMENT))
            offset = out.tell()
            out.write(data)
            tensor.ClearField("raw_data")
            del tensor.external_data[:]
            tensor.data_location = TensorProto.EXTERNAL
            for key, value in (("location", target.name), ("offset", offset), ("length", data.nbytes)):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, str(value)
        return out.tell()


def load_inline(model, source_dir: Path) -> None:
    """Read every externally stored tensor into the model itself (for models that fit protobuf's 2 GB)."""
    from onnx import TensorProto

    for tensor in all_tensors(model.graph):
        if is_external(tensor):
            tensor.raw_data = _read(tensor, source_dir).tobytes()
            del tensor.external_data[:]
            tensor.data_location = TensorProto.DEFAULT


def _read(tensor, source_dir: Path) -> np.ndarray:
    """The tensor's bytes (uint8) in its declared type, read from its external file under `source_dir`."""
    from onnx import TensorProto
    from onnxruntime.transformers.float16 import convert_np_to_float16

    info = {entry.key: entry.value for entry in tensor.external_data}
    path = (source_dir / info["location"]).resolve()
    if source_dir.resolve() not in path.parents:
        raise ValueError(f"tensor {tensor.name!r} points outside {source_dir}: {info['location']!r}")
    offset = int(info.get("offset", 0))
    length = int(info["length"]) if "length" in info else path.stat().st_size - offset
    data = np.fromfile(path, dtype=np.uint8, count=length, offset=offset)
    if len(data) != length:
        raise ValueError(f"tensor {tensor.name!r}: {path} holds {len(data)} of its {length} bytes")
    numel = math.prod(tensor.dims)
    if tensor.data_type == TensorProto.FLOAT16 and length == 4 * numel:  # retyped, not yet converted
        return convert_np_to_float16(data.view(np.float32)).view(np.uint8)
    if length != numel * _item_size(tensor.data_type):
        raise ValueError(f"tensor {tensor.name!r}: {length} bytes stored for {numel} elements")
    return data


def _item_size(data_type: int) -> int:
    from onnx.helper import tensor_dtype_to_np_dtype

    return np.dtype(tensor_dtype_to_np_dtype(data_type)).itemsize
