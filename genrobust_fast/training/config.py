"""Training configuration: the dataclass behind `genrobust train` and the DeepSpeed JSON config.

    cfg = resolve_config(TrainConfig, "configs/train_paper_resnet50.yaml", {"real": "real/", "out": "run/"})

The DeepSpeed JSON holds only engine settings (ZeRO stage, precision, communication); batch size, the
optimizer and the schedule come from TrainConfig so one JSON serves every experiment.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import check_range
from ..constants import MAX_SEED
from ..errors import BackendUnavailableError, ConfigError, InputError

log = logging.getLogger(__name__)

SCHEDULES = ("cosine", "linear", "constant")
# Mixed-precision training modes (DeepSpeed's bf16/fp16 switches; auto picks per device), not the engines'
# inference precisions (engines.specs.PRECISIONS, which has fp8 and no auto).
TRAINING_PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# Same content as configs/deepspeed_zero1.json (a test keeps them equal): used when --deepspeed-config is
# not given, so an installed wheel (without the repo's configs/) still trains.
DEFAULT_DEEPSPEED_CONFIG: dict[str, Any] = {
    "zero_optimization": {"stage": 1},
    "zero_allow_untested_optimizer": True,
    "gradient_clipping": 0.0,
    "steps_per_print": 1000000,
    "wall_clock_breakdown": False,
    "bf16": {"enabled": False},
    "fp16": {"enabled": False},
}


# The fields that decide what a run trains (beside the data plan, batch size and rank count, which the
# checkpoint records on their own): `--resume` with any of them changed would continue one run under
# another recipe while the model card claims the new one for all of it, so it is refused.
RECIPE_FIELDS = (
    "arch",
    "epochs",
    "image_size",
    "lr",
    "momentum",
    "nesterov",
    "weight_decay",
    "label_smoothing",
    "schedule",
    "warmup_epochs",
    "augment",
    "crop_scale",
    "seed",
)


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run; YAML keys and CLI options use these names."""

    out: str = ""
    real: str | None = None
    generated: str | None = None
    classes: str | None = None  # label space: named set, class file, or folder (default: real tree folders)
    ratio: float | None = None  # generated images per real image per epoch (None: whole generated set)
    generated_count: int | None = None
    generated_only: bool = False
    allow_missing_classes: bool = False
    allow_empty_classes: bool = False  # train classes that have no image at all (an output never trained)
    arch: str = "resnet18"
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 32  # per rank
    image_size: int = 224
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4  # applied to conv/linear weights only, never to norm layers or biases
    label_smoothing: float = 0.1
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    loader: str = "auto"
    workers: int | None = None
    augment: str = "none"
    # Smallest crop area (fraction of the image) of random-resized-crop: 0.08 is the ImageNet recipe;
    # small, centred images (the demo's 28-pixel garments) learn faster with larger crops.
    crop_scale: float = 0.08
    # NHWC batches: the layout oneDNN's (CPU) and cuDNN's convolutions are fastest in. Measured 1.3x
    # training throughput for the demo's cifar_resnet8 on 2 CPU cores.
    channels_last: bool = True
    deepspeed_config: str | None = None
    precision: str = "auto"
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    checkpoint_every: int = 0  # steps; 0 = only at the end
    log_every: int = 10
    progress: bool = True

    def recipe(self) -> dict[str, Any]:
        """The `RECIPE_FIELDS` of this config (stored in every checkpoint)."""
        return {name: getattr(self, name) for name in RECIPE_FIELDS}

    def validate(self) -> None:
        if not self.out:
            raise ConfigError("no output folder; pass --out DIR")
        if self.real is None and self.generated is None:
            raise ConfigError("no training data; pass --real DIR and/or --generated DIR")
        if self.generated_only and self.generated is None:
            raise ConfigError("--generated-only needs --generated DIR")
        for name in ("epochs", "batch_size", "image_size", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.checkpoint_every < 0:
            raise ConfigError(f"checkpoint_every must be >= 0 steps, got {self.checkpoint_every}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.precision not in TRAINING_PRECISIONS:
            raise ConfigError(
                f"unknown precision {self.precision!r}; choose one of {', '.join(TRAINING_PRECISIONS)}"
            )
        if not 0 < self.crop_scale <= 1:
            raise ConfigError(
                "crop_scale is the smallest crop area as a fraction of the image, in (0, 1]; got "
                f"{self.crop_scale}"
            )
        check_range("lr", self.lr, "(0, 3.4e38]", "the peak learning rate; fp32: past 3.4e38 it overflows")
        check_range("momentum", self.momentum, "[0, 1)")
        check_range("weight_decay", self.weight_decay, "[0, 3.4e38]", "fp32: past 3.4e38 it overflows")
        check_range("label_smoothing", self.label_smoothing, "[0, 1)")
        check_range("warmup_epochs", self.warmup_epochs, "[0, inf)")
        if self.ratio is not None:
            check_range("ratio", self.ratio, "[0, inf)", "generated images per real image per epoch")
        if self.workers is not None:
            check_range("workers", self.workers, "[0, inf)", "0 decodes in the training process")
        check_range("seed", self.seed, f"[0, {MAX_SEED}]")


def load_deepspeed_config(path: str | None) -> dict[str, Any]:
    if path is None:
        return copy.deepcopy(DEFAULT_DEEPSPEED_CONFIG)
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"DeepSpeed config {path!r} does not exist; use one of the repo's configs/deepspeed_*.json"
        )
    try:
        data = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"DeepSpeed config {path!r} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(
            f"DeepSpeed config {path!r} holds a {type(data).__name__}, not a JSON object of settings; use "
            "one of the repo's configs/deepspeed_*.json as a template"
        )
    for key in ("optimizer", "scheduler"):
        if key in data:
            raise InputError(
                f"DeepSpeed config {path!r} sets {key!r}; the optimizer and schedule come from the training"
                " config (--lr, schedule, warmup_epochs). Remove that section"
            )
    return data


def resolve_precision(
    requested: str, ds_config: dict[str, Any], device_type: str, bf16_supported: bool
) -> str:
    """fp32 / bf16 / fp16: explicit choice, else the JSON's, else bf16 (or fp16) on GPUs and fp32 on CPUs."""
    from_json = (
        "bf16"
        if ds_config.get("bf16", {}).get("enabled")
        else "fp16"
        if ds_config.get("fp16", {}).get("enabled")
        else None
    )
    precision = requested if requested != "auto" else from_json
    if precision is None:
        precision = ("bf16" if bf16_supported else "fp16") if device_type == "cuda" else "fp32"
    if precision == "fp16" and device_type != "cuda":
        raise BackendUnavailableError("fp16 training needs a GPU; on a CPU use --precision bf16 or fp32")
    if precision == "bf16" and device_type == "cuda" and not bf16_supported:
        raise BackendUnavailableError("this GPU has no bf16; use --precision fp16 or fp32")
    return precision


def engine_config(
    ds_config: dict[str, Any], precision: str, batch_size: int, world_size: int
) -> dict[str, Any]:
    """The JSON with batch sizes and precision filled in from the training config."""
    config = copy.deepcopy(ds_config)
    accumulation = int(config.get("gradient_accumulation_steps", 1))
    if accumulation != 1:
        # The sampler position and checkpoints count optimizer steps; accumulation would split them.
        raise InputError(
            f"gradient_accumulation_steps={accumulation} is not supported; remove it and raise --batch-size "
            "or the number of ranks instead"
        )
    config["train_micro_batch_size_per_gpu"] = batch_size
    config["gradient_accumulation_steps"] = accumulation
    config["train_batch_size"] = batch_size * accumulation * world_size
    config["bf16"] = {**config.get("bf16", {}), "enabled": precision == "bf16"}
    config["fp16"] = {**config.get("fp16", {}), "enabled": precision == "fp16"}
    config.setdefault("zero_allow_untested_optimizer", True)
    config.setdefault("steps_per_print", 1000000)
    zero = config.get("zero_optimization") or {}
    if world_size == 1 and zero.get("stage") in (1, 2):
        # ZeRO 1/2 partition optimizer state and gradients over ranks; one rank has nothing to partition,
        # and the flat fp32 copies cost ~40 % of a resnet18 step on a 2-core CPU. (Resuming needs the same
        # number of ranks anyway, so a run never meets its checkpoint under another stage.)
        log.info("one rank: ZeRO stage %s partitions nothing, running stage 0", zero["stage"])
        config["zero_optimization"] = {**zero, "stage": 0}
    return config
