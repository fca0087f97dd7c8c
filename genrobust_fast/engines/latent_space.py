"""Between the VAE's latents and the latents the UNet denoises, as diffusers' pipelines map them; one
rule for finetuning (which encodes) and generation (which encodes for img2img and decodes), so a
finetuned UNet learns the latents it is later sampled in.

    unet_latents = to_unet_latents(vae_latents, vae.config)   # encode side
    vae_latents = to_vae_latents(unet_latents, vae.config)    # decode side

- latents_mean and latents_std both set (SDXL's and Playground's pipelines): (z - mean) * scale / std.
- otherwise (z - shift_factor) * scale, shift_factor 0 when unset (SD3's and Flux's pipelines; SD 1.x,
  2.x and SDXL VAEs set neither, and it is z * scale).
No diffusers pipeline applies both, so a VAE config with both gets the per-channel statistics only, as
the SDXL pipelines (which never read shift_factor) would sample it.
"""

from __future__ import annotations

from typing import Any


def _channel_stats(vae_config: Any, like) -> tuple[Any, Any] | None:
    """(mean, std) as (1, C, 1, 1) tensors on `like`'s device and dtype, or None unless both are set."""
    import torch

    mean, std = getattr(vae_config, "latents_mean", None), getattr(vae_config, "latents_std", None)
    if mean is None or std is None:
        return None
    mean, std = (torch.tensor(v).view(1, -1, 1, 1).to(like.device, like.dtype) for v in (mean, std))
    return mean, std


def _shift(vae_config: Any) -> float:
    return getattr(vae_config, "shift_factor", None) or 0.0


def to_unet_latents(latents, vae_config: Any):
    """VAE latents (a posterior sample) -> the UNet's latent space."""
    scale, stats = vae_config.scaling_factor, _channel_stats(vae_config, latents)
    if stats is not None:
        mean, std = stats
        return (latents - mean) * scale / std
    shift = _shift(vae_config)
    # Without a shift the product alone, bit for bit what the SD/SDXL pipelines compute.
    return scale * (latents - shift) if shift else scale * latents


def to_vae_latents(latents, vae_config: Any):
    """The UNet's latents -> what the VAE decodes; the inverse of `to_unet_latents`."""
    scale, stats = vae_config.scaling_factor, _channel_stats(vae_config, latents)
    if stats is not None:
        mean, std = stats
        return latents * std / scale + mean
    shift = _shift(vae_config)
    return latents / scale + shift if shift else latents / scale
