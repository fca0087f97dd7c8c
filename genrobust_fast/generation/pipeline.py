"""Our denoising loop over any backend's `ComponentRunners`, step for step the diffusers recipe.

    runners = create_runners(load_components("tiny"), backend="torch")
    pipe = GenerationPipeline(runners, scheduler="dpm++", steps=25, guidance=7.5)
    images = pipe.generate([Request("a photo of a tench", seed=1), Request("a photo of a goldfish", seed=2)])
    pixels = kernels.to_uint8(images)        # (B, H, W, 3) uint8, as diffusers' output_type="pil"

Parity with diffusers (fp32, torch backend, CPU): each image's initial noise comes from its own CPU
`torch.Generator(seed)` drawing a (1, C, h, w) tensor, exactly as diffusers does when given one
generator per image; a stochastic scheduler step receives the same list of generators; img2img encodes
the image and draws the VAE sample and the forward noise from that generator in diffusers' order. So
an image does not depend on the batch it was generated in. A fresh scheduler is made for every batch
because schedulers carry state (PNDM's ets, DPM-Solver's model outputs, step index).

Every family goes through this one loop: what differs (SDXL's two text encoders, pooled embeddings and
time ids; an LCM UNet's guidance embedding) is the conditioning (`conditioning.py`), handed to the UNet as
its spec's added inputs; v-prediction lives in the schedulers, which read `prediction_type` themselves.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..engines.latent_space import to_unet_latents, to_vae_latents
from ..errors import InputError
from .conditioning import PromptEncoder, added_conditioning, doubles_batch
from .schedulers import create_scheduler, resolve_scheduler_name, scheduler_advice, scheduler_record

log = logging.getLogger(__name__)

MODES = ("text", "img2img", "variation")


@dataclass
class Request:
    """One image to make: text prompt (None for variations), seed, and an optional RGB PIL source image."""

    prompt: str | None
    seed: int
    negative_prompt: str = ""
    image: Any = None


@dataclass
class StageTimes:
    seconds: dict[str, float] = field(
        default_factory=lambda: {"text": 0.0, "image": 0.0, "unet": 0.0, "decode": 0.0}
    )

    def add(self, stage: str, started: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


class GenerationPipeline:
    """Text-to-image, img2img or image variation on `runners`; `generate` returns images in [-1, 1]."""

    def __init__(
        self,
        runners,
        scheduler: str = "pndm",
        steps: int = 50,
        guidance: float = 7.5,
        size: tuple[int, int] | None = None,
        mode: str = "text",
        strength: float = 0.75,
        text_cache_size: int = 1024,
    ):
        if mode not in MODES:
            raise InputError(f"mode {mode!r} is unknown; choose one of {', '.join(MODES)}")
        self.runners = runners
        self.components = runners.components
        self.scheduler_name = resolve_scheduler_name(scheduler, runners.components.scheduler)
        self.steps = steps
        self.guidance = guidance
        self.mode = mode
        self.strength = strength
        comps = self.components
        self.vae_scale_factor = comps.vae_scale_factor
        self.height, self.width = size or comps.default_size
        if self.height % self.vae_scale_factor or self.width % self.vae_scale_factor:
            raise InputError(
                f"size {self.height}x{self.width} is not a multiple of the VAE's factor "
                f"{self.vae_scale_factor}; "
                f"use e.g. {self.height // self.vae_scale_factor * self.vae_scale_factor}x"
                f"{self.width // self.vae_scale_factor * self.vae_scale_factor}"
            )
        self.latent_shape = (
            comps.latent_channels,
            self.height // self.vae_scale_factor,
            self.width // self.vae_scale_factor,
        )
        if mode == "variation" and (comps.image_encoder is None or comps.feature_extractor is None):
            raise InputError(
                f"model {comps.model_id!r} has no image_encoder/feature_extractor, which strategy "
                "'variation' needs; use an image-variation model folder (image_encoder/ + "
                "feature_extractor/)"
            )
        if mode != "variation" and comps.tokenizer is None:
            raise InputError(
                f"model {comps.model_id!r} has no text encoder; it only supports strategy 'variation'"
            )
        if mode == "img2img" and int(steps * strength) < 1:
            raise InputError(
                f"strength {strength} x steps {steps} leaves no denoising step; raise --strength or --steps"
            )
        self.scheduler = create_scheduler(
            self.scheduler_name, comps.scheduler.config
        )  # validates the name now
        for advice in scheduler_advice(comps.scheduler, self.scheduler, steps):
            log.warning("%s", advice)
        self._step_params = set(inspect.signature(self.scheduler.step).parameters)
        self.times = StageTimes()
        self.prompts = (
            PromptEncoder(runners, text_cache_size, self.times) if comps.tokenizer is not None else None
        )
        self._pipeline_class = comps.pipeline_class(mode)  # SDXL has no variation pipeline: refused here
        self.image_processor = None
        if mode == "img2img":
            from diffusers.image_processor import VaeImageProcessor

            self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor)

    @property
    def do_guidance(self) -> bool:
        """As diffusers: guidance <= 1 means no unconditional pass, and so does a UNet that takes the
        guidance as an embedding (LCM's time_cond_proj_dim)."""
        return doubles_batch(self.components, self.guidance)

    @property
    def pipeline_class(self) -> str:
        return self._pipeline_class

    def describe(self) -> dict[str, Any]:
        """The settings a diffusers user needs to reproduce an image (plus the per-image fields)."""
        return {
            "pipeline_class": self.pipeline_class,
            "scheduler_class": scheduler_record(self.scheduler)["class"],
            "scheduler_config": scheduler_record(self.scheduler)["config"],
            "steps": self.steps,
            "guidance": self.guidance,
            "height": self.height,
            "width": self.width,
            "strength": self.strength if self.mode == "img2img" else None,
        }

    # -- conditioning ----------------------------------------------------------------------------
    def condition(self, requests: Sequence[Request]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(context, added UNet inputs) for the UNet batch of `requests`: unconditional half first."""
        if self.mode == "variation":
            started = time.perf_counter()
            pixels = self.components.feature_extractor(
                images=[r.image for r in requests], return_tensors="pt"
            ).pixel_values
            embeds = self.runners.encode_image(pixels.to(self.runners.device, self.runners.dtype)).unsqueeze(
                1
            )
            embeds = embeds.to(self.runners.dtype)
            self.times.add("image", started)
            return (torch.cat([torch.zeros_like(embeds), embeds]) if self.do_guidance else embeds), {}
        if any(r.prompt is None for r in requests):
            raise InputError("a text-conditioned request has no prompt")
        context, pooled = self.prompts.encode([r.prompt for r in requests])  # type: ignore[union-attr,misc]
        if self.do_guidance:
            neg, neg_pooled = self.prompts.negative([r.negative_prompt or "" for r in requests])  # type: ignore[union-attr]
            context = torch.cat([neg, context])
            pooled = None if pooled is None else torch.cat([neg_pooled, pooled])  # type: ignore[list-item]
        added = added_conditioning(
            self.components,
            pooled,
            (self.height, self.width),
            self.guidance,
            context.shape[0],
            self.runners.dtype,
            self.runners.device,
        )
        return context, added

    # -- the loop --------------------------------------------------------------------------------
    def _noise(self, generators: Sequence[torch.Generator]) -> torch.Tensor:
        """One (1, C, h, w) draw per image from its own CPU generator, as diffusers' randn_tensor does."""
        draws = [
            torch.randn((1, *self.latent_shape), generator=g, dtype=self.runners.dtype) for g in generators
        ]
        return torch.cat(draws).to(self.runners.device)

    def _initial_latents(self, scheduler, requests, generators) -> tuple[torch.Tensor, torch.Tensor]:
        scheduler.set_timesteps(self.steps, device=self.runners.device)
        if self.mode != "img2img":
            return self._noise(generators) * scheduler.init_noise_sigma, scheduler.timesteps
        # diffusers' StableDiffusionImg2ImgPipeline.get_timesteps + prepare_latents, same RNG order
        init_timestep = min(int(self.steps * self.strength), self.steps)
        t_start = max(self.steps - init_timestep, 0)
        timesteps = scheduler.timesteps[t_start * scheduler.order :]
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(t_start * scheduler.order)
        started = time.perf_counter()
        images = self.image_processor.preprocess([r.image for r in requests])  # type: ignore[union-attr]
        moments = self.runners.encode_vae(images.to(self.runners.device, self.runners.dtype))
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        samples = [
            DiagonalGaussianDistribution(moments[i : i + 1]).sample(generators[i])
            for i in range(len(requests))
        ]
        init = to_unet_latents(torch.cat(samples), self.components.vae.config)
        self.times.add("image", started)
        noise = self._noise(generators)
        latent_timestep = timesteps[:1].repeat(len(requests))
        return scheduler.add_noise(init, noise, latent_timestep), timesteps

    @torch.inference_mode()
    def denoise(self, requests: Sequence[Request]) -> torch.Tensor:
        """Final latents (B, C, h, w) for `requests`."""
        if self.mode in ("img2img", "variation") and any(r.image is None for r in requests):
            raise InputError(f"mode {self.mode!r} needs a source image in every request")
        context, added = self.condition(requests)
        generators = [torch.Generator("cpu").manual_seed(int(r.seed)) for r in requests]
        scheduler = create_scheduler(self.scheduler_name, self.components.scheduler.config)
        latents, timesteps = self._initial_latents(scheduler, requests, generators)
        extra = {"generator": generators} if "generator" in self._step_params else {}
        batch = len(requests) * (2 if self.do_guidance else 1)
        started = time.perf_counter()
        for t in timesteps:
            model_input = torch.cat([latents] * 2) if self.do_guidance else latents
            model_input = scheduler.scale_model_input(model_input, t)
            noise = self.runners.unet(model_input, t.expand(batch), context, **added)
            if self.do_guidance:
                uncond, text = noise.chunk(2)
                noise = uncond + self.guidance * (text - uncond)
            latents = scheduler.step(noise, t, latents, **extra, return_dict=False)[0]
        self._sync()
        self.times.add("unet", started)
        return latents

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float32 CPU images in about [-1, 1]."""
        started = time.perf_counter()
        images = self.runners.decode_vae(to_vae_latents(latents, self.components.vae.config))
        images = images.to("cpu", torch.float32).contiguous()
        self.times.add("decode", started)
        return images

    def generate(self, requests: Sequence[Request]) -> torch.Tensor:
        return self.decode(self.denoise(requests))

    def _sync(self) -> None:
        if self.runners.device.type == "cuda":
            torch.cuda.synchronize(self.runners.device)


def load_source_image(path, size: tuple[int, int], mode: str):
    """A real image as RGB PIL; for img2img resized to (H, W) with LANCZOS, diffusers' resampling.

    Variations keep the original: the CLIP feature extractor resizes and crops it itself.
    """
    from PIL import Image

    from ..data.decode import open_rgb
    from ..errors import DatasetError

    try:
        image = open_rgb(path, f"real image {str(path)!r}")
    except DatasetError as exc:
        raise InputError(str(exc)) from exc
    if mode == "img2img" and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), resample=Image.LANCZOS)
    return image
