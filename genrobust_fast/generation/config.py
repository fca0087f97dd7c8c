"""The generation job's configuration and its identity.

    cfg = resolve_config(GenerateConfig, "gen.yaml", {"per_class": 10, "out": "gen/"})
    job_id(cfg)   # sha256 of the fields that decide which pixels land under which names

The work list, every seed and every file name are pure functions of the work-defining fields, so two
runs with the same `job_id` write the same files. Fields that only change how fast or where the work
runs (batch size, backend, device, shard) are left out of the identity.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from ..config import check_range, config_to_dict
from ..constants import MAX_SEED
from ..errors import ConfigError

STRATEGIES = ("labels", "templates", "prompts", "img2img", "variation")
IMAGE_STRATEGIES = ("img2img", "variation")  # conditioned on a real image: need --real
OUTPUT_FORMATS = ("imagefolder", "webdataset")
IMAGE_FORMATS = ("jpg", "png", "webp")
MAX_IMAGE_SIDE = 8192  # 4x the largest native size of the supported families (SDXL: 1024)
DEFAULT_SHARD_IMAGES = 10_000  # default images per job shard when nothing fixes the shard count

# Fields that define what is generated (file names, seeds, pixels, layout). Everything else is "how".
WORK_FIELDS = (
    "model",
    "classes",
    "per_class",
    "per_real",
    "strategy",
    "real",
    "prompts",
    "templates",
    "negative_prompt",
    "strength",
    "steps",
    "guidance",
    "scheduler",
    "size",
    "seed",
    "format",
    "image_format",
    "quality",
)


@dataclass(frozen=True)
class GenerateConfig:
    model: str = "tiny"
    # Which files of the model (engines/hub.py). Not part of the job's identity: the manifest records the
    # commit and weights hash they resolve to, and a resumed job must load the same ones.
    revision: str | None = None  # Hub branch, tag or commit
    variant: str | None = None  # weight-file variant, e.g. fp16
    cache_dir: str | None = None  # Hugging Face cache; None: HF_HUB_CACHE / HF_HOME
    classes: str | None = None  # imagenet | imagenet100 | FILE | DIR; None: --real's folders, else imagenet
    per_class: int = 1
    per_real: int = 1
    strategy: str = "labels"
    real: str | None = None
    prompts: str | None = None
    templates: str | None = None  # strategy templates: a file of templates; None: the 80 CLIP templates
    negative_prompt: str = ""
    strength: float = 0.75
    steps: int = 50
    guidance: float = 7.5
    scheduler: str = "pndm"
    size: tuple[int, ...] | None = None  # (H, W); None = the model's native size
    batch_size: int = 4
    backend: str = "auto"
    precision: str | None = None
    device: str = "auto"
    engine_dir: str = "engines"
    seed: int = 0
    out: str = "generated"
    format: str = "imagefolder"
    image_format: str = "jpg"
    quality: int = 95  # JPEG/WebP quality; PNG is lossless
    shards: int | None = None  # job shards (files shard-k-of-N); None: from --shard N, WORLD_SIZE or size
    shard: str | None = None  # this worker's part "K/N"; None: RANK/WORLD_SIZE or all shards
    writer_threads: int = 4
    dedup: bool = False
    dedup_distance: int = 4

    def __post_init__(self) -> None:
        def bad(field: str, value: Any, want: str) -> ConfigError:
            return ConfigError(f"{field}={value!r} is invalid; {want}")

        if self.strategy not in STRATEGIES:
            raise bad("strategy", self.strategy, f"choose one of {', '.join(STRATEGIES)}")
        if self.format not in OUTPUT_FORMATS:
            raise bad("format", self.format, f"choose one of {', '.join(OUTPUT_FORMATS)}")
        if self.image_format not in IMAGE_FORMATS:
            raise bad("image_format", self.image_format, f"choose one of {', '.join(IMAGE_FORMATS)}")
        for field in ("per_class", "per_real", "steps", "batch_size", "writer_threads"):
            if getattr(self, field) < 1:
                raise bad(field, getattr(self, field), "expected an integer >= 1")
        if not 0.0 < self.strength <= 1.0:
            raise bad("strength", self.strength, "expected 0 < strength <= 1")
        check_range("guidance", self.guidance, "[0, inf)", "values <= 1 turn classifier-free guidance off")
        check_range("seed", self.seed, f"[0, {MAX_SEED}]")
        check_range("dedup_distance", self.dedup_distance, "[0, 64]", "bits of the 64-bit perceptual hash")
        if not 1 <= self.quality <= 100:
            raise bad("quality", self.quality, "expected 1..100")
        if self.size is not None and (len(self.size) != 2 or min(self.size) <= 0):
            raise bad("size", self.size, "expected (height, width) such as 512x512")
        if self.size is not None and max(self.size) > MAX_IMAGE_SIDE:
            # A 100000x100000 request otherwise fails allocating 40 GB inside the VAE, after the model loads.
            raise bad("size", self.size, f"expected at most {MAX_IMAGE_SIDE} pixels a side")
        if self.shards is not None and self.shards < 1:
            raise bad("shards", self.shards, "expected an integer >= 1")
        if self.strategy == "prompts" and not self.prompts:
            raise ConfigError(
                "strategy 'prompts' needs a prompt file: pass --prompts FILE ('class_id<TAB>prompt' lines)"
            )
        if self.templates and self.strategy != "templates":
            raise ConfigError(
                f"--templates is read by strategy 'templates' only, not {self.strategy!r}; "
                "add --strategy templates or drop --templates"
            )
        if self.strategy in IMAGE_STRATEGIES and not self.real:
            raise ConfigError(
                f"strategy {self.strategy!r} is conditioned on real images but no --real folder was given; "
                "pass --real DIR (an ImageFolder tree <DIR>/<class_id>/<images>) or use --strategy labels"
            )
        if self.shard is not None:
            parse_shard(self.shard)

    @property
    def uses_real(self) -> bool:
        return self.strategy in IMAGE_STRATEGIES


def parse_shard(spec: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 0 <= K < N."""
    try:
        k_text, n_text = str(spec).split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise ConfigError(
            f"shard {spec!r} is not K/N; write e.g. --shard 0/8 for the first of 8 workers"
        ) from None
    if n < 1 or not 0 <= k < n:
        raise ConfigError(f"shard {spec!r} is out of range; K/N needs 0 <= K < N")
    return k, n


def work_fields(cfg: GenerateConfig, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    data = config_to_dict(cfg)
    fields = {k: data[k] for k in WORK_FIELDS}
    if cfg.strategy not in IMAGE_STRATEGIES:
        fields.pop("per_real")
        fields.pop("strength")
    if cfg.strategy == "variation":
        fields.pop("negative_prompt")
    fields.update(extra or {})
    return fields


def job_id(cfg: GenerateConfig, extra: dict[str, Any] | None = None) -> str:
    """sha256 of the work-defining fields (plus `extra`: e.g. hashes of the class and prompt files)."""
    text = json.dumps(work_fields(cfg, extra), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def manifest_config(cfg: GenerateConfig) -> dict[str, Any]:
    """The resolved config as stored in manifest.json: without the per-worker `shard` choice and without
    `out` (the manifest lives there; a moved folder stays valid)."""
    data = config_to_dict(replace(cfg, shard=None))
    data.pop("out")
    return data
