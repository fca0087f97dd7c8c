"""Built-in models, made in code with seeded random weights: one per family for tests, two full-size
architectures for export and throughput benchmarks.

    build_builtin("tiny")        # SD 1.x layout, 32x32 images, a few MB (plus an image encoder)
    build_builtin("tiny-sd2")    # SD 2.x layout: linear projections, GELU text encoder, "!" padding,
                                 # v-prediction
    build_builtin("tiny-sdxl")   # SDXL layout: two text encoders, pooled embeddings, time ids
    build_builtin("tiny-lcm")    # SD 1.x layout with a guidance embedding (time_cond_proj_dim), LCMScheduler
    build_builtin("sd15-arch")   # Stable Diffusion 1.5's exact architecture
    build_builtin("sdxl-arch")   # SDXL 1.0 base's exact architecture (2.6 B-parameter UNet)

Every tiny model comes from `build_sd_layout`, the one builder of small SD-layout models (the demo's
generator is one too). Throughput does not depend on the weights, so the `-arch` models need no download;
their tokenizers are character level with the real 77-token length (ids are all the models consume).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Stable Diffusion v1.5's scheduler configuration (PNDM, scaled-linear betas); every diffusers
# scheduler accepts it through from_config, which is how schedulers are swapped by name.
SD_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "clip_sample": False,
    "prediction_type": "epsilon",
}
# Stable Diffusion 2.1 (768 px) ships a DDIM scheduler trained for v-prediction.
SD2_SCHEDULER_CONFIG = {**SD_SCHEDULER_CONFIG, "prediction_type": "v_prediction"}
# LCM models ship an LCMScheduler on SD's betas (PNDM's skip_prk_steps means nothing to it).
LCM_SCHEDULER_CONFIG = {k: v for k, v in SD_SCHEDULER_CONFIG.items() if k != "skip_prk_steps"}
# SDXL 1.0 base ships an Euler scheduler on the same betas.
SDXL_SCHEDULER_CONFIG = {**SD_SCHEDULER_CONFIG, "interpolation_type": "linear", "timestep_spacing": "leading"}


def _byte_alphabet() -> list[str]:
    """The 256 printable characters byte-level BPE uses for the 256 byte values (GPT-2/CLIP scheme):
    printable Latin-1 bytes stand for themselves, the rest are shifted to code points from 256 up."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    extra = (b for b in range(256) if b not in printable)
    return [chr(b) for b in printable] + [chr(256 + i) for i, _ in enumerate(extra)]


def byte_level_tokenizer(max_length: int, pad_token: str = "<|endoftext|>"):
    """A CLIP BPE tokenizer with a character-level vocabulary and no merges, built without files.

    `pad_token="!"` is the OpenCLIP tokenizers' padding (SD 2.x, SDXL's second encoder): it changes the
    ids after the end token, which the text encoder sees, so the layouts differ in their outputs.
    """
    from transformers import CLIPTokenizer

    chars = sorted(set(_byte_alphabet()))
    vocab: dict[str, int] = {}
    for token in chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]:
        vocab.setdefault(token, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length, pad_token=pad_token)


def build_text_encoder(
    tokenizer,
    hidden: int,
    layers: int,
    heads: int,
    max_positions: int,
    intermediate: int,
    hidden_act: str = "quick_gelu",
    projection_dim: int | None = None,
):
    """CLIPTextModel, or CLIPTextModelWithProjection (SDXL's second encoder) when `projection_dim`."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=max_positions,
        projection_dim=projection_dim or hidden,
        hidden_act=hidden_act,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    cls = CLIPTextModelWithProjection if projection_dim else CLIPTextModel
    return cls(config).eval()


# The tiny models' sizes, as build_sd_layout takes them: VAE block channels, image side, text hidden size
# (= the UNet's cross-attention width), text length, text MLP width.
TINY_SIZES = ((16, 32), 32, 32, 32, 64)


def build_sd_layout(
    model_id: str,
    seed: int,
    unet: dict[str, Any],
    vae_blocks: tuple[int, ...],
    image_size: int,
    text_hidden: int,
    text_len: int,
    text_intermediate: int,
    scheduler: tuple[str, dict[str, Any]] = ("PNDMScheduler", SD_SCHEDULER_CONFIG),
    text_act: str = "quick_gelu",
    pad_token: str = "<|endoftext|>",
):
    """A small model in the SD 1.x/2.x layout: one CLIP text encoder, a cross-attention UNet (`unet`: its
    keyword arguments beyond the channel counts), a VAE with `vae_blocks` channels (factor
    2**(len-1)), every part a real diffusers/transformers class, drawn in one fixed seeded order."""
    import diffusers
    import torch
    from diffusers import UNet2DConditionModel

    from .components import DiffusionComponents

    torch.manual_seed(seed)
    tokenizer = byte_level_tokenizer(max_length=text_len, pad_token=pad_token)
    text_encoder = build_text_encoder(
        tokenizer, text_hidden, 2, 4, text_len, text_intermediate, hidden_act=text_act
    )
    vae_factor = 2 ** (len(vae_blocks) - 1)
    unet_model = UNet2DConditionModel(
        sample_size=image_size // vae_factor,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        cross_attention_dim=text_hidden,
        norm_num_groups=16,
        **unet,
    ).eval()
    vae = _vae(vae_blocks, image_size, layers=1, groups=16)
    scheduler_cls, scheduler_config = scheduler
    return DiffusionComponents(
        model_id,
        tokenizer,
        text_encoder,
        unet_model,
        vae,
        getattr(diffusers, scheduler_cls).from_config(scheduler_config),
    )


def _vae(blocks: tuple[int, ...], image_size: int, layers: int, groups: int, **extra):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=blocks,
        down_block_types=("DownEncoderBlock2D",) * len(blocks),
        up_block_types=("UpDecoderBlock2D",) * len(blocks),
        latent_channels=4,
        layers_per_block=layers,
        norm_num_groups=groups,
        sample_size=image_size,
        **extra,
    ).eval()


TINY_UNET: dict[str, Any] = {
    "block_out_channels": (32, 64),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
    "attention_head_dim": 8,
}


def build_tiny(seed: int = 0, cross_attention_dim: int = 32):
    """A few-MB SD 1.x-layout model: 16x16 latents -> 32x32 images, with an image encoder (variations)."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    vae_blocks, image_size, _, text_len, text_mlp = TINY_SIZES
    comps = build_sd_layout(
        "builtin:tiny", seed, TINY_UNET, vae_blocks, image_size, cross_attention_dim, text_len, text_mlp
    )
    comps.image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=cross_attention_dim,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
            projection_dim=cross_attention_dim,
        )
    ).eval()
    comps.feature_extractor = CLIPImageProcessor(
        crop_size={"height": 32, "width": 32}, size={"shortest_edge": 32}
    )
    return comps


def build_tiny_sd2(seed: int = 0):
    """The SD 2.x layout in small: linear attention projections, per-block head sizes, upcast attention,
    a GELU text encoder padded with "!", and a DDIM scheduler trained for v-prediction."""
    unet = {
        **TINY_UNET,
        "attention_head_dim": (4, 8),
        "use_linear_projection": True,
        "upcast_attention": True,
    }
    return build_sd_layout(
        "builtin:tiny-sd2",
        seed,
        unet,
        *TINY_SIZES,
        scheduler=("DDIMScheduler", SD2_SCHEDULER_CONFIG),
        text_act="gelu",
        pad_token="!",
    )


def build_tiny_lcm(seed: int = 0):
    """SD 1.x layout with LCM's guidance embedding: the UNet takes `timestep_cond` (time_cond_proj_dim),
    so guidance is an input, not an unconditional batch; scheduled by LCMScheduler."""
    unet = {**TINY_UNET, "time_cond_proj_dim": 16}
    return build_sd_layout(
        "builtin:tiny-lcm",
        seed,
        unet,
        *TINY_SIZES,
        scheduler=("LCMScheduler", LCM_SCHEDULER_CONFIG),
    )


def build_tiny_sdxl(seed: int = 0):
    """The SDXL layout in small: CLIPTextModel + CLIPTextModelWithProjection (penultimate hidden states
    concatenated, pooled projection of the second), a UNet with text_time added conditioning, a VAE that
    asks to be decoded in fp32 (force_upcast), an Euler scheduler; 32x32 images."""
    import diffusers
    import torch
    from diffusers import UNet2DConditionModel

    from .components import DiffusionComponents

    torch.manual_seed(seed)
    tokenizer = byte_level_tokenizer(max_length=32)
    tokenizer_2 = byte_level_tokenizer(max_length=32, pad_token="!")
    text_encoder = build_text_encoder(tokenizer, 16, 3, 4, 32, 32)
    text_encoder_2 = build_text_encoder(tokenizer_2, 16, 3, 4, 32, 32, hidden_act="gelu", projection_dim=16)
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        cross_attention_dim=32,  # 16 + 16: the two encoders' hidden states side by side
        norm_num_groups=16,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(4, 8),
        use_linear_projection=True,
        transformer_layers_per_block=(1, 2),
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=6 * 8 + 16,  # six time ids + the pooled projection
    ).eval()
    vae = _vae((16, 32), 32, layers=1, groups=16, force_upcast=True)
    scheduler = diffusers.EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG)
    return DiffusionComponents(
        "builtin:tiny-sdxl",
        tokenizer,
        text_encoder,
        unet,
        vae,
        scheduler,
        tokenizer_2=tokenizer_2,
        text_encoder_2=text_encoder_2,
    )


def build_sd15_arch(seed: int = 0):
    """Stable Diffusion v1.5's exact UNet/VAE/CLIP-L text encoder architecture with random weights."""
    import torch
    from diffusers import PNDMScheduler, UNet2DConditionModel

    from .components import DiffusionComponents

    torch.manual_seed(seed)
    tokenizer = byte_level_tokenizer(max_length=77)
    text_encoder = build_text_encoder(
        tokenizer, 768, layers=12, heads=12, max_positions=77, intermediate=3072
    )
    unet = UNet2DConditionModel(
        sample_size=64,
        cross_attention_dim=768,
        attention_head_dim=8,
        block_out_channels=(320, 640, 1280, 1280),
        layers_per_block=2,
    ).eval()
    vae = _vae((128, 256, 512, 512), 512, layers=2, groups=32)
    scheduler = PNDMScheduler.from_config(SD_SCHEDULER_CONFIG)
    return DiffusionComponents("builtin:sd15-arch", tokenizer, text_encoder, unet, vae, scheduler)


def build_sdxl_arch(seed: int = 0, meta: bool = False):
    """SDXL 1.0 base's exact architecture with random weights: CLIP ViT-L + OpenCLIP ViT-bigG text
    encoders, the 2.6 B-parameter UNet (128x128 latents, 1024 px), the SDXL VAE (force_upcast).

    `meta=True` makes the modules on the meta device (shapes, no memory): specs, profiles and parameter
    counts of the full model in a second, where the real one needs ~13 GB in fp32.
    """
    import contextlib

    import diffusers
    import torch
    from diffusers import UNet2DConditionModel

    from .components import DiffusionComponents

    torch.manual_seed(seed)
    tokenizer = byte_level_tokenizer(max_length=77)
    tokenizer_2 = byte_level_tokenizer(max_length=77, pad_token="!")
    with torch.device("meta") if meta else contextlib.nullcontext():
        text_encoder = build_text_encoder(tokenizer, 768, 12, 12, 77, 3072)
        text_encoder_2 = build_text_encoder(
            tokenizer_2, 1280, 32, 20, 77, 5120, hidden_act="gelu", projection_dim=1280
        )
        unet = UNet2DConditionModel(
            sample_size=128,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(320, 640, 1280),
            layers_per_block=2,
            attention_head_dim=(5, 10, 20),
            use_linear_projection=True,
            transformer_layers_per_block=(1, 2, 10),
            cross_attention_dim=2048,
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
        ).eval()
        vae = _vae((128, 256, 512, 512), 1024, layers=2, groups=32, force_upcast=True, scaling_factor=0.13025)
    scheduler = diffusers.EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG)
    return DiffusionComponents(
        "builtin:sdxl-arch",
        tokenizer,
        text_encoder,
        unet,
        vae,
        scheduler,
        tokenizer_2=tokenizer_2,
        text_encoder_2=text_encoder_2,
    )


# name -> (builder, family, native image size); the family is what `engine build --help` lists and
# `bench generate` reports; the size lets a dry run plan without building the model.
BUILTINS: dict[str, tuple[Callable[..., Any], str, tuple[int, int]]] = {
    "tiny": (build_tiny, "sd1", (32, 32)),
    "tiny-sd2": (build_tiny_sd2, "sd2", (32, 32)),
    "tiny-sdxl": (build_tiny_sdxl, "sdxl", (32, 32)),
    "tiny-lcm": (build_tiny_lcm, "sd1", (32, 32)),
    "sd15-arch": (build_sd15_arch, "sd1", (512, 512)),
    "sdxl-arch": (build_sdxl_arch, "sdxl", (1024, 1024)),
}
BUILTIN_MODELS = tuple(BUILTINS)


def build_builtin(name: str):
    return BUILTINS[name][0]()


def families_help() -> str:
    """The model families and their built-in twins, for `--help` texts (click keeps \b blocks as is)."""
    from .components import FAMILIES, FEW_STEP

    lines = ["\b", "Model families (a diffusers folder of any; built-in twins in brackets):"]
    for family, text in FAMILIES.items():
        twins = ", ".join(name for name, (_, fam, _) in BUILTINS.items() if fam == family)
        lines.append(f"  {family:5} {text} [{twins}]")
    lines.append(f"  {FEW_STEP} [tiny-lcm]")
    return "\n".join(lines)
