"""Diffusion model components: a local Stable Diffusion folder (SD 1.x, 2.x, SDXL, few-step), or a
built-in model made in code (`builtin.py`).

    comps = load_components("tiny")            # a few MB, seeded random weights, no files
    comps = load_components("sdxl-arch")       # exact SDXL architecture, random weights (benchmarks)
    # a diffusers folder: unet/ vae/ text_encoder/ tokenizer/ scheduler/ (+ text_encoder_2/ tokenizer_2/)
    comps = load_components("/models/sd15")
    comps.family                               # "sd1", "sd2" or "sdxl"
    save_components(comps, "/tmp/tiny-sd")     # a diffusers folder that from_pretrained loads
    diffusers_pipeline(comps, "StableDiffusionXLPipeline")  # diffusers' own pipeline on these modules

Built-in models need no download, so tests, demos and GPU throughput benchmarks run offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

log = logging.getLogger(__name__)

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

    @property
    def family(self) -> str:
        """ "sdxl" (a second text encoder), "sd2" (linear attention projections) or "sd1"."""
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


def load_components(model: str | Path, torch_dtype=None) -> DiffusionComponents:
    """A built-in model name (`builtin.BUILTINS`) or a local diffusers Stable Diffusion folder."""
    from .builtin import BUILTINS

    comps = BUILTINS[str(model)][0]() if str(model) in BUILTINS else load_folder(Path(model))
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


def load_folder(root: Path) -> DiffusionComponents:
    """A diffusers folder (SD 1.x/2.x, SDXL, an image-variation model), offline; the scheduler is the
    class its scheduler_config.json names (an LCM model ships LCMScheduler)."""
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
    if not has_text and not has_image:
        missing.append("text_encoder/ + tokenizer/ (or image_encoder/ for a variation model)")
    if missing:
        raise InputError(
            f"model folder {str(root)!r} lacks {', '.join(missing)}; expected the diffusers layout "
            "unet/ vae/ text_encoder/ tokenizer/ scheduler/ (as written by save_pretrained)"
        )
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import (
        CLIPImageProcessor,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
        CLIPVisionModelWithProjection,
    )

    def load(cls, sub, **kw):
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
    if comps.text_encoder_2 is not None and comps.text_encoder is None:
        raise InputError(
            f"model folder {str(root)!r} has text_encoder_2/ but no text_encoder/ (an SDXL refiner?); "
            "genrobust-fast generates with SDXL base-layout models, which have both"
        )
    return comps


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
