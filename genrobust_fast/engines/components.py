"""The modules of one diffusion model and what identifies them: `DiffusionComponents` (its family, its
diffusers pipeline class per mode, fp32 needs) and the one weights hasher. Built by `builtin` (models made
in code) and `models` (folders); nothing here imports either.

    comps.family                  # "sd1", "sd2" or "sdxl"
    comps.pipeline_class("img2img")  # "StableDiffusionImg2ImgPipeline" / "StableDiffusionXLImg2ImgPipeline"
    comps.weights_hash()          # sha256 of every module's weights as loaded
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError

FAMILIES = {
    "sd1": "Stable Diffusion 1.x (one CLIP text encoder, epsilon prediction)",
    "sd2": "Stable Diffusion 2.x (OpenCLIP text encoder, v-prediction at 768 px)",
    "sdxl": "SDXL (two text encoders, pooled embeddings and time ids; fp32 VAE decode)",
}
# The few-step schedules any family takes (generation/schedulers.py): guidance 0, or an LCM UNet's
# guidance embedding, drops the unconditional batch, so their engines are built with --no-guidance.
FEW_STEP = (
    "few-step: generate --scheduler lcm or turbo, 1-4 steps; guidance 0 (Turbo) or an LCM UNet's "
    "w-embedding: build with --no-guidance"
)

# (family is SDXL, mode) -> the diffusers pipeline class that generates the same images.
PIPELINE_CLASSES = {
    (False, "text"): "StableDiffusionPipeline",
    (False, "img2img"): "StableDiffusionImg2ImgPipeline",
    (False, "variation"): "StableDiffusionImageVariationPipeline",
    (True, "text"): "StableDiffusionXLPipeline",
    (True, "img2img"): "StableDiffusionXLImg2ImgPipeline",
}


@dataclass
class DiffusionComponents:
    """The modules of one text/image-to-image diffusion model, in eval mode."""

    model_id: str
    tokenizer: Any
    text_encoder: Any
    unet: Any
    vae: Any
    scheduler: Any
    image_encoder: Any = None  # CLIPVisionModelWithProjection, for image variations
    feature_extractor: Any = None  # CLIPImageProcessor that prepares images for image_encoder
    tokenizer_2: Any = None  # SDXL: the OpenCLIP tokenizer ("!" padding)
    text_encoder_2: Any = None  # SDXL: CLIPTextModelWithProjection (penultimate states + pooled)
    extra: dict[str, Any] = field(default_factory=dict)
    source: Any = None  # hub.ModelSource (Hub id, commit, variant) set by load_components; else None

    @property
    def revision(self) -> str | None:
        """The Hub commit the weights were loaded from (None: a folder or a built-in model)."""
        return getattr(self.source, "commit", None)

    @property
    def family(self) -> str:
        """The family: sdxl (a second text encoder), sd2 (linear attention projections) or sd1."""
        if self.text_encoder_2 is not None:
            return "sdxl"
        return "sd2" if getattr(self.unet.config, "use_linear_projection", False) else "sd1"

    @property
    def force_zeros_for_empty_prompt(self) -> bool:
        """SDXL's pipeline option (model_index.json, default True): an empty negative prompt is zeros."""
        return bool(self.extra.get("force_zeros_for_empty_prompt", True))

    @property
    def vae_needs_fp32(self) -> bool:
        """The VAE asks to run in fp32 (SDXL's overflows in fp16): diffusers' `force_upcast`. The fp16-fix
        VAE (madebyollin/sdxl-vae-fp16-fix) sets it False, and then the VAE runs at the job's precision."""
        return bool(getattr(self.vae.config, "force_upcast", False)) and self.family == "sdxl"

    def pipeline_class(self, mode: str) -> str:
        key = (self.family == "sdxl", mode)
        if key not in PIPELINE_CLASSES:
            raise InputError(f"{self.family} models have no {mode!r} mode; use text or img2img")
        return PIPELINE_CLASSES[key]

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def latent_channels(self) -> int:
        return self.unet.config.in_channels

    @property
    def default_size(self) -> tuple[int, int]:
        side = self.unet.config.sample_size * self.vae_scale_factor
        return side, side

    def modules(self) -> dict[str, Any]:
        found = {
            "unet": self.unet,
            "vae": self.vae,
            "text_encoder": self.text_encoder,
            "text_encoder_2": self.text_encoder_2,
            "image_encoder": self.image_encoder,
        }
        return {k: v for k, v in found.items() if v is not None}

    def to(self, device=None, dtype=None, keep_fp32: tuple[str, ...] = ()) -> DiffusionComponents:
        """Move (and cast) every module; the modules named in `keep_fp32` stay fp32 (SDXL's VAE)."""
        import torch

        if dtype is not None:
            self.weights_hash()  # identity is the weights as loaded: hash them before the first cast
        for name, module in self.modules().items():
            want = torch.float32 if name in keep_fp32 and dtype is not None else dtype
            # Cast only modules of another dtype: diffusers warns on every dtype cast, even a no-op one.
            current = next(module.parameters(), None)
            if want is None or (current is not None and current.dtype == want):
                module.to(device=device)
            else:
                module.to(device=device, dtype=want)
        return self

    def weights_hash(self) -> str:
        """sha256 of every module's parameters and buffers as loaded (before any runner's cast), memoised.

        `load_components` computes it before casting, and `to(dtype=...)` before the first cast, so an
        fp32 and an fp16 runner of the same weights report the same hash. A caller that changes the
        weights (finetuning) calls `forget_weights_hash()` to have them hashed again.
        """
        if WEIGHTS_HASH not in self.extra:
            total, per_module = hash_modules(self.modules())
            self.extra[WEIGHTS_HASH] = total
            self.extra.update({f"{WEIGHTS_HASH}:{name}": digest for name, digest in per_module.items()})
        return self.extra[WEIGHTS_HASH]

    def module_hash(self, module: str) -> str:
        """sha256 of one module's weights as loaded (engines key on it: a new UNet keeps the VAE engines)."""
        self.weights_hash()
        return self.extra[f"{WEIGHTS_HASH}:{module}"]

    def forget_weights_hash(self) -> None:
        for key in [k for k in self.extra if k == WEIGHTS_HASH or k.startswith(WEIGHTS_HASH + ":")]:
            del self.extra[key]


WEIGHTS_HASH = "weights_hash"


def hash_modules(modules: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The one weights hasher: (sha256 over all modules, {module: sha256 of that module}), in one pass.

    Each tensor contributes its name, shape, dtype and bytes exactly as held (no cast), modules in
    name order; the whole-model digest is the one `weights_hash` has always recorded in manifests.
    """
    import torch

    total = hashlib.sha256()
    per_module = {}
    for name in sorted(modules):
        digest = hashlib.sha256()
        for key, tensor in sorted(modules[name].state_dict().items()):
            t = tensor.detach().cpu().contiguous()
            head = f"{name}.{key}:{tuple(t.shape)}:{t.dtype}".encode()
            body = t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b""  # no copy of the bytes
            for d in (total, digest):
                d.update(head)
                d.update(body)
        per_module[name] = digest.hexdigest()
    return total.hexdigest(), per_module
