"""ONNX export of each diffusion component, driven by its `ComponentSpec`.

Exporter choice: the TorchScript-based `torch.onnx.export(..., dynamo=False)`. On the diffusers UNet
it exports in ~2 s with the spec's names and dynamic batch/spatial axes and matches torch to ~1e-6,
while the dynamo exporter took ~10 s on the same tiny UNet and, asked for opset 17, emitted a `Split`
with `num_outputs` (an opset-18 attribute) that ONNX Runtime rejects as an invalid graph. Opset 17 is
what TensorRT 8.6-10.x parse fully (LayerNormalization included).

Models over 2 GB (the SD 1.5 UNet in fp32 is ~3.4 GB) are saved with their weights in one external
file `<component>.onnx.data` beside the graph. fp16 ONNX files are converted with ONNX Runtime's own
float16 pass, keeping fp32 inputs/outputs so every artifact has the same I/O as the spec; the types it
needs are inferred from the exported file, never from an in-memory model (protobuf's 2 GB limit).
The exported graph is edited without its weights, which go from the exporter's files into the artifact
one tensor at a time (`onnx_weights`): the torch module is still in memory, and SDXL's is 10.3 GB.

    staged = export_component(load_components("tiny"), "unet", Path("engines/tiny/.staging"))
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from pathlib import Path

from ..errors import InputError
from .specs import ComponentSpec, Precision, component_specs, text_length

log = logging.getLogger(__name__)

TWO_GB = 2**31 - 1


def _wrappers():
    import torch

    from .runners import call_unet, text_encoder_outputs

    class UNet(torch.nn.Module):
        """The UNet with its added inputs (SDXL text_embeds/time_ids, LCM timestep_cond) positional, in
        the spec's order, so the graph's inputs are named and ordered by the spec."""

        def __init__(self, unet, added: tuple[str, ...]):
            super().__init__()
            self.unet, self.added = unet, added

        def forward(self, sample, timestep, encoder_hidden_states, *extra):
            return call_unet(
                self.unet, sample, timestep, encoder_hidden_states, **dict(zip(self.added, extra))
            )

    class VaeDecoder(torch.nn.Module):
        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def forward(self, latent):
            return self.vae.decode(latent, return_dict=False)[0]

    class VaeEncoder(torch.nn.Module):
        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def forward(self, images):
            return self.vae.encode(images).latent_dist.parameters

    class TextEncoder(torch.nn.Module):
        def __init__(self, text_encoder, penultimate: bool):
            super().__init__()
            self.text_encoder, self.penultimate = text_encoder, penultimate

        def forward(self, input_ids):
            return text_encoder_outputs(self.text_encoder, input_ids, self.penultimate)

    class ImageEncoder(torch.nn.Module):
        def __init__(self, image_encoder):
            super().__init__()
            self.image_encoder = image_encoder

        def forward(self, pixel_values):
            return self.image_encoder(pixel_values).image_embeds

    return {
        "unet": (UNet, "unet"),
        "vae_decoder": (VaeDecoder, "vae"),
        "vae_encoder": (VaeEncoder, "vae"),
        "text_encoder": (TextEncoder, "text_encoder"),
        "text_encoder_2": (TextEncoder, "text_encoder_2"),
        "image_encoder": (ImageEncoder, "image_encoder"),
    }


def _wrap(components, spec: ComponentSpec, module):
    wrapper_cls = _wrappers()[spec.name][0]
    if spec.name == "unet":
        return wrapper_cls(module, tuple(spec.input_names[3:]))
    if spec.name.startswith("text_encoder"):
        return wrapper_cls(module, components.text_encoder_2 is not None)
    return wrapper_cls(module)


def export_symbols(components) -> dict[str, int]:
    """Symbol values of the dummy inputs; 2 rather than 1 so the tracer cannot specialise on size 1."""
    h, w = components.default_size
    scale = components.vae_scale_factor
    return {
        "batch": 2,
        "guided_batch": 2,
        "text_batch": 2,
        "latent_h": h // scale,
        "latent_w": w // scale,
        "context_len": text_length(components),
    }


@contextlib.contextmanager
def _fp32_on_cpu(module):
    """Export traces the fp32 CPU module; the caller's device and dtype are restored afterwards."""
    import torch

    param = next(module.parameters())
    device, dtype = param.device, param.dtype
    moved = (device.type, dtype) != ("cpu", torch.float32)
    if moved:  # fp16/bf16 -> fp32 -> back is exact, so the caller's weights are unchanged
        module.to(device="cpu", dtype=torch.float32)
    try:
        yield module
    finally:
        if moved:
            module.to(device=device, dtype=dtype)


def export_component(
    components,
    component: str,
    staging: Path,
    precision: Precision = Precision.FP32,
    opset: int = 17,
) -> dict[str, Path]:
    """Export one component into `staging`; returns {final name: staged path}, checked by onnx.checker."""
    import onnx
    import torch

    if precision not in (Precision.FP32, Precision.FP16):
        raise InputError(
            f"ONNX files are exported in fp32 or fp16, got {precision.value}; TensorRT 10 builds bf16 "
            "engines from the fp32 ONNX file (use --backend tensorrt)"
        )
    specs = component_specs(components)
    if component not in specs:
        raise InputError(f"model {components.model_id!r} has no {component}; it has {sorted(specs)}")
    spec: ComponentSpec = specs[component]
    module_name = _wrappers()[component][1]
    staging.mkdir(parents=True, exist_ok=True)
    final_name = f"{component}.onnx"
    with tempfile.TemporaryDirectory(dir=staging) as raw_dir:
        raw_path = Path(raw_dir) / final_name
        with _fp32_on_cpu(getattr(components, module_name)) as module:
            wrapper = _wrap(components, spec, module).eval()
            inputs = spec.sample_inputs(export_symbols(components))
            log.info("exporting %s of %s to ONNX (opset %d)", component, components.model_id, opset)
            with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
                torch.onnx.export(
                    wrapper,
                    tuple(inputs[name] for name in spec.input_names),
                    str(raw_path),
                    input_names=spec.input_names,
                    output_names=spec.output_names,
                    dynamic_axes=spec.dynamic_axes(),
                    opset_version=opset,
                    do_constant_folding=True,
                    dynamo=False,
                )
        if precision is Precision.FP16 and not spec.meta.get("fp32"):  # fp32: SDXL's VAE (force_upcast)
            model = convert_file_to_fp16(raw_path)
        else:
            model = onnx.load(str(raw_path), load_external_data=False)
        model.producer_name = "genrobust-fast"
        pin_fixed_dims(model.graph, spec)
        return save_onnx(model, staging, final_name, weights_dir=raw_path.parent)


def pin_fixed_dims(graph, spec: ComponentSpec) -> None:
    """Write the spec's fixed dims into the graph's inputs and outputs. The tracer leaves some symbolic
    (a text encoder's token axis comes out as 'Add..._dim_1'), though the spec says 77 or 32: a runtime
    then sizes that output from the graph as the spec does."""
    fixed = {t.name: t.shape for t in (*spec.inputs, *spec.outputs)}
    for value in (*graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if value.name in fixed and len(dims) == len(fixed[value.name]):
            for dim, want in zip(dims, fixed[value.name]):
                if isinstance(want, int):
                    dim.dim_value = want  # clears dim_param (a oneof)


def convert_file_to_fp16(path: Path):
    """The fp16 ModelProto of the fp32 ONNX file at `path` (fp32 graph inputs/outputs kept), any size.

    Types are inferred from the file (`infer_shapes_path`), not from a loaded model: the in-memory
    `infer_shapes` serialises the whole model, which protobuf refuses past 2 GB (the SD 1.5 UNet is
    3.4 GB in fp32), so the converter is told the types are already there. Weights the exporter stored
    externally stay there, retyped but not yet converted: `save_onnx` converts them as it copies them.
    """
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    typed = path.with_name(f"{path.stem}.typed.onnx")  # beside `path`, so its external data paths resolve
    onnx.shape_inference.infer_shapes_path(str(path), str(typed))
    model = onnx.load(str(typed), load_external_data=False)
    with _value_info_from_dims():
        model = convert_float_to_float16(
            model,
            keep_io_types=True,
            disable_shape_infer=True,
            node_block_list=sorted(sinusoids_and_feeders(model.graph)),
        )
    _drop_fp16_round_trips(model.graph)
    _sort_topologically(model.graph)  # the converter appends its input casts at the end of the node list
    return model


@contextlib.contextmanager
def _value_info_from_dims():
    """The float16 converter reads each initializer it retypes (`numpy_helper.to_array`) only to take its
    shape, which fails for weights left in external files (and would read them all): it is handed the
    shape from the tensor's dims instead, for the length of the conversion."""
    from unittest import mock

    from onnx import helper
    from onnxruntime.transformers import float16

    def value_info(tensor):
        return helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims))

    with mock.patch.object(float16, "make_value_info_from_tensor", value_info):
        yield


def sinusoids_and_feeders(graph) -> set[str]:
    """Names of the Sin/Cos nodes and of every node whose float output feeds one, found by walking back
    through float tensors (integer shape arithmetic is left to the converter).

    diffusers computes the timestep embedding in fp32 on purpose: `timestep * freq` reaches ~999 rad,
    where fp16 steps by 0.5 rad, so sin/cos of it would be off by up to ~0.25. ONNX Runtime's float16
    converter rewrites that Cast(to=FLOAT) to FLOAT16, so this chain goes on its node block list. Needs
    the graph's value types (shape inference first); an untyped tensor is followed, erring towards fp32.
    """
    import onnx

    types = {v.name: v.type.tensor_type.elem_type for v in (*graph.value_info, *graph.input, *graph.output)}
    types.update((t.name, t.data_type) for t in graph.initializer)
    producer = {out: node for node in graph.node for out in node.output}
    sinusoids = [node for node in graph.node if node.op_type in ("Sin", "Cos")]
    keep = {node.name for node in sinusoids}
    todo = [name for node in sinusoids for name in node.input]
    while todo:
        name = todo.pop()
        node = producer.get(name)
        if (
            node is None
            or node.name in keep
            or types.get(name, onnx.TensorProto.FLOAT) != onnx.TensorProto.FLOAT
        ):
            continue
        keep.add(node.name)
        todo.extend(node.input)
    if "" in keep:  # the block list goes by name; the torch exporter names every node
        raise InputError("an unnamed ONNX node feeds a Sin/Cos; cannot keep it in fp32")
    return keep


def _drop_fp16_round_trips(graph) -> None:
    """Wire Cast(fp32 -> fp16 -> fp32) pairs out, so nodes kept in fp32 pass fp32 values to each other.

    The converter types every float edge fp16, so between two blocked nodes (and from an fp32 graph input
    to a blocked node) it casts down and back up: `timestep * freq` would still be rounded to 0.5 rad.
    """
    import onnx

    fp32 = {
        v.name
        for v in (*graph.value_info, *graph.input)
        if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    }

    def cast_to(node):
        return next((a.i for a in node.attribute if a.name == "to"), None) if node.op_type == "Cast" else None

    down = {n.output[0]: n.input[0] for n in graph.node if cast_to(n) == onnx.TensorProto.FLOAT16}
    up = {  # the fp32 copy of an fp16 copy of an fp32 tensor -> that tensor
        n.output[0]: down[n.input[0]]
        for n in graph.node
        if cast_to(n) == onnx.TensorProto.FLOAT and down.get(n.input[0]) in fp32
    }
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = up.get(name, name)
    # Casts nobody reads any more (the fp16 copy, when only the fp32 island read it) go too.
    removed: set[str] = set()
    while True:
        read = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if n.op_type == "Cast" and n.output[0] not in read]
        if not dead:
            break
        for node in dead:
            removed.add(node.output[0])
            graph.node.remove(node)
    kept = [v for v in graph.value_info if v.name not in removed]
    del graph.value_info[:]
    graph.value_info.extend(kept)


def save_onnx(model, staging: Path, final_name: str, weights_dir: Path) -> dict[str, Path]:
    """Save with external data past 2 GB, validate with onnx.checker, return {final name: staged path}.
    Tensors stored outside the model are read from `weights_dir`, one at a time."""
    import onnx

    from .onnx_weights import all_tensors, load_inline, stored_bytes, write_external

    weight_bytes = sum(stored_bytes(t) for t in all_tensors(model.graph))
    graph_path = staging / final_name
    staged = {final_name: graph_path}
    if weight_bytes > TWO_GB - (64 << 20):  # leave room for the graph itself under protobuf's 2 GB limit
        data_name = f"{final_name}.data"
        write_external(model, weights_dir, staging / data_name)
        staged[data_name] = staging / data_name
    else:
        load_inline(model, weights_dir)
    onnx.save_model(model, str(graph_path))
    check_onnx(graph_path)
    return staged


def check_onnx(path: Path) -> None:
    """onnx.checker on a path (so external data is followed); a corrupt file is an InputError."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=False)
    except Exception as exc:  # checker raises ValidationError, protobuf DecodeError, OSError...
        raise InputError(
            f"ONNX file {str(path)!r} is invalid ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            "rebuild it with `genrobust engine build ... --force`"
        ) from exc


def _sort_topologically(graph) -> None:
    """Reorder graph.node so every node comes after the producers of its inputs, otherwise keeping the
    original order (Kahn's algorithm, earliest original position first; linear in the graph's size)."""
    import heapq

    nodes = list(graph.node)
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    producer = {out: index for index, node in enumerate(nodes) for out in node.output}
    waiting_on = [0] * len(nodes)
    consumers: dict[int, list[int]] = {}
    for index, node in enumerate(nodes):
        needs = {producer[name] for name in node.input if name not in available and name in producer}
        missing = [name for name in node.input if name not in available and name not in producer]
        if missing:
            raise InputError(f"ONNX graph node {node.name!r} reads {missing[0]!r}, which nothing produces")
        waiting_on[index] = len(needs)
        for p in needs:
            consumers.setdefault(p, []).append(index)
    ready = [i for i, n in enumerate(waiting_on) if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for c in consumers.get(index, ()):
            waiting_on[c] -= 1
            if waiting_on[c] == 0:
                heapq.heappush(ready, c)
    if len(order) != len(nodes):
        raise InputError("ONNX graph has a cycle; cannot sort it")
    del graph.node[:]
    graph.node.extend(nodes[i] for i in order)
