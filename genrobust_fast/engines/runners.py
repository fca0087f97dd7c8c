"""The one call every backend exposes to the denoising pipeline.

A `ComponentRunners` runs the tensor functions of a diffusion model. The generation pipeline
only ever calls these, so torch, ONNX Runtime and TensorRT are interchangeable and can be proven
equal by comparing the same calls (see tests/engines/test_parity.py):

    encode_text(input_ids)            (B, L) int64          -> (B, L, D) last hidden state (SDXL: penultimate)
    encode_text_2(input_ids)          (B, L) int64          -> SDXL's second encoder: ((B, L, D2) penultimate
                                                               hidden state, (B, P) pooled projection)
    unet(sample, timestep, context, **added)
                                      (B, C, h, w), (B,), (B, L, D) -> (B, C, h, w) model output (noise or v);
                                      added: SDXL text_embeds (B, P) + time_ids (B, 6), LCM timestep_cond
    decode_vae(latents)               (B, C, h, w) already / scaling_factor -> (B, 3, H, W) in ~[-1, 1]
    encode_vae(images)                (B, 3, H, W) in [-1, 1] -> (B, 2C, h, w) moments (mean, logvar)
    encode_image(pixel_values)        (B, 3, S, S) CLIP-normalised -> (B, D) image embeddings

Inputs and outputs are torch tensors on `self.device`; a backend converts at its own boundary.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InputError
from .components import DiffusionComponents


def text_encoder_outputs(encoder, input_ids, penultimate: bool):
    """What the pipeline takes from a CLIP text encoder, for torch and for the ONNX export alike: the last
    hidden state (SD 1.x/2.x), or SDXL's penultimate one and, from CLIPTextModelWithProjection, its pooled
    projection (diffusers' StableDiffusionXLPipeline.encode_prompt with clip_skip=None)."""
    if not penultimate:
        return (encoder(input_ids, return_dict=False)[0],)
    out = encoder(input_ids, output_hidden_states=True)
    pooled = getattr(out, "text_embeds", None)
    return (out.hidden_states[-2],) if pooled is None else (out.hidden_states[-2], pooled)


def call_unet(unet, sample, timestep, context, **added):
    """A diffusers UNet on our inputs: SDXL's text_embeds/time_ids as added_cond_kwargs, LCM's
    timestep_cond as such (torch runners, the ONNX export and the UNet benchmark call this)."""
    conds = {k: added[k] for k in ("text_embeds", "time_ids") if k in added}
    return unet(
        sample,
        timestep,
        encoder_hidden_states=context,
        added_cond_kwargs=conds or None,
        timestep_cond=added.get("timestep_cond"),
        return_dict=False,
    )[0]


class ComponentRunners:
    """Base class; `TorchRunners` is the reference every other backend is compared with."""

    backend = "abstract"

    def __init__(self, components: DiffusionComponents, device: torch.device, dtype: torch.dtype):
        self.components = components
        self.device = torch.device(device)
        self.dtype = dtype

    @property
    def precision(self) -> str:
        return {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[self.dtype]

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "precision": self.precision, "device": str(self.device)}

    def encode_text(self, input_ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode_text_2(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def unet(
        self, sample: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor, **added: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def decode_vae(self, latents: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode_vae(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class GraphRunners(ComponentRunners):
    """A backend that runs each component as one exported graph (ONNX Runtime, TensorRT): every runner
    call is `_run(component name, *inputs)` (which casts inputs to the graph's declared dtypes), with the
    timestep broadcast over the batch as diffusers does. A backend sets `engine_precision` (the engines'
    Precision) and `records` (component -> the EngineRecord it runs)."""

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["precision"] = self.engine_precision.value
        out["engines"] = {name: str(rec.path) for name, rec in self.records.items()}
        return out

    def _run(self, component: str, *tensors: torch.Tensor):
        """The component's output, or the tuple of its outputs when its spec has several."""
        raise NotImplementedError

    @torch.inference_mode()
    def encode_text(self, input_ids):
        return self._run("text_encoder", input_ids)

    @torch.inference_mode()
    def encode_text_2(self, input_ids):
        return self._run("text_encoder_2", input_ids)

    @torch.inference_mode()
    def unet(self, sample, timestep, context, **added):
        if timestep.dim() == 0:
            timestep = timestep.expand(sample.shape[0])
        names = self.specs["unet"].input_names[3:]
        if sorted(names) != sorted(added):
            raise InputError(
                f"the UNet of {self.components.model_id!r} takes added inputs {names}, got {sorted(added)}"
            )
        return self._run("unet", sample, timestep, context, *(added[n] for n in names))

    @torch.inference_mode()
    def decode_vae(self, latents):
        return self._run("vae_decoder", latents)

    @torch.inference_mode()
    def encode_vae(self, images):
        return self._run("vae_encoder", images)

    @torch.inference_mode()
    def encode_image(self, pixel_values):
        return self._run("image_encoder", pixel_values)


class TorchRunners(ComponentRunners):
    """Eager PyTorch (optionally torch.compile'd UNet on a GPU)."""

    backend = "torch"

    def __init__(self, components, device="cpu", dtype=torch.float32, compile_unet: bool = False):
        super().__init__(components, device, dtype)
        # SDXL's VAE overflows in fp16: it stays fp32 (diffusers' force_upcast), cast from the weights as
        # loaded rather than from an fp16 copy as diffusers' upcast_vae() does.
        self.vae_dtype = torch.float32 if components.vae_needs_fp32 else dtype
        components.to(
            device=self.device, dtype=dtype, keep_fp32=("vae",) if components.vae_needs_fp32 else ()
        )
        self._unet = components.unet
        if compile_unet:
            self._unet = torch.compile(components.unet, mode="max-autotune-no-cudagraphs", fullgraph=False)

    @torch.inference_mode()
    def encode_text(self, input_ids):
        penultimate = self.components.text_encoder_2 is not None
        return text_encoder_outputs(self.components.text_encoder, input_ids.to(self.device), penultimate)[0]

    @torch.inference_mode()
    def encode_text_2(self, input_ids):
        return text_encoder_outputs(self.components.text_encoder_2, input_ids.to(self.device), True)

    @torch.inference_mode()
    def unet(self, sample, timestep, context, **added):
        return call_unet(self._unet, sample, timestep, context, **added)

    @torch.inference_mode()
    def decode_vae(self, latents):
        out = self.components.vae.decode(latents.to(self.vae_dtype), return_dict=False)[0]
        return out.to(self.dtype)

    @torch.inference_mode()
    def encode_vae(self, images):
        return self.components.vae.encode(images.to(self.vae_dtype)).latent_dist.parameters.to(self.dtype)

    @torch.inference_mode()
    def encode_image(self, pixel_values):
        return self.components.image_encoder(pixel_values).image_embeds
