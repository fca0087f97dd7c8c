"""One spec per family drives export names, profiles and buffers; SDXL's VAE stays fp32 at fp16.

SDXL: a second text encoder (penultimate states + pooled projection) and the UNet's added inputs
(text_embeds, time_ids); LCM: timestep_cond. fp16: diffusers decodes SDXL's VAE in fp32 (`force_upcast`),
and so do our torch runners, ONNX files and TensorRT plans; the fp16-fix VAE (force_upcast False) runs
at the job's precision.
"""

import onnx
import pytest
import torch

from genrobust_fast.engines.models import load_components
from genrobust_fast.engines.onnx_build import ensure_onnx
from genrobust_fast.engines.runners import TorchRunners
from genrobust_fast.engines.specs import Precision, ShapeProfile, component_specs
from genrobust_fast.engines.trt_build import make_build_plan


@pytest.fixture(scope="module")
def sdxl():
    return load_components("tiny-sdxl")


def test_sdxl_spec_lists_the_second_encoder_and_added_inputs(sdxl):
    specs = component_specs(sdxl)
    assert set(specs) == {"unet", "vae_decoder", "vae_encoder", "text_encoder", "text_encoder_2"}
    unet = specs["unet"]
    assert unet.input_names == ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"]
    assert specs["text_encoder"].output_names == ["penultimate_hidden_state"]
    assert specs["text_encoder_2"].output_names == ["penultimate_hidden_state", "text_embeds"]
    guided = unet.profile_shapes(ShapeProfile(batch=(1, 2, 4)), (32, 32), 32)
    assert guided["text_embeds"] == ((2, 16), (4, 16), (8, 16)) and guided["time_ids"][2] == (8, 6)
    assert guided["encoder_hidden_states"][2] == (8, 32, 32)  # 16 + 16: both encoders side by side
    few_step = unet.profile_shapes(ShapeProfile(batch=(1, 2, 4), guidance=False), (32, 32), 32)
    assert few_step["time_ids"] == ((1, 6), (2, 6), (4, 6)) and few_step["sample"][2] == (4, 4, 16, 16)
    assert unet.dynamic_axes()["text_embeds"] == {0: "B2"}
    assert specs["vae_decoder"].meta["fp32"] and "fp32" not in specs["unet"].meta


def test_lcm_and_sd2_specs():
    lcm = component_specs(load_components("tiny-lcm"))["unet"]
    assert lcm.input_names[3:] == ["timestep_cond"] and lcm.inputs[3].resolve({"guided_batch": 3}) == (3, 16)
    sd2 = load_components("tiny-sd2")
    assert sd2.family == "sd2" and component_specs(sd2)["unet"].input_names[3:] == []


def test_an_unknown_added_conditioning_is_a_clear_error():
    from genrobust_fast.errors import InputError

    comps = load_components("tiny")
    comps.unet.register_to_config(addition_embed_type="image")
    with pytest.raises(InputError, match="addition_embed_type 'image' is not supported"):
        component_specs(comps)


def _float_types(path) -> set[int]:
    model = onnx.load(str(path))
    return {t.data_type for t in model.graph.initializer if t.data_type in (1, 10)}


def test_sdxl_vae_runs_fp32_at_fp16_unless_it_is_the_fixed_vae(sdxl, tmp_path):
    """diffusers' force_upcast, in torch (the VAE's weights stay fp32), in the fp16 ONNX entry (an fp32
    graph, said in its key) and in TensorRT plans (no FP16 flag); with force_upcast False (the
    fp16-fix VAE's config) the VAE is fp16 like the rest."""
    runners = TorchRunners(sdxl, "cpu", torch.float16)
    assert sdxl.vae.dtype == torch.float32 and sdxl.unet.dtype == torch.float16
    images = runners.decode_vae(torch.randn(1, 4, 16, 16, dtype=torch.float16))
    assert images.dtype == torch.float16 and torch.isfinite(images).all()
    record = ensure_onnx(sdxl, "vae_decoder", Precision.FP16, tmp_path, build=True)
    assert _float_types(record.path) == {onnx.TensorProto.FLOAT}
    assert "fp32-graph:force_upcast" in record.key.builder_flags
    spec = component_specs(sdxl)["vae_decoder"]
    plan = make_build_plan(spec, ShapeProfile(), Precision.FP16, (32, 32), 32, record.path)
    assert plan.builder_flags == () and "FP32_COMPUTE:force_upcast" in plan.key_flags()

    fixed = load_components("tiny-sdxl")
    fixed.vae.register_to_config(force_upcast=False)
    assert not fixed.vae_needs_fp32 and "fp32" not in component_specs(fixed)["vae_decoder"].meta
    TorchRunners(fixed, "cpu", torch.float16)
    assert fixed.vae.dtype == torch.float16
    fixed_record = ensure_onnx(fixed, "vae_decoder", Precision.FP16, tmp_path / "fixed", build=True)
    assert onnx.TensorProto.FLOAT16 in _float_types(fixed_record.path)
    assert "fp16-keep-io-fp32" in fixed_record.key.builder_flags
    fixed_spec = component_specs(fixed)["vae_decoder"]
    assert make_build_plan(
        fixed_spec, ShapeProfile(), Precision.FP16, (32, 32), 32, record.path
    ).builder_flags == ("FP16",)


def test_sd1_vae_keeps_the_jobs_precision_despite_diffusers_default_force_upcast():
    """AutoencoderKL's config defaults to force_upcast=True, but only the SDXL pipelines read it."""
    tiny = load_components("tiny")
    assert tiny.vae.config.force_upcast and not tiny.vae_needs_fp32


def test_exported_graphs_carry_the_specs_fixed_dims(tiny, onnx_cache):
    """The tracer leaves a text encoder's token axis symbolic; the export writes the spec's 32 back."""
    graph = onnx.load(str(onnx_cache / "tiny/onnx-fp32/text_encoder.onnx"), load_external_data=False).graph
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in graph.output}
    assert dims == {"last_hidden_state": ["T", 32, 32]}
