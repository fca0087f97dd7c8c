"""ONNX export of models past protobuf's 2 GB limit: the SD 1.5 UNet architecture in fp16 (3.4 GB in fp32)
and SDXL's in fp16 and fp32 (2.57 B parameters: 9.6 GiB in fp32, 4.8 GiB in fp16, external data in both).

They take minutes and most of a machine's memory, so they run only when asked. Measured 2026-12-08 on a
2-core AMD EPYC (AVX2 only), 24 GiB, each in its own process under a 21 GiB memory cgroup:
SD 1.5 UNet 89.5 s, peak RSS 9.6 GiB, one 1.72 GB file; SDXL UNet (10.27 GB fp32 state) in fp16 274.5 s,
peak RSS 17.0 GiB, a 5.1 MB graph and 5.13 GB of weights; in fp32 213.6 s, peak RSS 16.7 GiB, a 3.8 MB
graph and 10.27 GB of weights. The SDXL peak is the torch module plus the exporter;
the fp16 conversion and the save stream the weights a tensor at a time (before they did, loading the
exported 10.3 GB back was killed at 20.2 GiB).

    GENROBUST_LARGE_EXPORT=1 pytest -q -s tests/engines/test_engine_export_large.py
    GENROBUST_LARGE_EXPORT=1 pytest -q -s tests/engines/test_engine_export_large.py -k 'sdxl and fp16'

The fast tests of the same code paths: tests/engines/test_onnx_weights.py (weights the exporter stored
outside, streamed) and tests/engines/test_engine_cache.py::test_fp16_export_never_infers_shapes_in_memory.
"""

import json
import os
import resource
import time

import numpy as np
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("GENROBUST_LARGE_EXPORT") != "1",
        reason="minutes and 3.4 GB: set GENROBUST_LARGE_EXPORT=1 to run",
    ),
]


def test_sd15_unet_exports_to_fp16_past_2gb(tmp_path):
    import onnx

    from genrobust_fast.engines.models import load_components
    from genrobust_fast.engines.onnx_build import ensure_onnx
    from genrobust_fast.engines.specs import Precision

    comps = load_components("sd15-arch")
    start = time.perf_counter()
    record = ensure_onnx(comps, "unet", Precision.FP16, tmp_path, build=True)
    seconds = time.perf_counter() - start
    # 3.4 GB in fp32 (exported with external data), 1.7 GB in fp16: under 2 GB, so one file
    assert record.bytes > 1.5e9 and record.files[0] == "unet.onnx"
    model = onnx.load(str(record.path), load_external_data=False)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # fp32 I/O kept
    assert _sampled_weights_are_the_modules_rounded(record.path, comps.unet) >= 2
    summary = {
        "model": "sd15-arch",
        "component": "unet",
        "precision": "fp16",
        "export_seconds": round(seconds, 1),
        "files": {f: (record.path.parent / f).stat().st_size for f in record.files},
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }
    print(json.dumps(summary))


def test_sdxl_arch_is_the_sdxl_base_architecture():
    """On the meta device (no memory): the UNet's 2,567,463,684 parameters are SDXL 1.0 base's, and its
    spec asks for what StableDiffusionXLPipeline sends (1280-wide pooled embedding, six time ids, 2048-wide
    context of 77 tokens, 128x128 latents)."""
    from genrobust_fast.engines.builtin import build_sdxl_arch
    from genrobust_fast.engines.specs import component_specs

    comps = build_sdxl_arch(meta=True)
    assert sum(p.numel() for p in comps.unet.parameters()) == 2_567_463_684
    unet = component_specs(comps)["unet"]
    shapes = {
        t.name: t.resolve({"guided_batch": 2, "latent_h": 128, "latent_w": 128, "context_len": 77})
        for t in unet.inputs
    }
    assert shapes["text_embeds"] == (2, 1280) and shapes["time_ids"] == (2, 6)
    assert shapes["encoder_hidden_states"] == (2, 77, 2048) and comps.default_size == (1024, 1024)
    assert comps.family == "sdxl" and comps.vae_needs_fp32


@pytest.mark.parametrize("precision", ["fp16", "fp32"])  # fp32: onnxruntime's default on the CPU
def test_sdxl_unet_exports_past_2gb(tmp_path, precision):
    import onnx

    from genrobust_fast.engines.models import load_components
    from genrobust_fast.engines.onnx_build import ensure_onnx
    from genrobust_fast.engines.specs import Precision

    comps = load_components("sdxl-arch")
    state_bytes = sum(t.numel() * t.element_size() for t in comps.unet.state_dict().values())
    start = time.perf_counter()
    record = ensure_onnx(comps, "unet", Precision(precision), tmp_path, build=True)
    seconds = time.perf_counter() - start
    # 4.8 GiB of fp16 weights, 9.6 GiB of fp32: past protobuf's 2 GB, so in one external file
    assert record.files == ["unet.onnx", "unet.onnx.data"]
    model = onnx.load(str(record.path), load_external_data=False)
    assert [v.name for v in model.graph.input][3:] == ["text_embeds", "time_ids"]
    assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in model.graph.input)
    sizes = {f: (record.path.parent / f).stat().st_size for f in record.files}
    share = 0.5 if precision == "fp16" else 1.0
    # Tensors under 1 KiB stay in the graph; page alignment adds a little
    assert 0.99 * share * state_bytes < sizes["unet.onnx.data"] < 1.02 * share * state_bytes
    assert _sampled_weights_are_the_modules_rounded(record.path, comps.unet, precision) >= 2
    print(
        json.dumps(
            {
                "model": "sdxl-arch",
                "component": "unet",
                "precision": precision,
                "state_bytes_fp32": state_bytes,
                "export_seconds": round(seconds, 1),
                "files": sizes,
                "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            }
        )
    )


def _sampled_weights_are_the_modules_rounded(path, unet, precision: str = "fp16") -> int:
    """The exported weights are the module's weights (rounded to fp16 for fp16), sampled (the first and
    last convs and one inside), read tensor by tensor from the external file; returns how many samples
    were found."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path), load_external_data=False).graph
    by_name = {t.name: t for t in graph.initializer}
    want = onnx.TensorProto.FLOAT16 if precision == "fp16" else onnx.TensorProto.FLOAT
    assert want in {t.data_type for t in by_name.values() if t.dims}
    state = unet.state_dict()
    checked = 0
    for name in ("conv_in.weight", "conv_out.weight", "up_blocks.2.resnets.2.conv2.weight"):
        if f"unet.{name}" in by_name:  # the export wrapper holds the UNet as `unet`
            tensor = by_name[f"unet.{name}"]
            exported = numpy_helper.to_array(tensor, base_dir=str(path.parent)).astype(np.float32)
            expected = state[name].numpy()
            if precision == "fp16":
                expected = expected.astype(np.float16).astype(np.float32)
            np.testing.assert_allclose(exported, expected, rtol=0, atol=6e-8)  # fp16 lifts |w| < 6e-8
            checked += 1
    return checked
