"""Diffusion model components: a local Stable Diffusion folder, a Hub id, or a built-in model made in code.

    comps = load_components("tiny")            # a few MB, seeded random weights, no files
    comps = load_components("sd15-arch")       # exact SD 1.5 architecture, random weights (benchmarks)
    # a diffusers folder: unet/ vae/ text_encoder/ tokenizer/ scheduler/
    comps = load_components("/models/sd15")
    # a Hub id: resolved into the HF cache (engines/hub.py), then loaded like a folder
    comps = load_components("stable-diffusion-v1-5/stable-diffusion-v1-5", revision="main", variant="fp16")
    save_components(comps, "/tmp/tiny-sd")     # a diffusers folder that from_pretrained loads

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

BUILTIN_MODELS = ("tiny", "sd15-arch")

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
    extra: dict[str, Any] = field(default_factory=dict)
    source: Any = None  # hub.ModelSource (Hub id, commit, variant) set by load_components; else None

    @property
    def revision(self) -> str | None:
        """The Hub commit the weights were loaded from (None: a folder or a built-in model)."""
        return getattr(self.source, "commit", None)

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
            "image_encoder": self.image_encoder,
        }
        return {k: v for k, v in found.items() if v is not None}

    def to(self, device=None, dtype=None) -> DiffusionComponents:
        if dtype is not None:
            self.weights_hash()  # identity is the weights as loaded: hash them before the first cast
        for module in self.modules().values():
            # Cast only modules of another dtype: diffusers warns on every dtype cast, even a no-op one.
            current = next(module.parameters(), None)
            if dtype is None or (current is not None and current.dtype == dtype):
                module.to(device=device)
            else:
                module.to(device=device, dtype=dtype)
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


def load_components(
    model: str | Path,
    torch_dtype=None,
    *,
    revision: str | None = None,
    variant: str | None = None,
    cache_dir: str | Path | None = None,
) -> DiffusionComponents:
    """A built-in model name, a local diffusers Stable Diffusion folder, or a Hub id (`owner/name`,
    resolved by `hub.resolve_model` at `revision`, with `variant` weight files, in the HF cache)."""
    from .hub import resolve_model

    source = resolve_model(model, revision, variant, cache_dir, builtins=BUILTIN_MODELS)
    if str(model) == "tiny":
        comps = build_tiny()
    elif str(model) == "sd15-arch":
        comps = build_sd15_arch()
    else:
        comps = load_folder(Path(source.folder or model), variant)
        if source.is_hub:
            comps.model_id = source.repo_id  # the id, not the cache path: the same on every machine
    comps.source = source
    if torch_dtype is not None:
        comps.to(dtype=torch_dtype)
    return comps


# --- built-in models ------------------------------------------------------------------------------


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


def byte_level_tokenizer(max_length: int):
    """A CLIP BPE tokenizer with a character-level vocabulary and no merges, built without files."""
    from transformers import CLIPTokenizer

    chars = sorted(set(_byte_alphabet()))
    vocab: dict[str, int] = {}
    for token in chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]:
        vocab.setdefault(token, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def build_text_encoder(
    tokenizer, hidden: int, layers: int, heads: int, max_positions: int, intermediate: int
):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=max_positions,
        projection_dim=hidden,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModel(config).eval()


def build_tiny(seed: int = 0, cross_attention_dim: int = 32) -> DiffusionComponents:
    """A few-MB model in the SD layout: 16×16 latents → 32×32 images, every part a real diffusers class."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    tokenizer = byte_level_tokenizer(max_length=32)
    text_encoder = build_text_encoder(
        tokenizer, cross_attention_dim, layers=2, heads=4, max_positions=32, intermediate=64
    )
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=16,
    ).eval()
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=16,
        sample_size=32,
    ).eval()
    image_encoder = CLIPVisionModelWithProjection(
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
    feature_extractor = CLIPImageProcessor(crop_size={"height": 32, "width": 32}, size={"shortest_edge": 32})
    scheduler = PNDMScheduler.from_config(SD_SCHEDULER_CONFIG)
    return DiffusionComponents(
        "builtin:tiny", tokenizer, text_encoder, unet, vae, scheduler, image_encoder, feature_extractor
    )


def build_sd15_arch(seed: int = 0) -> DiffusionComponents:
    """Stable Diffusion v1.5's exact UNet/VAE/CLIP-L text encoder architecture with random weights.

    Throughput does not depend on the weights, so benchmarks use this without downloading anything.
    The tokenizer is character-level (same 77-token length); its output is only used as ids.
    """
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel

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
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=2,
        sample_size=512,
    ).eval()
    scheduler = PNDMScheduler.from_config(SD_SCHEDULER_CONFIG)
    return DiffusionComponents("builtin:sd15-arch", tokenizer, text_encoder, unet, vae, scheduler)


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
    """A diffusers Stable Diffusion folder (SD 1.x/2.x, or an image-variation model), offline; `variant`
    picks weight files such as unet/diffusion_pytorch_model.fp16.safetensors."""
    if not root.is_dir():
        raise InputError(
            f"model {str(root)!r} is neither a built-in model ({', '.join(BUILTIN_MODELS)}) nor a folder; "
            "pass a local diffusers Stable Diffusion folder"
        )
    missing = [s for s in REQUIRED_SUBFOLDERS if not (root / s).is_dir()]
    has_text = all((root / s).is_dir() for s in TEXT_SUBFOLDERS)
    has_image = (root / "image_encoder").is_dir()
    if not has_text and not has_image:
        missing.append("text_encoder/ + tokenizer/ (or image_encoder/ for a variation model)")
    if missing:
        raise InputError(
            f"model folder {str(root)!r} lacks {', '.join(missing)}; expected the diffusers layout "
            "unet/ vae/ text_encoder/ tokenizer/ scheduler/ (as written by save_pretrained)"
        )
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPTextModel, CLIPTokenizer, CLIPVisionModelWithProjection

    def load(cls, sub, **kw):
        if variant and sub in ("unet", "vae", "text_encoder", "image_encoder"):  # only weights have variants
            kw["variant"] = variant
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
        scheduler=load(PNDMScheduler, "scheduler"),
        image_encoder=load(CLIPVisionModelWithProjection, "image_encoder").eval() if has_image else None,
        feature_extractor=load(CLIPImageProcessor, "feature_extractor")
        if (root / "feature_extractor").is_dir()
        else None,
    )
    return comps


def save_components(comps: DiffusionComponents, root: str | Path) -> Path:
    """Write a diffusers folder (StableDiffusionPipeline layout, plus image_encoder/ when present)."""
    from diffusers import StableDiffusionPipeline

    root = Path(root)
    pipe = StableDiffusionPipeline(
        vae=comps.vae,
        text_encoder=comps.text_encoder,
        tokenizer=comps.tokenizer,
        unet=comps.unet,
        scheduler=comps.scheduler,
        safety_checker=None,
        feature_extractor=comps.feature_extractor,
        image_encoder=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(root, safe_serialization=True)
    if comps.image_encoder is not None:
        comps.image_encoder.save_pretrained(root / "image_encoder", safe_serialization=True)
    return root
