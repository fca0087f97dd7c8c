"""Tensor specs: symbol binding, output shapes, profiles and dynamic axes derived from one table."""

import pytest

from genrobust_fast.engines.specs import Precision, ShapeProfile, component_specs, text_length
from genrobust_fast.errors import InputError


def test_specs_cover_the_tiny_model(tiny):
    specs = component_specs(tiny)
    assert set(specs) == {"unet", "vae_decoder", "vae_encoder", "text_encoder", "image_encoder"}
    assert specs["unet"].input_names == ["sample", "timestep", "encoder_hidden_states"]
    assert text_length(tiny) == 32


def test_bind_and_output_shapes(tiny):
    unet = component_specs(tiny)["unet"]
    symbols = unet.bind({"sample": (6, 4, 12, 20), "timestep": (6,), "encoder_hidden_states": (6, 32, 32)})
    assert symbols == {"guided_batch": 6, "latent_h": 12, "latent_w": 20, "context_len": 32}
    assert unet.output_shapes(symbols) == {"noise_pred": (6, 4, 12, 20)}
    dec = component_specs(tiny)["vae_decoder"]
    assert dec.output_shapes(dec.bind({"latent": (3, 4, 12, 20)})) == {"images": (3, 3, 24, 40)}


def test_bind_rejects_bad_shapes(tiny):
    enc = component_specs(tiny)["vae_encoder"]
    with pytest.raises(InputError, match="expected 4 dims"):
        enc.bind({"images": (3, 32, 32)})
    with pytest.raises(InputError, match="dim 1 must be 3"):
        enc.bind({"images": (1, 4, 32, 32)})
    with pytest.raises(InputError, match="missing input 'images'"):
        enc.bind({})


def test_profile_doubles_guided_batch_and_scales_latents(tiny):
    specs = component_specs(tiny)
    profile = ShapeProfile(batch=(1, 4, 8), size=(32, 48))
    unet = specs["unet"].profile_shapes(profile, tiny.default_size, 32)
    assert unet["sample"] == ((2, 4, 16, 24), (8, 4, 16, 24), (16, 4, 16, 24))
    assert unet["encoder_hidden_states"] == ((2, 32, 32), (8, 32, 32), (16, 32, 32))
    dec = specs["vae_decoder"].profile_shapes(profile, tiny.default_size, 32)
    assert dec["latent"] == ((1, 4, 16, 24), (4, 4, 16, 24), (8, 4, 16, 24))
    no_cfg = ShapeProfile(batch=(1, 4, 8), guidance=False)
    assert specs["unet"].profile_shapes(no_cfg, (32, 32), 32)["timestep"] == ((1,), (4,), (8,))


def test_profile_validation_and_tags():
    assert ShapeProfile(batch=(2, 2, 2), size=(512, 512)).is_static
    assert not ShapeProfile(batch=(1, 2, 4), size=(512, 512)).is_static
    assert ShapeProfile(batch=(1, 4, 8)).tag((512, 512)) == "b1-4-8_512x512"
    ranged = ShapeProfile(batch=(1, 1, 2), size=(512, 512), size_min=(256, 256), size_max=(768, 512))
    assert ranged.tag((512, 512)) == "b1-1-2_256x256-512x512-768x512"
    with pytest.raises(InputError, match="MIN <= OPT <= MAX"):
        ShapeProfile(batch=(4, 2, 8))
    with pytest.raises(InputError, match="not a multiple of the VAE factor 8"):
        ShapeProfile(size=(500, 512)).symbol_ranges(8, (512, 512), 77)


def test_dynamic_axes_name_every_symbolic_dim(tiny):
    axes = component_specs(tiny)["vae_encoder"].dynamic_axes()
    assert axes == {"images": {0: "B", 2: "H", 3: "W"}, "moments": {0: "B", 2: "h", 3: "w"}}


def test_precision_enum():
    assert Precision.parse("FP16") is Precision.FP16
    assert Precision.FP8.min_compute_capability == (8, 9)
    with pytest.raises(InputError, match="choose one of fp32, fp16, bf16, fp8"):
        Precision.parse("int4")
