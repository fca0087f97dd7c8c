"""The UNet benchmark's FLOP count includes attention on the CPU too (PyTorch's counter skips the CPU
flash-attention kernel), so TFLOP/s and the sd15-arch reference figure count the same work."""

import torch
from diffusers.models.attention_processor import AttnProcessor

from genrobust_fast.bench.unet import count_unet_flops
from genrobust_fast.engines.models import load_components
from genrobust_fast.engines.specs import text_length


def test_counted_flops_equal_those_of_the_classic_matmul_attention():
    comps = load_components("tiny")
    scale, (h, w) = comps.vae_scale_factor, comps.default_size
    gen = torch.Generator().manual_seed(0)
    inputs = (
        torch.randn(2, comps.latent_channels, h // scale, w // scale, generator=gen),
        torch.full((2,), 500.0),
        torch.randn(2, text_length(comps), comps.unet.config.cross_attention_dim, generator=gen),
    )
    counted = count_unet_flops(comps, inputs)  # scaled_dot_product_attention, as the pipeline runs it
    comps.unet.set_attn_processor(AttnProcessor())  # attention as explicit baddbmm/bmm, always counted
    assert counted == count_unet_flops(comps, inputs)
