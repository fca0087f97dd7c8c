"""The one map between VAE latents and the UNet's latents, and that finetuning and generation both use it."""

import pytest
import torch
from diffusers.configuration_utils import FrozenDict

from genrobust_fast.engines.latent_space import to_unet_latents, to_vae_latents

MEAN, STD = [0.1, -0.2, 0.3, 0.05], [0.9, 1.1, 0.8, 1.2]
# What the VAE configs say: plain SD/SDXL, per-channel statistics (Playground v2.5, SDXL-style pipelines)
# and a shift (SD3, Flux).
PLAIN = FrozenDict(scaling_factor=0.18215)
STATS = FrozenDict(scaling_factor=0.5, latents_mean=MEAN, latents_std=STD)
SHIFTED = FrozenDict(scaling_factor=1.5305, shift_factor=0.0609)


def _channels(values):
    return torch.tensor(values).view(1, 4, 1, 1)


def diffusers_encode(z, config):
    """As the diffusers pipelines write it: SDXL img2img's prepare_latents for latents_mean/std, SD3's
    and Flux's img2img for shift_factor, StableDiffusionImg2ImgPipeline otherwise."""
    if config.get("latents_mean") is not None:
        mean, std = _channels(config.latents_mean), _channels(config.latents_std)
        return (z - mean) * config.scaling_factor / std
    if config.get("shift_factor") is not None:
        return (z - config.shift_factor) * config.scaling_factor
    return config.scaling_factor * z


def diffusers_decode(latents, config):
    """StableDiffusionXLPipeline's decode for latents_mean/std, StableDiffusion3Pipeline's for shift_factor,
    StableDiffusionPipeline's otherwise."""
    if config.get("latents_mean") is not None:
        mean, std = _channels(config.latents_mean), _channels(config.latents_std)
        return latents * std / config.scaling_factor + mean
    if config.get("shift_factor") is not None:
        return (latents / config.scaling_factor) + config.shift_factor
    return latents / config.scaling_factor


@pytest.mark.parametrize("config", [PLAIN, STATS, SHIFTED], ids=["plain", "latents_mean_std", "shift_factor"])
def test_latents_map_as_diffusers_maps_them_and_round_trip(config):
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    unet = to_unet_latents(z, config)
    assert torch.equal(unet, diffusers_encode(z, config))
    assert torch.equal(to_vae_latents(unet, config), diffusers_decode(unet, config))
    torch.testing.assert_close(to_vae_latents(unet, config), z, atol=1e-6, rtol=1e-5)


def test_plain_vae_latents_are_the_scaled_latents_bit_for_bit():
    """SD 1.x/2.x/SDXL VAEs set neither statistics nor shift: generation's images stay what they were."""
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(to_unet_latents(z, PLAIN), 0.18215 * z)
    assert torch.equal(to_vae_latents(z, PLAIN), z / 0.18215)


@pytest.mark.parametrize(
    "extra", [{"latents_mean": MEAN, "latents_std": STD}, {"shift_factor": 0.25}], ids=["stats", "shift"]
)
def test_finetuning_trains_on_the_latents_generation_decodes(tmp_path, extra):
    """The trainer's latents are the VAE sample mapped by the VAE config's statistics or shift; it used
    to apply shift_factor only, so a VAE with latents_mean/std trained the UNet on other latents."""
    from genrobust_fast.engines.models import load_components
    from genrobust_fast.finetune.data import CaptionedImages
    from genrobust_fast.finetune.trainer import _LatentSource
    from tests.finetune.test_finetune import write_real

    data = CaptionedImages.scan(write_real(tmp_path / "real"))

    def trained_latents(**config):
        comps = load_components("tiny")
        comps.vae.register_to_config(**config)
        source = _LatentSource(comps, data, 32, torch.device("cpu"), cached=False)
        return source([0, 3], torch.Generator().manual_seed(5))

    scale = load_components("tiny").vae.config.scaling_factor
    posterior_sample = trained_latents() / scale
    expected = diffusers_encode(posterior_sample, FrozenDict(scaling_factor=scale, **extra))
    torch.testing.assert_close(trained_latents(**extra), expected, atol=1e-5, rtol=1e-5)


def test_generation_decodes_a_shifted_vae_as_diffusers():
    """GenerationPipeline.decode hands the VAE latents / scale + shift_factor (it used to drop the shift)."""
    from genrobust_fast.engines.models import load_components
    from genrobust_fast.engines.runners import TorchRunners
    from genrobust_fast.generation.pipeline import GenerationPipeline

    comps = load_components("tiny")
    comps.vae.register_to_config(shift_factor=0.3)
    pipe = GenerationPipeline(TorchRunners(comps), steps=1)
    latents = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = comps.vae.decode(latents / comps.vae.config.scaling_factor + 0.3).sample
    torch.testing.assert_close(pipe.decode(latents), expected, atol=1e-6, rtol=1e-5)
