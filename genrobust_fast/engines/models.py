"""Diffusion model components: a local Stable Diffusion folder (SD 1.x, 2.x, SDXL, few-step), a Hub id
(resolved into the HF cache by `hub.py`, then loaded like a folder), or a built-in model made in code
(`builtin.py`).

    comps = load_components("tiny")            # a few MB, seeded random weights, no files
    comps = load_components("sdxl-arch")       # exact SDXL architecture, random weights (benchmarks)
    # a diffusers folder: unet/ vae/ text_encoder/ tokenizer/ scheduler/ (+ text_encoder_2/ tokenizer_2/)
    comps = load_components("/models/sd15")
    comps = load_components("stable-diffusion-v1-5/stable-diffusion-v1-5", revision="main", variant="fp16")
    comps.family                               # "sd1", "sd2" or "sdxl"
    save_components(comps, "/tmp/tiny-sd")     # a diffusers folder that from_pretrained loads
    diffusers_pipeline(comps, "StableDiffusionXLPipeline")  # diffusers' own pipeline on these modules

Built-in models need no download, so tests, demos and GPU throughput benchmarks run offline.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from ..errors import InputError
from .components import DiffusionComponents
from .hub import WEIGHT_FOLDERS, holds_weights

log = logging.getLogger(__name__)


def load_components(
    model: str | Path,
    torch_dtype=None,
    *,
    revision: str | None = None,
    variant: str | None = None,
    cache_dir: str | Path | None = None,
) -> DiffusionComponents:
    """A built-in model name (`builtin.BUILTINS`), a local diffusers folder, or a Hub id (`owner/name`,
    resolved by `hub.resolve_model` at `revision`, with `variant` weight files, in the HF cache)."""
    from .builtin import BUILTIN_MODELS, BUILTINS, build_builtin
    from .hub import resolve_model

    source = resolve_model(model, revision, variant, cache_dir, builtins=BUILTIN_MODELS)
    if str(model) in BUILTINS:
        comps = build_builtin(str(model))
    else:
        comps = load_folder(Path(source.folder or model), variant)
        if source.is_hub:
            comps.model_id = source.repo_id  # the id, not the cache path: the same on every machine
    comps.source = source
    if torch_dtype is not None:
        comps.to(dtype=torch_dtype)
    return comps


# --- folders --------------------------------------------------------------------------------------

REQUIRED_SUBFOLDERS = ("unet", "vae", "scheduler")
TEXT_SUBFOLDERS = ("text_encoder", "tokenizer")
IMAGE_SUBFOLDERS = ("image_encoder", "feature_extractor")


@contextlib.contextmanager
def _quiet_hub_loading():
    """Silence what diffusers/transformers print per load (weight-loading bars, the advice to install
    `accelerate`): a job loads a model once per process, and real errors still raise."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    levels = diffusers_logging.get_verbosity(), transformers_logging.get_verbosity()
    bars = transformers_logging.is_progress_bar_enabled()
    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        diffusers_logging.set_verbosity(levels[0])
        transformers_logging.set_verbosity(levels[1])
        if bars:
            transformers_logging.enable_progress_bar()


def load_folder(root: Path, variant: str | None = None) -> DiffusionComponents:
    """A diffusers folder (SD 1.x/2.x, SDXL, an image-variation model), offline; the scheduler is the
    class its scheduler_config.json names (an LCM model ships LCMScheduler); `variant` picks weight files
    such as unet/diffusion_pytorch_model.fp16.safetensors."""
    from .builtin import BUILTIN_MODELS

    if not root.is_dir():
        raise InputError(
            f"model {str(root)!r} is neither a built-in model ({', '.join(BUILTIN_MODELS)}) nor a folder; "
            "pass a local diffusers Stable Diffusion folder"
        )
    missing = [s for s in REQUIRED_SUBFOLDERS if not (root / s).is_dir()]
    has_text = all((root / s).is_dir() for s in TEXT_SUBFOLDERS)
    has_text_2 = all((root / f"{s}_2").is_dir() for s in TEXT_SUBFOLDERS)
    has_image = (root / "image_encoder").is_dir()
    if has_text_2 and not has_text:  # before the generic check, which would call it a broken folder
        raise InputError(
            f"model folder {str(root)!r} has text_encoder_2/ but no text_encoder/ (an SDXL refiner?); "
            "genrobust-fast generates with SDXL base-layout models, which have both"
        )
    if not has_text and not has_image:
        missing.append("text_encoder/ + tokenizer/ (or image_encoder/ for a variation model)")
    if missing:
        raise InputError(
            f"model folder {str(root)!r} lacks {', '.join(missing)}; expected the diffusers layout "
            "unet/ vae/ text_encoder/ tokenizer/ scheduler/ (as written by save_pretrained)"
        )
    weight_folders = [root / sub for sub in WEIGHT_FOLDERS if (root / sub).is_dir()]
    if variant and not any(holds_weights(folder, variant) for folder in weight_folders):
        # As diffusers: a variant no component has is a mistake, not a reason to load plain weights.
        raise InputError(
            f"model folder {str(root)!r} has no {variant!r} variant weights (*.{variant}.safetensors) in "
            f"any of {', '.join(f.name + '/' for f in weight_folders)}; drop --variant or pass the one its "
            "files have"
        )
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import (
        CLIPImageProcessor,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
        CLIPVisionModelWithProjection,
        PreTrainedModel,
    )

    def load(cls, sub, **kw):
        # Only weights have variants, and a folder without the variant's files loads its plain weights
        # (diffusers' per-component fallback; `hub.plain_weight_folders` names them for provenance).
        if variant and sub in WEIGHT_FOLDERS and holds_weights(root / sub, variant):
            kw["variant"] = variant
        if isinstance(cls, type) and issubclass(cls, PreTrainedModel):
            # transformers 5 loads in the files' dtype ("auto"), diffusers in fp32: an fp16 variant's text
            # encoder came out fp16 beside an fp32 UNet. A variant picks files; the runner picks the dtype.
            kw["dtype"] = torch.float32
        try:
            with _quiet_hub_loading():
                return cls.from_pretrained(root, subfolder=sub, local_files_only=True, **kw)
        except Exception as exc:  # report which component is broken, not a deep stack
            raise InputError(f"cannot load {sub}/ of {str(root)!r}: {type(exc).__name__}: {exc}") from exc

    comps = DiffusionComponents(
        model_id=str(root.resolve()),
        tokenizer=load(CLIPTokenizer, "tokenizer") if has_text else None,
        text_encoder=load(CLIPTextModel, "text_encoder").eval() if has_text else None,
        unet=load(UNet2DConditionModel, "unet").eval(),
        vae=load(AutoencoderKL, "vae").eval(),
        scheduler=load(_scheduler_class(root), "scheduler"),
        image_encoder=load(CLIPVisionModelWithProjection, "image_encoder").eval() if has_image else None,
        feature_extractor=load(CLIPImageProcessor, "feature_extractor")
        if (root / "feature_extractor").is_dir()
        else None,
        tokenizer_2=load(CLIPTokenizer, "tokenizer_2") if has_text_2 else None,
        text_encoder_2=load(CLIPTextModelWithProjection, "text_encoder_2").eval() if has_text_2 else None,
    )
    index = _read_json(root / "model_index.json")
    if "force_zeros_for_empty_prompt" in index:
        comps.extra["force_zeros_for_empty_prompt"] = bool(index["force_zeros_for_empty_prompt"])
    _refuse_extra_unet_inputs(comps, root)
    return comps


def _refuse_extra_unet_inputs(comps: DiffusionComponents, root: Path) -> None:
    """An inpainting UNet takes 9 channels (latents, mask, masked image), a depth one 5, an upscaler 7:
    they load like any other and then fail deep in the first denoising step. Refused here by name."""
    unet_in, vae_out = comps.unet.config.in_channels, comps.vae.config.latent_channels
    if unet_in != vae_out:
        kinds = {9: "an inpainting model", 5: "a depth-to-image model", 7: "an upscaler"}
        raise InputError(
            f"model folder {str(root)!r}: its UNet takes {unet_in} input channels but its VAE makes "
            f"{vae_out} ({kinds.get(unet_in, 'a model conditioned on extra images')}, which needs inputs "
            "genrobust-fast does not send); use a text-to-image model of the same family"
        )


def _read_json(path: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read {str(path)!r} ({exc}); re-save the model with save_pretrained"
        ) from exc


def _scheduler_class(root: Path):
    """The diffusers scheduler class scheduler/scheduler_config.json names (PNDM when it names none)."""
    import diffusers

    name = _read_json(root / "scheduler" / "scheduler_config.json").get("_class_name", "PNDMScheduler")
    cls = getattr(diffusers, str(name), None)
    if not (isinstance(cls, type) and str(name).endswith("Scheduler")):
        raise InputError(
            f"scheduler/ of {str(root)!r} names {name!r}, which is not a diffusers scheduler class; "
            "fix its scheduler_config.json `_class_name`"
        )
    return cls


def diffusers_pipeline(comps: DiffusionComponents, pipeline_class: str, scheduler=None):
    """diffusers' own `pipeline_class` on these very modules (no safety checker, no watermark): the
    reference our parity checks and `save_components` use, the one place such a pipeline is built."""
    import diffusers

    cls = getattr(diffusers, pipeline_class)
    parts: dict[str, Any] = {"vae": comps.vae, "unet": comps.unet, "scheduler": scheduler or comps.scheduler}
    if pipeline_class.startswith("StableDiffusionXL"):
        parts.update(
            text_encoder=comps.text_encoder,
            text_encoder_2=comps.text_encoder_2,
            tokenizer=comps.tokenizer,
            tokenizer_2=comps.tokenizer_2,
            force_zeros_for_empty_prompt=comps.force_zeros_for_empty_prompt,
            add_watermarker=False,  # the invisible watermark changes pixels; we record, not mark
        )
    else:
        parts.update(
            safety_checker=None, feature_extractor=comps.feature_extractor, requires_safety_checker=False
        )
        if pipeline_class == "StableDiffusionImageVariationPipeline":
            parts["image_encoder"] = comps.image_encoder
        else:
            parts.update(text_encoder=comps.text_encoder, tokenizer=comps.tokenizer)
    pipe = cls(**parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_components(comps: DiffusionComponents, root: str | Path) -> Path:
    """Write a diffusers folder (StableDiffusion[XL]Pipeline layout, plus image_encoder/ when present)."""
    root = Path(root)
    pipe = diffusers_pipeline(comps, comps.pipeline_class("text"))
    pipe.save_pretrained(root, safe_serialization=True)
    if comps.image_encoder is not None:
        comps.image_encoder.save_pretrained(root / "image_encoder", safe_serialization=True)
    return root
